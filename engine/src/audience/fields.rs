//! A tenant's custom fields, declared by name and type (`settings.custom_fields`), so that an
//! import, a segment and a template agree on what `contact.fields.<name>` holds: a number
//! column is stored as a number, a date as `YYYY-MM-DD`, a yes/no as a boolean.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The most custom fields a tenant declares.
pub const MAX_FIELDS: usize = 100;

/// Fields every contact may carry without a declaration: where and when they opted in.
pub const CONSENT_FIELDS: [&str; 2] = ["opt_in_source", "opt_in_at"];

/// What a custom field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FieldType {
    Text,
    Number,
    Boolean,
    /// A calendar date, stored `YYYY-MM-DD`.
    Date,
}

/// Checks a tenant's declarations: at most [`MAX_FIELDS`], each named like an identifier
/// (`[a-z][a-z0-9_]*`, at most 64 characters) and none named like a consent field.
pub fn check_declarations(fields: &BTreeMap<String, FieldType>) -> Result<(), String> {
    if fields.len() > MAX_FIELDS {
        return Err(format!("custom_fields: at most {MAX_FIELDS}"));
    }
    for name in fields.keys() {
        if !is_field_name(name) {
            return Err(format!(
                "custom_fields: \"{name}\" is not a field name (a lowercase letter, then lowercase letters, digits or '_'; at most 64)"
            ));
        }
        if CONSENT_FIELDS.contains(&name.as_str()) {
            return Err(format!(
                "custom_fields: \"{name}\" is built in (every contact may carry it)"
            ));
        }
    }
    Ok(())
}

/// `[a-z][a-z0-9_]*`, 1 to 64 characters.
pub fn is_field_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl FieldType {
    /// `raw` (a cell of a file, trimmed and not empty) as this type stores it.
    pub fn read(self, raw: &str) -> Result<Value, String> {
        match self {
            Self::Text => Ok(Value::String(raw.to_owned())),
            Self::Number => {
                let plain = raw.replace([',', '_'], "");
                plain
                    .parse::<i64>()
                    .map(Value::from)
                    .or_else(|_| {
                        plain
                            .parse::<f64>()
                            .ok()
                            .filter(|f| f.is_finite())
                            .map(Value::from)
                            .ok_or(())
                    })
                    .map_err(|()| "not a number".to_owned())
            }
            Self::Boolean => match raw.to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "1" | "x" => Ok(Value::Bool(true)),
                "false" | "no" | "n" | "0" => Ok(Value::Bool(false)),
                _ => Err("not yes/no (write true, false, yes, no, 1 or 0)".to_owned()),
            },
            Self::Date => read_date(raw).map(|d| Value::String(d.to_string())),
        }
    }
}

/// Holds a contact's declared fields to their types, as an import would read them: a text
/// value is read (`"1,250"` is the number 1250, `"yes"` true, a time its date), a value of
/// the declared JSON type (or `null`, or blank text) is kept; anything else is refused,
/// naming the field.
/// Undeclared fields are left as they are.
pub fn type_fields(
    declared: &BTreeMap<String, FieldType>,
    fields: &mut serde_json::Map<String, Value>,
) -> Result<(), String> {
    for (name, value) in fields.iter_mut() {
        let Some(kind) = declared.get(name) else {
            continue;
        };
        let typed = match (kind, &*value) {
            (_, Value::Null)
            | (FieldType::Number, Value::Number(_))
            | (FieldType::Boolean, Value::Bool(_)) => continue,
            (_, Value::String(raw)) if raw.trim().is_empty() => continue,
            (_, Value::String(raw)) => kind.read(raw.trim()),
            _ => Err(format!("not {}", kind.described())),
        };
        *value = typed.map_err(|why| format!("fields.{name}: {why} (declared {kind:?})"))?;
    }
    Ok(())
}

impl FieldType {
    fn described(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "a number",
            Self::Boolean => "true or false",
            Self::Date => "a date (YYYY-MM-DD)",
        }
    }
}

