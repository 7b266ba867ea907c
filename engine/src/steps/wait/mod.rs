//! `wait`: pause the run for a duration or until a computed time.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::model::FlowDuration;
use crate::steps::{CheckCx, StepCx, StepError, StepKind, StepOutcome};

/// What `until` does when the time has already passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IfPast {
    /// Go on at once; `steps.<id>.past` is true so later steps can tell.
    #[default]
    Continue,
    /// End the run.
    Stop,
}

/// Pause: `for` a duration (days are calendar days in the contact's zone), or `until` a time
/// computed by a rhai expression such as `event.data.start_at - hours(24)`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "WaitConfig")]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["for"]}, {"required": ["until"]}]))]
pub struct Config {
    /// How long to wait, e.g. `15m`, `2d`.
    #[serde(default, rename = "for")]
    #[schemars(with = "FlowDuration")]
    pub for_: Option<FlowDuration>,
    /// A rhai expression giving an RFC 3339 time.
    #[serde(default)]
    #[schemars(with = "String")]
    pub until: Option<String>,
    /// With `until`: continue (default) or stop when the time has passed.
    #[serde(default)]
    pub if_past: IfPast,
}

pub struct Wait;

/// The longest a run may wait: longer is a mistake (a year off by a thousand, a unit mixed
/// up), and a timer the business would never see fire.
pub const MAX_WAIT_DAYS: i64 = 1_826;

pub(crate) fn too_far(field: &str) -> StepError {
    StepError {
        field: field.into(),
        message: format!(
            "the wait would end more than {MAX_WAIT_DAYS} days (5 years) from now; a wait lasts \
             at most that (is the time in the right year and the unit right?)"
        ),
    }
}

impl StepKind for Wait {
    const KEY: &'static str = "wait";
    const SUMMARY: &'static str = "Pause for a duration or until a time.";
    const OUTPUTS: &'static [&'static str] = &["until", "past"];
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        match (&config.for_, &config.until) {
            (Some(_), Some(_)) => cx.error("", "use either `for` or `until`, not both"),
            (None, None) => cx.error(
                "",
                "say how long to wait: `for: 15m` or `until: <expression>`",
            ),
            (None, Some(until)) => cx.expression("until", until, &[]),
            (Some(duration), None) => {
                if duration.approx_seconds() > MAX_WAIT_DAYS * 86_400 {
                    cx.error("for", too_far("for").message);
                }
            }
        }
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let until = match (&config.for_, &config.until) {
            (Some(duration), _) => {
                let zoned = cx.now.to_zoned(cx.zone().clone());
                zoned
                    .checked_add(duration.to_span())
                    .map(|z| z.timestamp())
                    .map_err(|_| too_far("for"))?
            }
            (None, Some(_)) => {
                let value = cx.eval("until")?;
                let text = value.as_str().ok_or_else(|| StepError {
                    field: "until".into(),
                    message: format!("the expression gave {value}, not a time"),
                })?;
                text.parse::<Timestamp>().map_err(|_| StepError {
                    field: "until".into(),
                    message: format!("\"{text}\" is not an RFC 3339 time"),
                })?
            }
            (None, None) => {
                return Err(StepError {
                    field: "for".into(),
                    message: "no duration".into(),
                });
            }
        };
        let latest = cx
            .now
            .checked_add(jiff::SignedDuration::from_hours(MAX_WAIT_DAYS * 24))
            .unwrap_or(Timestamp::MAX);
        if until > latest {
            return Err(too_far(if config.for_.is_some() {
                "for"
            } else {
                "until"
            }));
        }
        let until_text = crate::expr::format_time(until);
        if until > cx.now {
            return Ok(StepOutcome::Sleep {
                until,
                output: json!({ "until": until_text, "past": false }),
            });
        }
        match config.if_past {
            IfPast::Continue => Ok(StepOutcome::Next(
                json!({ "until": until_text, "past": true }),
            )),
            IfPast::Stop => Ok(StepOutcome::Stop(format!(
                "wait until {until_text} had already passed"
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
