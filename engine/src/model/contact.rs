//! A person a tenant talks to.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A contact as flows see it (`contact.*` in expressions and templates).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contact {
    #[serde(default)]
    pub id: String,
    /// E.164, e.g. `+15125550100`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// IANA time zone, e.g. `America/Los_Angeles`; quiet hours use it before the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub timezone: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Custom fields.
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// The contact replied STOP (or equivalent): no SMS is sent to them.
    #[serde(default)]
    pub sms_opt_out: bool,
    /// The contact unsubscribed from email: no marketing email is sent to them.
    #[serde(default)]
    pub email_opt_out: bool,
    /// A person handles this contact (one of its conversations needs a human): automated
    /// messages hold. Read from the contact's conversations with its runs; not stored with
    /// the contact, and not part of what flows see.
    #[serde(skip)]
    pub human_takeover: bool,
}

impl Contact {
    /// This contact with what `update` sets: given names, addresses and zone replace these,
    /// tags and custom fields are added, and an opt-out is never cleared.
    #[must_use]
    pub fn overlay(&self, update: Contact) -> Contact {
        let mut merged = self.clone();
        merged.phone = update.phone.or(merged.phone);
        merged.email = update.email.or(merged.email);
        merged.first_name = update.first_name.or(merged.first_name);
        merged.last_name = update.last_name.or(merged.last_name);
        merged.timezone = update.timezone.or(merged.timezone);
        for tag in update.tags {
            if !merged.tags.contains(&tag) {
                merged.tags.push(tag);
            }
        }
        merged.fields.extend(update.fields);
        merged.sms_opt_out |= update.sms_opt_out;
        merged.email_opt_out |= update.email_opt_out;
        merged
    }

    /// Writes the phone number in E.164 (a number without `+` is read as one of `region`, an
    /// ISO country code such as `US`) and checks the email's shape. The error names the field.
    pub fn normalise(&mut self, region: &str) -> Result<(), String> {
        if let Some(phone) = &self.phone {
            self.phone = Some(e164(phone, region)?);
        }
        if let Some(email) = &self.email {
            let email = email.trim();
            let valid = email
                .split_once('@')
                .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
                && !email.contains(char::is_whitespace);
            if !valid {
                return Err(format!("email: \"{email}\" is not an email address"));
            }
            self.email = Some(email.to_ascii_lowercase());
        }
        Ok(())
    }
}

/// Builds the phone-number metadata now, off the request path: the `phonenumber` crate builds
/// it on first use, which took 75 ms and was the p99 of a server's first second of traffic
/// (`stepwise bench api`).
pub fn load_phone_metadata() {
    let _ = e164("+15125550100", "US");
}

/// `raw` in E.164 (`+15125550100`), read in `region` when it has no country code. Only
/// digits and the usual separators are accepted: libphonenumber would read letters as a
/// keypad's digits (`+1512555010O` as `+15125550106`), a different real person's number.
pub fn e164(raw: &str, region: &str) -> Result<String, String> {
    let bad = |why: String| format!("phone: not a valid phone number ({why})");
    let plain = raw
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_whitespace() || "+()-./".contains(c));
    if !plain {
        return Err(bad(
            "write digits, with +, spaces, dashes, dots or brackets; no letters".into(),
        ));
    }
    let region: phonenumber::country::Id = region
        .parse()
        .map_err(|_| bad(format!("unknown region {region}")))?;
    let number = phonenumber::parse(Some(region), raw).map_err(|e| bad(e.to_string()))?;
    if !number.is_valid() {
        return Err(bad("no such number in its country's numbering plan".into()));
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_written_in_e164() {
        assert_eq!(e164("(512) 555-0100", "US").as_deref(), Ok("+15125550100"));
        assert_eq!(e164("+1 512 555 0100", "DE").as_deref(), Ok("+15125550100"));
        assert_eq!(e164("030 901820", "DE").as_deref(), Ok("+4930901820"));
        assert!(e164("030 901820", "US").is_err());
        assert!(e164("12", "US").is_err());
        assert!(e164("not a phone", "US").is_err());
        // A letter O for a zero is refused, never read as a keypad digit.
        let err = e164("+1512555010O", "US").unwrap_err();
        assert!(err.contains("no letters"), "{err}");
        assert!(!err.contains("010O"), "the hint repeats the value: {err}");
        assert!(e164("1-800-FLOWERS", "US").is_err());
    }

    #[test]
    fn emails_are_checked_and_lowercased() {
        let mut c = Contact {
            email: Some(" Ana@Example.COM ".into()),
            ..Contact::default()
        };
        assert_eq!(c.normalise("US"), Ok(()));
        assert_eq!(c.email.as_deref(), Some("ana@example.com"));
        c.email = Some("ana at example".into());
        assert!(c.normalise("US").is_err());
    }
}
