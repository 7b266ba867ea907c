//! `update_contact`: change the contact's fields.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::steps::{CheckCx, StepCx, StepError, StepKind, StepOutcome};

/// Fields to change (strings are templates; a custom field the tenant declared is stored as
/// its type). Opt-outs can be set, never cleared, by a flow
/// (or by an operator through the API): opting back in is the contact's own act (START).
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "UpdateContactConfig")]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct Config {
    #[serde(default)]
    #[schemars(with = "String")]
    pub first_name: Option<String>,
    #[serde(default)]
    #[schemars(with = "String")]
    pub last_name: Option<String>,
    #[serde(default)]
    #[schemars(with = "String")]
    pub email: Option<String>,
    /// IANA time zone, e.g. `America/Denver`.
    #[serde(default)]
    #[schemars(with = "String")]
    pub timezone: Option<String>,
    /// `true` opts the contact out of SMS.
    #[serde(default)]
    #[schemars(with = "bool", extend("const" = true))]
    pub sms_opt_out: Option<bool>,
    /// `true` opts the contact out of email.
    #[serde(default)]
    #[schemars(with = "bool", extend("const" = true))]
    pub email_opt_out: Option<bool>,
    /// Custom fields; every string is a template.
    #[serde(default)]
    pub fields: Map<String, Value>,
}

pub struct UpdateContact;

const TEXT_FIELDS: [&str; 4] = ["first_name", "last_name", "email", "timezone"];

fn text_field<'c>(config: &'c Config, name: &str) -> Option<&'c String> {
    match name {
        "first_name" => config.first_name.as_ref(),
        "last_name" => config.last_name.as_ref(),
        "email" => config.email.as_ref(),
        _ => config.timezone.as_ref(),
    }
}

impl StepKind for UpdateContact {
    const KEY: &'static str = "update_contact";
    const SUMMARY: &'static str = "Change the contact's fields.";
    const OUTPUTS: &'static [&'static str] = &["changed"];
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        for name in TEXT_FIELDS {
            if let Some(text) = text_field(config, name) {
                cx.template(name, text);
            }
        }
        if let Some(zone) = &config.timezone
            && !zone.contains("{{")
            && jiff::tz::TimeZone::get(zone).is_err()
        {
            cx.error(
                "timezone",
                format!("\"{zone}\" is not a known time zone (e.g. America/Chicago)"),
            );
        }
        cx.field_templates("fields", "update_contact", &config.fields, &[]);
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let mut changed = serde_json::Map::new();
        for name in TEXT_FIELDS {
            if text_field(config, name).is_some() {
                changed.insert(name.into(), Value::String(cx.render(name)?));
            }
        }
        let mut custom = cx.render_fields("fields", &config.fields)?;
        // A declared field holds its type whoever writes it (an import, the API, a flow):
        // "1,250" rendered into a number field is 1250; "soon" is refused, naming it.
        crate::audience::fields::type_fields(cx.custom_fields, &mut custom).map_err(|message| {
            StepError {
                field: "fields".into(),
                message,
            }
        })?;
        let text = |key: &str| changed.get(key).and_then(Value::as_str).map(str::to_owned);
        let (first, last, email, zone) = (
            text("first_name"),
            text("last_name"),
            text("email"),
            text("timezone"),
        );
        cx.update_contact(|contact| {
            contact.first_name = first.or(contact.first_name.take());
            contact.last_name = last.or(contact.last_name.take());
            contact.email = email.or(contact.email.take());
            contact.timezone = zone.or(contact.timezone.take());
            contact.sms_opt_out |= config.sms_opt_out == Some(true);
            contact.email_opt_out |= config.email_opt_out == Some(true);
            contact.fields.extend(custom.clone());
        });
        changed.insert("fields".into(), Value::Object(custom));
        Ok(StepOutcome::Next(json!({ "changed": changed })))
    }
}

#[cfg(test)]
mod tests;
