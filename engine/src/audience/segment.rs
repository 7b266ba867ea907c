//! Segments: a saved, named filter over a tenant's contacts (tags, custom fields, who can be
//! reached, time zone, last activity). The filter is checked when it is saved (fields
//! declared, values of their type, bounded) and matched in Rust against each contact, so it
//! means the same on every store.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{CONSENT_FIELDS, FieldType};
use crate::model::Contact;

/// The most segments a tenant keeps, and the most conditions one filter has.
pub const MAX_SEGMENTS: usize = 100;
pub const MAX_CONDITIONS: usize = 50;

/// A saved filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Segment {
    /// Lowercase letters, digits, `-` and `_`; 1 to 64.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub filter: Filter,
}

/// Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Filter {
    /// Has every one of these tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_all: Vec<String>,
    /// Has at least one of these tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_any: Vec<String>,
    /// Has none of these tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_none: Vec<String>,
    /// Conditions on custom fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldCondition>,
    /// Can be sent to on this channel: has the address and has not opted out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachable_by: Option<Reach>,
    /// Gave consent: `opt_in_at` is set (imported consent, a form's opt-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opted_in: Option<bool>,
    /// The contact's time zone (the tenant's for contacts without one) is one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timezones: Vec<String>,
    /// Had an event within this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_within_days: Option<u32>,
    /// Had no event for this many days (or never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_for_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Reach {
    Sms,
    Email,
}

/// `field op value`; `exists` and `missing` take no value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldCondition {
    pub field: String,
    pub op: Op,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    /// Text containing the value (case-insensitive).
    Contains,
    Exists,
    Missing,
}

impl Segment {
    /// Checks the segment against the tenant's declared fields: a located message.
    pub fn check(&self, declared: &BTreeMap<String, FieldType>) -> Result<(), String> {
        let named = (1..=64).contains(&self.name.len())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !named {
            return Err(format!(
                "name: \"{}\" is not a segment name (1 to 64 lowercase letters, digits, '-' or '_')",
                self.name
            ));
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 500)
        {
            return Err("description: at most 500 characters".into());
        }
        self.filter.check(declared)
    }
}

impl Filter {
    fn check(&self, declared: &BTreeMap<String, FieldType>) -> Result<(), String> {
        let conditions = self.tags_all.len()
            + self.tags_any.len()
            + self.tags_none.len()
            + self.fields.len()
            + self.timezones.len();
        if conditions > MAX_CONDITIONS {
            return Err(format!("filter: at most {MAX_CONDITIONS} conditions"));
        }
        for (i, zone) in self.timezones.iter().enumerate() {
            if jiff::tz::TimeZone::get(zone).is_err() {
                return Err(format!(
                    "filter.timezones[{i}]: \"{zone}\" is not an IANA time zone"
                ));
            }
        }
        for (i, c) in self.fields.iter().enumerate() {
            let at = format!("filter.fields[{i}]");
            let ty = match declared.get(&c.field) {
                Some(ty) => *ty,
                None if CONSENT_FIELDS.contains(&c.field.as_str()) => FieldType::Text,
                None => {
                    return Err(format!(
                        "{at}.field: \"{}\" is not a declared custom field",
                        c.field
                    ));
                }
            };
            match (c.op, &c.value) {
                (Op::Exists | Op::Missing, None) => {}
                (Op::Exists | Op::Missing, Some(_)) => {
                    return Err(format!("{at}.value: {:?} takes no value", c.op));
                }
                (_, None) => return Err(format!("{at}.value: give the value to compare with")),
                (op, Some(value)) => {
                    check_value(ty, op, value).map_err(|e| format!("{at}.value: {e}"))?
                }
            }
        }
        for days in [self.active_within_days, self.inactive_for_days]
            .into_iter()
            .flatten()
        {
            if days == 0 || days > 3_660 {
                return Err("filter: activity windows are 1 to 3,660 days".into());
            }
        }
        Ok(())
    }

    /// Whether the filter asks when contacts were last active.
    pub fn uses_activity(&self) -> bool {
        self.active_within_days.is_some() || self.inactive_for_days.is_some()
    }

    /// Whether `contact` is in the segment. `tenant_zone` is the zone of contacts without
    /// one; `last_active` the time of its latest event, if any.
    pub fn matches(
        &self,
        contact: &Contact,
        tenant_zone: &str,
        last_active: Option<Timestamp>,
        now: Timestamp,
    ) -> bool {
        let has = |tag: &String| contact.tags.contains(tag);
        if !self.tags_all.iter().all(has)
            || (!self.tags_any.is_empty() && !self.tags_any.iter().any(has))
            || self.tags_none.iter().any(has)
        {
            return false;
        }
        let reachable = match self.reachable_by {
            Some(Reach::Sms) => contact.phone.is_some() && !contact.sms_opt_out,
            Some(Reach::Email) => contact.email.is_some() && !contact.email_opt_out,
            None => true,
        };
        if !reachable {
            return false;
        }
        if let Some(wanted) = self.opted_in
            && contact
                .fields
                .get("opt_in_at")
                .is_some_and(|v| !v.is_null())
                != wanted
        {
            return false;
        }
        if !self.timezones.is_empty() {
            let zone = contact.timezone.as_deref().unwrap_or(tenant_zone);
            if !self.timezones.iter().any(|z| z == zone) {
                return false;
            }
        }
        let days = |n: u32| SignedDuration::from_hours(24 * i64::from(n));
        if let Some(n) = self.active_within_days
            && last_active.is_none_or(|t| t < now - days(n))
        {
            return false;
        }
        if let Some(n) = self.inactive_for_days
            && last_active.is_some_and(|t| t >= now - days(n))
        {
            return false;
        }
        self.fields
            .iter()
            .all(|c| c.holds(contact.fields.get(&c.field)))
    }
}

