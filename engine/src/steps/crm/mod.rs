//! `crm`: create or update records in the tenant's CRM.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::ports::Request;
use crate::steps::{ActionDraft, CheckCx, StepCx, StepError, StepKind, StepOutcome};
pub use stepwise_core::CrmAction as Action;
use stepwise_core::CrmCall;

/// Write to the tenant's CRM. The result becomes `steps.<id>`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "CrmConfig")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// upsert_contact, add_note, create_deal or update_deal_stage.
    pub action: Action,
    /// The record's fields; every string is a template.
    #[serde(default)]
    pub fields: Map<String, Value>,
}

pub struct Crm;

impl StepKind for Crm {
    const KEY: &'static str = "crm";
    const SUMMARY: &'static str = "Create or update CRM records.";
    const OUTPUTS: &'static [&'static str] = &["status", "action", "id", "sandbox"];
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        let required: &[&str] = match config.action {
            Action::AddNote => &["body"],
            Action::CreateDeal => &["name"],
            Action::UpdateDealStage => &["stage"],
            Action::UpsertContact => &[],
        };
        cx.field_templates("fields", config.action.as_str(), &config.fields, required);
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let mut fields = cx.render_fields("fields", &config.fields)?;
        if config.action == Action::UpsertContact {
            // A blank never overwrites what the CRM knows (a lead who left no phone).
            fields.retain(|_, value| value.as_str().is_none_or(|s| !s.trim().is_empty()));
        }
        Ok(StepOutcome::Call(Box::new(ActionDraft {
            request: Request::Crm(CrmCall {
                action: config.action,
                fields,
            }),
            message: None,
            idempotent: config.action == Action::UpsertContact,
            sender_pool: None,
        })))
    }
}
