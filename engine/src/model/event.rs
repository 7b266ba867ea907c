//! An immutable fact that can start, resume or cancel runs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An event (`event.*` in expressions and templates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Dotted type, e.g. `lead.created`, `appointment.booked`, `x.custom`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Free-form payload.
    #[serde(default)]
    pub data: Value,
    /// Where it came from (`api`, `twilio`, `calcom`, `simulator`, ...).
    #[serde(default = "default_source")]
    pub source: String,
    /// The source's id for the event, used to drop duplicates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// When it happened; defaults to when it was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<jiff::Timestamp>,
}

fn default_source() -> String {
    "api".into()
}

impl Event {
    pub fn new(event_type: impl Into<String>, data: Value) -> Self {
        Self {
            event_type: event_type.into(),
            data,
            source: default_source(),
            external_id: None,
            occurred_at: None,
        }
    }
}

/// Checks the documented form of an event type: dotted lowercase words (`lead.created`,
/// `x.my_event`), at most 100 characters. The message does not repeat the value.
pub fn check_event_type(event_type: &str) -> Result<(), String> {
    let word = |w: &str| {
        w.starts_with(|c: char| c.is_ascii_lowercase())
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let mut words = event_type.split('.');
    let dotted = event_type.contains('.') && words.all(word);
    if dotted && event_type.len() <= 100 {
        Ok(())
    } else {
        Err(
            "an event type is dotted lowercase words, e.g. lead.created or x.my_event \
             (letters, digits and _; at most 100 characters)"
                .into(),
        )
    }
}

/// Every event type a flow reacts to: its trigger, `cancel_on`, and each `wait_for`.
pub fn event_types_of(flow: &super::Flow) -> Vec<&str> {
    fn steps<'f>(list: &'f [super::Step], out: &mut Vec<&'f str>) {
        for step in list {
            for (_, nested) in step.nested() {
                steps(nested, out);
            }
            match &step.body {
                super::StepBody::Kind { key, config } if key == "wait_for" => {
                    match config.get("event") {
                        Some(serde_json::Value::Array(types)) => {
                            out.extend(types.iter().filter_map(serde_json::Value::as_str));
                        }
                        other => out.extend(other.and_then(serde_json::Value::as_str)),
                    }
                }
                _ => {}
            }
        }
    }
    let mut out: Vec<&str> = flow.trigger.event.iter().map(String::as_str).collect();
    out.extend(flow.cancel_on.iter().map(String::as_str));
    steps(&flow.steps, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::check_event_type;

    #[test]
    fn event_types_are_dotted_lowercase() {
        for good in ["lead.created", "x.my_event", "appointment.booked2", "a.b.c"] {
            assert!(check_event_type(good).is_ok(), "{good}");
        }
        for bad in [
            "Lead.Created",
            "lead",
            "lead.",
            ".lead",
            "lead created",
            "lead..x",
            "lead.2x",
            "",
        ] {
            assert!(check_event_type(bad).is_err(), "{bad}");
        }
    }
}
