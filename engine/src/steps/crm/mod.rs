//! `crm`: create or update records in the tenant's CRM.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::steps::{ActionDraft, CheckCx, StepCx, StepError, StepKind, StepOutcome};

/// What to do in the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "CrmAction")]
pub enum Action {
    /// Create or update the contact (matched by email, else phone).
    UpsertContact,
    /// Add a note to the contact.
    AddNote,
    /// Create a deal for the contact.
    CreateDeal,
    /// Move the contact's open deal to another stage.
    UpdateDealStage,
}

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
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        let required: &[&str] = match config.action {
            Action::AddNote => &["body"],
            Action::CreateDeal => &["name"],
            Action::UpdateDealStage => &["stage"],
            Action::UpsertContact => &[],
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
            connector: "crm",
            action: json!(config.action).as_str().unwrap_or_default().to_owned(),
            payload: json!({ "fields": fields }),
            message: None,
            idempotent: config.action == Action::UpsertContact,
        }))
    }
}
