//! `calendar`: find slots and book, move or cancel appointments.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::steps::{ActionDraft, CheckCx, StepCx, StepError, StepKind, StepOutcome};

/// What to do in the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "CalendarAction")]
pub enum Action {
    /// List free slots (`from`, `to`, optional `duration`).
    FindSlots,
    /// Book an appointment (`start`, optional `duration`, `title`).
    Book,
    /// Move an appointment (`booking_id`, `start`).
    Reschedule,
    /// Cancel an appointment (`booking_id`).
    Cancel,
}

/// Work with the tenant's booking calendar. The result becomes `steps.<id>`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "CalendarConfig")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// find_slots, book, reschedule or cancel.
    pub action: Action,
    /// The action's inputs; every string is a template.
    #[serde(default)]
    pub fields: Map<String, Value>,
}

pub struct Calendar;

impl StepKind for Calendar {
    const KEY: &'static str = "calendar";
    const SUMMARY: &'static str = "Find slots, book, reschedule or cancel appointments.";
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        let required: &[&str] = match config.action {
            Action::FindSlots => &["from", "to"],
            Action::Book => &["start"],
            Action::Reschedule => &["booking_id", "start"],
            Action::Cancel => &["booking_id"],
        };
        let action = json!(config.action);
        cx.field_templates(
            "fields",
            action.as_str().unwrap_or_default(),
            &config.fields,
            required,
        );
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let fields = cx.render_fields("fields", &config.fields)?;
        Ok(StepOutcome::Call(ActionDraft {
            connector: "calendar",
            action: json!(config.action).as_str().unwrap_or_default().to_owned(),
            payload: json!({ "fields": fields }),
            message: None,
            idempotent: config.action == Action::FindSlots,
        }))
    }
}
