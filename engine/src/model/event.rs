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
