//! `tag`: add or remove contact tags.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::steps::{CheckCx, StepCx, StepError, StepKind, StepOutcome};

/// Tags to add to and remove from the contact (templates).
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "TagConfig")]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct Config {
    /// Tags to add.
    #[serde(default)]
    pub add: Vec<String>,
    /// Tags to remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

pub struct Tag;

impl StepKind for Tag {
    const KEY: &'static str = "tag";
    const SUMMARY: &'static str = "Add or remove contact tags.";
    const OUTPUTS: &'static [&'static str] = &["added", "removed"];
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        for (i, tag) in config.add.iter().enumerate() {
            cx.template(&format!("add/{i}"), tag);
        }
        for (i, tag) in config.remove.iter().enumerate() {
            cx.template(&format!("remove/{i}"), tag);
        }
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let add = (0..config.add.len())
            .map(|i| cx.render(&format!("add/{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        let remove = (0..config.remove.len())
            .map(|i| cx.render(&format!("remove/{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        cx.update_contact(|contact| {
            contact.tags.retain(|t| !remove.contains(t));
            for tag in &add {
                if !contact.tags.contains(tag) {
                    contact.tags.push(tag.clone());
                }
            }
        });
        Ok(StepOutcome::Next(
            json!({ "added": add, "removed": remove }),
        ))
    }
}
