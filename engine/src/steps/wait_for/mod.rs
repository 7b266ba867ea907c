//! `wait_for`: pause until an event arrives for the contact, or a timeout.

use schemars::JsonSchema;
use serde::Deserialize;

use jiff::Timestamp;

use crate::model::FlowDuration;
use crate::steps::wait::{MAX_WAIT_DAYS, too_far};
use crate::steps::{CheckCx, StepCx, StepError, StepKind, StepOutcome};

/// The most event types one wait listens for.
pub const MAX_EVENT_TYPES: usize = 8;

/// One event type, or several: the first of any of them to arrive ends the wait. (Their form
/// is checked with the flow, not by the schema, whose `anyOf` would word it poorly.)
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EventTypes {
    One(String),
    Many(Vec<String>),
}

impl EventTypes {
    pub fn all(&self) -> &[String] {
        match self {
            EventTypes::One(t) => std::slice::from_ref(t),
            EventTypes::Many(types) => types,
        }
    }
}

/// Wait for an event for this contact, until a `timeout` or an `until` time.
/// `steps.<id>` becomes `{ received, timed_out, event }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "WaitForConfig")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The event type, e.g. `appointment.booked`, or a list of them (`[link.clicked,
    /// message.received]`): the first to arrive ends the wait, and `event.type` says which.
    pub event: EventTypes,
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
        let types = config.event.all();
        if types.is_empty() || types.len() > MAX_EVENT_TYPES {
            cx.error(
                "event",
                format!("wait for 1 to {MAX_EVENT_TYPES} event types"),
            );
        }
        for (i, event_type) in types.iter().enumerate() {
            let field = match config.event {
                EventTypes::One(_) => "event".to_owned(),
                EventTypes::Many(_) => format!("event/{i}"),
            };
            if let Err(message) = crate::model::check_event_type(event_type) {
                cx.error(&field, message);
            }
            if types[..i].contains(event_type) {
                cx.error(&field, format!("{event_type} is listed twice"));
            }
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
        let (first, more) = config.event.all().split_first().ok_or_else(|| StepError {
            field: "event".into(),
            message: "no event type to wait for".into(),
        })?;
        Ok(StepOutcome::WaitFor {
            event: first.clone(),
            or: more.to_vec(),
            timeout_at,
            filtered: config.match_.is_some(),
        })
    }
}

#[cfg(test)]
mod tests;
