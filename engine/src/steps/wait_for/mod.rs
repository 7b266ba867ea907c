//! `wait_for`: pause until an event arrives for the contact, or a timeout.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::model::FlowDuration;
use crate::steps::{CheckCx, StepCx, StepError, StepKind, StepOutcome};

/// Wait for an event for this contact. `steps.<id>` becomes `{ received, timed_out, event }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "WaitForConfig")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The event type, e.g. `appointment.booked`.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"))]
    pub event: String,
    /// A rhai condition on the arriving event, bound as `incoming`.
    #[serde(default, rename = "match")]
    #[schemars(with = "String")]
    pub match_: Option<String>,
    /// Stop waiting after this long and go on with `timed_out: true`.
    #[serde(default)]
    #[schemars(with = "FlowDuration")]
    pub timeout: Option<FlowDuration>,
}

pub struct WaitFor;

impl StepKind for WaitFor {
    const KEY: &'static str = "wait_for";
    const SUMMARY: &'static str = "Wait for an event for the contact, with a timeout.";
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        if let Err(message) = crate::model::check_event_type(&config.event) {
            cx.error("event", message);
        }
        if let Some(condition) = &config.match_ {
            cx.expression("match", condition, &["incoming"]);
        }
        if config.timeout.is_none() {
            cx.warning(
                "",
                "no timeout: the run waits until the event arrives, possibly forever",
            );
        }
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let timeout_at = match config.timeout {
            Some(duration) => Some(
                cx.now
                    .to_zoned(cx.zone().clone())
                    .checked_add(duration.to_span())
                    .map(|z| z.timestamp())
                    .map_err(|e| StepError {
                        field: "timeout".into(),
                        message: e.to_string(),
                    })?,
            ),
            None => None,
        };
        Ok(StepOutcome::WaitFor {
            event: config.event.clone(),
            timeout_at,
            filtered: config.match_.is_some(),
        })
    }
}

#[cfg(test)]
mod tests;
