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
            cx.expression(&crate::steps::context::escape(name), expression, &[]);
        }
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
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
