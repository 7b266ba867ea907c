//! `stop`: end the run here, as completed.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::steps::{CheckCx, StepCx, StepError, StepKind, StepOutcome};

/// The reason recorded for ending the run (template), e.g. `stop: "Booked already"`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "StopConfig")]
#[serde(transparent)]
pub struct Config(pub String);

pub struct Stop;

impl StepKind for Stop {
    const KEY: &'static str = "stop";
    const SUMMARY: &'static str = "End the run here.";
    const OUTPUTS: &'static [&'static str] = &[];
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        cx.template("", &config.0);
    }

    fn plan(_: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        Ok(StepOutcome::Stop(cx.render("")?))
    }
}
