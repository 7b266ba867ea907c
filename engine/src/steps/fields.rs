//! The fields of `contact.*`, `tenant.*` and `event.*` a template or expression may name,
//! checked when a flow is validated (`{{contact.frist_name}}` is an error with the nearest
//! field), since strict templates would otherwise fail on every run.

use super::context::references;

/// The fields of the bindings whose shape is fixed, and where their open-ended data lives.
pub const FIXED_FIELDS: [(&str, &[&str], &str); 3] = [
    (
        "contact",
        &[
            "id",
            "phone",
            "email",
            "first_name",
            "last_name",
            "timezone",
            "tags",
            "fields",
            "sms_opt_out",
            "email_opt_out",
        ],
        " (custom fields are contact.fields.<name>)",
    ),
    ("tenant", &["id", "name", "timezone"], ""),
    (
        "event",
        &["type", "data", "source", "external_id", "occurred_at"],
        " (the event's own values are event.data.<name>)",
    ),
];

/// What `source` (an expression or a template) names in `contact.*`, `tenant.*` or `event.*`
/// that those do not have, each as an error message with the nearest field.
pub fn unknown_fields(source: &str) -> Vec<String> {
    let mut messages = Vec::new();
    for (binding, fields, open) in FIXED_FIELDS {
        let prefix = format!("{binding}.");
        let unknown = references(source, &prefix)
            .filter(|name| !fields.contains(name) && !is_call(source, &prefix, name));
        for name in unknown {
            let nearest = fields
                .iter()
                .map(|f| (strsim::levenshtein(f, name), *f))
                .filter(|(d, _)| *d <= 2)
                .min()
                .map(|(_, f)| format!(" (did you mean `{f}`?)"))
                .unwrap_or_default();
            messages.push(format!(
                "{binding}.{name} is not a {binding} field{nearest}; {binding} has {}{open}",
                fields.join(", ")
            ));
        }
    }
    messages
}

/// Whether `prefix name` is followed by `(`: a method call on the binding (`contact.keys()`),
/// not a field.
fn is_call(source: &str, prefix: &str, name: &str) -> bool {
    source.contains(&format!("{prefix}{name}("))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fixed_fields_are_those_the_runtime_binds() {
        use crate::model::{Contact, Event};
        let contact = serde_json::to_value(Contact {
            phone: Some("+15125550100".into()),
            email: Some("a@example.com".into()),
            first_name: Some("A".into()),
            last_name: Some("B".into()),
            timezone: Some("UTC".into()),
            ..Contact::default()
        })
        .unwrap();
        let mut event = Event::new("lead.created", serde_json::json!({}));
        event.external_id = Some("x".into());
        event.occurred_at = Some(jiff::Timestamp::UNIX_EPOCH);
        let event = serde_json::to_value(event).unwrap();
        for (value, (binding, fields, _)) in [contact, event]
            .iter()
            .zip([super::FIXED_FIELDS[0], super::FIXED_FIELDS[2]])
        {
            let mut keys: Vec<&str> = value
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let mut fixed = fields.to_vec();
            keys.sort_unstable();
            fixed.sort_unstable();
            assert_eq!(keys, fixed, "{binding}");
        }
    }
}