fn check_value(ty: FieldType, op: Op, value: &Value) -> Result<(), String> {
    let fits = match ty {
        FieldType::Number => value.is_number(),
        FieldType::Boolean => value.is_boolean() && matches!(op, Op::Eq | Op::Ne),
        FieldType::Text | FieldType::Date => value.is_string(),
    };
    if !fits {
        return Err(format!(
            "{value} cannot be compared with {op:?} to a {ty:?} field"
        ));
    }
    if ty == FieldType::Date
        && op != Op::Contains
        && value
            .as_str()
            .is_some_and(|s| s.parse::<jiff::civil::Date>().is_err())
    {
        return Err(format!("{value} is not a date (YYYY-MM-DD)"));
    }
    Ok(())
}

impl FieldCondition {
    fn holds(&self, stored: Option<&Value>) -> bool {
        let stored = stored.filter(|v| !v.is_null());
        let Some(stored) = stored else {
            return self.op == Op::Missing;
        };
        let Some(value) = &self.value else {
            return self.op == Op::Exists;
        };
        let order = match (stored, value) {
            (Value::Number(a), Value::Number(b)) => a
                .as_f64()
                .zip(b.as_f64())
                .and_then(|(a, b)| a.partial_cmp(&b)),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        };
        match self.op {
            Op::Eq => order == Some(Ordering::Equal),
            Op::Ne => order != Some(Ordering::Equal),
            Op::Gt => order == Some(Ordering::Greater),
            Op::Gte => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
            Op::Lt => order == Some(Ordering::Less),
            Op::Lte => matches!(order, Some(Ordering::Less | Ordering::Equal)),
            Op::Contains => match (stored, value) {
                (Value::String(a), Value::String(b)) => {
                    a.to_lowercase().contains(&b.to_lowercase())
                }
                _ => false,
            },
            Op::Exists => true,
            Op::Missing => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filter(doc: Value) -> Filter {
        serde_json::from_value(doc).unwrap()
    }

    fn declared() -> BTreeMap<String, FieldType> {
        BTreeMap::from([
            ("visits".to_owned(), FieldType::Number),
            ("last_visit".to_owned(), FieldType::Date),
            ("vip".to_owned(), FieldType::Boolean),
        ])
    }

    #[test]
    fn a_filter_matches_on_every_condition() {
        let now: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let mut ana = Contact {
            id: "ana".into(),
            phone: Some("+15125550100".into()),
            tags: vec!["patient".into(), "spring".into()],
            ..Contact::default()
        };
        ana.fields.insert("visits".into(), json!(4));
        ana.fields.insert("last_visit".into(), json!("2026-05-01"));
        let lapsed = filter(json!({
            "tags_all": ["patient"], "tags_none": ["dnc"], "reachable_by": "sms",
            "fields": [{"field": "visits", "op": "gte", "value": 3},
                       {"field": "last_visit", "op": "lt", "value": "2026-06-01"}],
            "timezones": ["America/Chicago"], "inactive_for_days": 90}));
        assert_eq!(lapsed.check(&declared()), Ok(()));
        let long_ago = Some(now - SignedDuration::from_hours(24 * 100));
        assert!(lapsed.matches(&ana, "America/Chicago", long_ago, now));
        assert!(
            !lapsed.matches(&ana, "America/Denver", long_ago, now),
            "zone"
        );
        let lately = Some(now - SignedDuration::from_hours(24));
        assert!(
            !lapsed.matches(&ana, "America/Chicago", lately, now),
            "active"
        );
        ana.sms_opt_out = true;
        assert!(
            !lapsed.matches(&ana, "America/Chicago", long_ago, now),
            "opted out"
        );
        ana.sms_opt_out = false;
        ana.fields.insert("visits".into(), json!(2));
        assert!(
            !lapsed.matches(&ana, "America/Chicago", long_ago, now),
            "visits"
        );
        let missing = filter(json!({"fields": [{"field": "vip", "op": "missing"}]}));
        assert!(missing.matches(&ana, "UTC", None, now));
    }

    #[test]
    fn a_filter_is_checked_against_the_declared_fields() {
        let bad = [
            (
                json!({"fields": [{"field": "plan", "op": "eq", "value": "x"}]}),
                "not a declared",
            ),
            (
                json!({"fields": [{"field": "visits", "op": "gt", "value": "3"}]}),
                "cannot be compared",
            ),
            (
                json!({"fields": [{"field": "last_visit", "op": "lt", "value": "May"}]}),
                "not a date",
            ),
            (
                json!({"fields": [{"field": "visits", "op": "exists", "value": 1}]}),
                "takes no value",
            ),
            (
                json!({"fields": [{"field": "visits", "op": "eq"}]}),
                "give the value",
            ),
            (json!({"timezones": ["Mars/Olympus"]}), "IANA"),
            (json!({"inactive_for_days": 0}), "1 to 3,660"),
        ];
        for (doc, expected) in bad {
            let err = filter(doc.clone()).check(&declared()).unwrap_err();
            assert!(err.contains(expected), "{doc}: {err}");
        }
        let many = filter(
            json!({"tags_any": (0..=MAX_CONDITIONS).map(|n| n.to_string()).collect::<Vec<_>>()}),
        );
        assert!(many.check(&declared()).is_err());
    }
}