/// A date written `YYYY-MM-DD`, or the date part of an RFC 3339 time.
fn read_date(raw: &str) -> Result<jiff::civil::Date, String> {
    if let Ok(date) = raw.parse::<jiff::civil::Date>() {
        return Ok(date);
    }
    raw.parse::<jiff::Timestamp>()
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
        .map_err(|_| "not a date (write YYYY-MM-DD)".to_owned())
}

/// When someone opted in, as an RFC 3339 time (a date alone is its midnight UTC).
pub fn read_opt_in_time(raw: &str) -> Result<Value, String> {
    if let Ok(t) = raw.parse::<jiff::Timestamp>() {
        return Ok(Value::String(t.to_string()));
    }
    raw.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| Value::String(z.timestamp().to_string()))
        .ok_or_else(|| "not a time (write 2026-03-01T09:30:00Z or 2026-03-01)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_read_as_their_declared_type() {
        assert_eq!(FieldType::Number.read("1,250"), Ok(Value::from(1250)));
        assert_eq!(FieldType::Number.read("12.5"), Ok(Value::from(12.5)));
        assert!(FieldType::Number.read("twelve").is_err());
        assert!(FieldType::Number.read("NaN").is_err());
        assert_eq!(FieldType::Boolean.read("Yes"), Ok(Value::Bool(true)));
        assert_eq!(FieldType::Boolean.read("0"), Ok(Value::Bool(false)));
        assert!(FieldType::Boolean.read("maybe").is_err());
        assert_eq!(
            FieldType::Date.read("2026-03-01"),
            Ok(Value::from("2026-03-01"))
        );
        assert_eq!(
            FieldType::Date.read("2026-03-01T23:00:00Z"),
            Ok(Value::from("2026-03-01"))
        );
        assert!(FieldType::Date.read("03/01/2026").is_err());
        assert_eq!(
            read_opt_in_time("2026-03-01"),
            Ok(Value::from("2026-03-01T00:00:00Z"))
        );
    }

    #[test]
    fn declarations_are_bounded_and_named() {
        let mut fields = BTreeMap::from([("plan".to_owned(), FieldType::Text)]);
        assert_eq!(check_declarations(&fields), Ok(()));
        fields.insert("Plan Name".into(), FieldType::Text);
        assert!(check_declarations(&fields).is_err());
        let fields = BTreeMap::from([("opt_in_at".to_owned(), FieldType::Date)]);
        assert!(check_declarations(&fields).is_err());
        let many: BTreeMap<_, _> = (0..=MAX_FIELDS)
            .map(|n| (format!("f{n}"), FieldType::Text))
            .collect();
        assert!(check_declarations(&many).is_err());
    }

    #[test]
    fn declared_fields_hold_their_type_and_others_pass() {
        let declared = BTreeMap::from([
            ("visits".to_owned(), FieldType::Number),
            ("vip".to_owned(), FieldType::Boolean),
            ("last_visit".to_owned(), FieldType::Date),
        ]);
        let mut fields = serde_json::json!({"visits": "1,250", "vip": true,
            "last_visit": "2026-03-01T23:00:00Z", "notes": 7, "plan": null})
        .as_object()
        .cloned()
        .unwrap();
        assert_eq!(type_fields(&declared, &mut fields), Ok(()));
        assert_eq!(
            Value::Object(fields),
            serde_json::json!({"visits": 1250, "vip": true, "last_visit": "2026-03-01",
                "notes": 7, "plan": null}),
            "text read as the import reads it; undeclared kept"
        );
        let mut wrong = serde_json::json!({"visits": "many"})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(
            type_fields(&declared, &mut wrong),
            Err("fields.visits: not a number (declared Number)".into())
        );
        let mut wrong = serde_json::json!({"vip": 1}).as_object().cloned().unwrap();
        assert_eq!(
            type_fields(&declared, &mut wrong),
            Err("fields.vip: not true or false (declared Boolean)".into())
        );
    }
}
