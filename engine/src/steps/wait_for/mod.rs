//! `wait_for`: pause until an event arrives for the contact, or a timeout.

use schemars::JsonSchema;
use serde::Deserialize;

use jiff::Timestamp;

use crate::model::FlowDuration;
use crate::steps::wait::{MAX_WAIT_DAYS, too_far};
use crate::steps::{CheckCx, StepCx, StepError, StepKind, StepOutcome};

/// Wait for an event for this contact, until a `timeout` or an `until` time.
/// `steps.<id>` becomes `{ received, timed_out, event }`.
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
    /// Stop waiting at this time instead: a rhai expression giving an RFC 3339 time, e.g.
    /// `now + days(config.reply_window_days)` or `event.data.start_at - hours(2)`. A time
    /// already past times out at once.
    #[serde(default)]
    #[schemars(with = "String")]
    pub until: Option<String>,
}

pub struct WaitFor;

impl StepKind for WaitFor {
    const KEY: &'static str = "wait_for";
    const SUMMARY: &'static str = "Wait for an event for the contact, with a timeout.";
    const OUTPUTS: &'static [&'static str] = &["received", "timed_out", "event"];
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        if let Err(message) = crate::model::check_event_type(&config.event) {
            cx.error("event", message);
        }
        if let Some(condition) = &config.match_ {
            cx.expression("match", condition, &["incoming"]);
        }
        match (&config.timeout, &config.until) {
            (Some(_), Some(_)) => cx.error("", "use either `timeout` or `until`, not both"),
            (None, Some(until)) => cx.expression("until", until, &[]),
            (Some(duration), None) => {
                if duration.approx_seconds() > MAX_WAIT_DAYS * 86_400 {
                    cx.error("timeout", too_far("timeout").message);
                }
            }
            (None, None) => cx.warning(
                "",
                "no timeout: the run waits until the event arrives, possibly forever",
            ),
        }
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let timeout_at = match (&config.timeout, &config.until) {
            (Some(duration), _) => Some(
                cx.now
                    .to_zoned(cx.zone().clone())
                    .checked_add(duration.to_span())
                    .map(|z| z.timestamp())
                    .map_err(|e| StepError {
                        field: "timeout".into(),
                        message: e.to_string(),
                    })?,
            ),
            (None, Some(_)) => {
                let value = cx.eval("until")?;
                let text = value.as_str().ok_or_else(|| StepError {
                    field: "until".into(),
                    message: format!("the expression gave {value}, not a time"),
                })?;
                let until = text.parse::<Timestamp>().map_err(|_| StepError {
                    field: "until".into(),
                    message: format!("\"{text}\" is not an RFC 3339 time"),
                })?;
                let latest = cx
                    .now
                    .checked_add(jiff::SignedDuration::from_hours(MAX_WAIT_DAYS * 24))
                    .unwrap_or(Timestamp::MAX);
                if until > latest {
                    return Err(too_far("until"));
                }
                // A time already past times out at once.
                Some(until.max(cx.now))
            }
            (None, None) => None,
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
