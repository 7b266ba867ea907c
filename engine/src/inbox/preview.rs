//! A template rendered for a contact before anyone sends it: the text as the contact would
//! read it, its SMS segments and encoding, and every `contact.*` value it names that the
//! contact lacks (empty in the preview; a send refuses such a text).

use serde::Serialize;
use serde_json::Value;

use super::reply::render_for;
use crate::error::EngineError;
use crate::model::{Contact, Tenant};
use crate::ports::Channel;
use crate::steps::references::references;
use crate::template::{Segments, limits};

/// What a template renders to for one contact.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Preview {
    pub text: String,
    pub subject: Option<String>,
    pub characters: usize,
    /// SMS only: the parts it is sent in, and `GSM-7` or `UCS-2`.
    pub segments: Option<usize>,
    pub encoding: Option<String>,
    /// The contact's values the text names and the contact lacks, e.g. `contact.first_name`.
    pub missing: Vec<String>,
}

/// The `contact.*` names in `source` that `contact` has no value for.
fn missing(source: &str, contact: &Value) -> Vec<String> {
    let lacks = |v: &Value| v.is_null() || v.as_str().is_some_and(str::is_empty);
    let mut out: Vec<String> = references(source, "contact.")
        .filter(|name| *name != "fields" && lacks(&contact[*name]))
        .map(|name| format!("contact.{name}"))
        .chain(
            references(source, "contact.fields.")
                .filter(|name| lacks(&contact["fields"][*name]))
                .map(|name| format!("contact.fields.{name}")),
        )
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Renders `body` (and an email's `subject`) for `contact` as a send on `channel` would.
pub fn preview(
    tenant: &Tenant,
    contact: &Contact,
    channel: Channel,
    body: &str,
    subject: Option<&str>,
) -> Result<Preview, EngineError> {
    let limit = match channel {
        Channel::Sms => limits::SMS_BODY,
        Channel::Email => limits::EMAIL_BODY,
    };
    // A value the contact lacks renders empty here (a send refuses it): the preview lists it.
    let mut values = serde_json::to_value(contact).unwrap_or(Value::Null);
    let mut lacking = missing(body, &values);
    if let (Channel::Email, Some(source)) = (channel, subject) {
        lacking.extend(missing(source, &values));
        lacking.sort();
        lacking.dedup();
    }
    for name in &lacking {
        let path = format!("/{}", name.trim_start_matches("contact.").replace('.', "/"));
        if let Some(slot) = values.pointer_mut(&path) {
            *slot = Value::String(String::new());
        } else if let Some(field) = path.strip_prefix("/fields/")
            && let Some(fields) = values.get_mut("fields").and_then(Value::as_object_mut)
        {
            fields.insert(field.to_owned(), Value::String(String::new()));
        } else if let Some(object) = values.as_object_mut() {
            object.insert(path[1..].to_owned(), Value::String(String::new()));
        }
    }
    let text = render_for(tenant, &values, "body", body, limit)?;
    let subject = match (channel, subject) {
        (Channel::Email, Some(subject)) => Some(render_for(
            tenant,
            &values,
            "subject",
            subject,
            limits::EMAIL_SUBJECT,
        )?),
        _ => None,
    };
    let sms = (channel == Channel::Sms).then(|| Segments::of(&text));
    Ok(Preview {
        characters: text.chars().count(),
        segments: sms.map(|s| s.parts),
        encoding: sms.map(|s| {
            serde_json::json!(s.encoding)
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }),
        text,
        subject,
        missing: lacking,
    })
}
