//! `set`: compute values into `vars.*`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::steps::{CheckCx, StepCx, StepError, StepKind, StepOutcome};

/// Variable names and the rhai expressions whose values they get, e.g. `score: 'event.data.score * 2'`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "SetConfig")]
#[serde(transparent)]
pub struct Config(
    #[schemars(extend("minProperties" = 1, "propertyNames" = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}))]
    pub BTreeMap<String, String>,
);

pub struct Set;

impl StepKind for Set {
    const KEY: &'static str = "set";
    const SUMMARY: &'static str = "Compute values into vars.";
    const OUTPUTS: &'static [&'static str] = &[];
    type Config = Config;

    fn outputs(config: &Config) -> Vec<String> {
        config.0.keys().cloned().collect()
    }

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        for (name, expression) in &config.0 {
            let field = crate::steps::context::escape(name);
            cx.expression(&field, expression, &[]);
            // Values are computed in name order, not as written: one that reads a sibling
            // would depend on how the names sort, so it is refused (versions stored before
            // keep the name order they ran with).
            if !cx.checks_new_rules() {
                continue;
            }
            let siblings = crate::steps::context::references(expression, "vars.")
                .filter(|read| *read != name && config.0.contains_key(*read));
            for sibling in siblings {
                cx.error(
                    &field,
                    format!(
                        "vars.{sibling} is set by this same step, which computes its values in no \
                         order you can rely on: set {name} in a later `set` step"
                    ),
                );
            }
        }
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        // In name order, each stored as it is computed: what versions stored before the
        // sibling rule ran with (for newer ones no value reads another, so order is moot).
        let mut output = serde_json::Map::new();
        for name in config.0.keys() {
            let value = cx.eval(&crate::steps::context::escape(name))?;
            cx.set_var(name, value.clone());
            output.insert(name.clone(), value);
        }
        Ok(StepOutcome::Next(Value::Object(output)))
    }
}

#[cfg(test)]
mod tests;
