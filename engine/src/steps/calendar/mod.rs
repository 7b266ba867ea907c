//! `calendar`: find slots and book, move or cancel appointments.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::ports::Request;
use crate::steps::{ActionDraft, CheckCx, StepCx, StepError, StepKind, StepOutcome};
pub use stepwise_core::CalendarAction as Action;
use stepwise_core::CalendarCall;

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
    const OUTPUTS: &'static [&'static str] =
        &["status", "action", "slots", "booking_id", "sandbox"];
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        let required: &[&str] = match config.action {
            Action::FindSlots => &["from", "to"],
            Action::Book => &["start"],
            Action::Reschedule => &["booking_id", "start"],
            Action::Cancel => &["booking_id"],
        };
        cx.field_templates("fields", config.action.as_str(), &config.fields, required);
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let fields = cx.render_fields("fields", &config.fields)?;
        Ok(StepOutcome::Call(Box::new(ActionDraft {
            request: Request::Calendar(CalendarCall {
                action: config.action,
                fields,
            }),
            message: None,
            idempotent: config.action == Action::FindSlots,
            sender_pool: None,
        })))
    }
}
