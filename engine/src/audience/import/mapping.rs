//! Which contact field each column of an import fills: given by the caller as `{header:
//! target}`, or guessed from the headers (`Mobile` is the phone, `E-mail` the email, a
//! header named like a declared custom field fills it). The guess is answered before
//! anything is written, so the caller sees it and may correct it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::audience::fields::{CONSENT_FIELDS, FieldType, is_field_name};

/// The most columns a file may have.
pub const MAX_COLUMNS: usize = 200;

/// What a column fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Phone,
    Email,
    FirstName,
    LastName,
    /// A whole name: its first word is the first name, the rest the last name.
    Name,
    Timezone,
    /// Tags, separated by `;`, `|` or `,`.
    Tags,
    /// A declared custom field, or a consent field (`opt_in_source`, `opt_in_at`).
    Field(String),
    /// `true`/`yes`/`1` puts the phone on the tenant's SMS opt-out list.
    SmsOptOut,
    /// `true`/`yes`/`1` puts the email on the tenant's email opt-out list.
    EmailOptOut,
    Ignore,
}

impl Target {
    /// How the mapping names it: `phone`, `fields.plan`, `ignore`, ….
    pub fn name(&self) -> String {
        match self {
            Self::Phone => "phone".into(),
            Self::Email => "email".into(),
            Self::FirstName => "first_name".into(),
            Self::LastName => "last_name".into(),
            Self::Name => "name".into(),
            Self::Timezone => "timezone".into(),
            Self::Tags => "tags".into(),
            Self::Field(f) => format!("fields.{f}"),
            Self::SmsOptOut => "sms_opt_out".into(),
            Self::EmailOptOut => "email_opt_out".into(),
            Self::Ignore => "ignore".into(),
        }
    }

    /// The target a mapping names; custom fields must be declared.
    pub fn parse(name: &str, declared: &BTreeMap<String, FieldType>) -> Result<Self, String> {
        Ok(match name {
            "phone" => Self::Phone,
            "email" => Self::Email,
            "first_name" => Self::FirstName,
            "last_name" => Self::LastName,
            "name" => Self::Name,
            "timezone" => Self::Timezone,
            "tags" => Self::Tags,
            "sms_opt_out" => Self::SmsOptOut,
            "email_opt_out" => Self::EmailOptOut,
            "ignore" => Self::Ignore,
            other => match other.strip_prefix("fields.") {
                Some(f) if CONSENT_FIELDS.contains(&f) || declared.contains_key(f) => {
                    Self::Field(f.to_owned())
                }
                Some(f) if is_field_name(f) => {
                    return Err(format!(
                        "fields.{f} is not a declared custom field; declare it in settings.custom_fields first"
                    ));
                }
                _ => {
                    return Err(format!(
                        "\"{other}\" is not a contact field (phone, email, first_name, last_name, name, timezone, tags, fields.<name>, sms_opt_out, email_opt_out, ignore)"
                    ));
                }
            },
        })
    }
}

/// A header reduced to its letters and digits, lowercase: `E-mail Address` → `emailaddress`.
fn plain(header: &str) -> String {
    header
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The target a header suggests.
fn guess_one(header: &str, declared: &BTreeMap<String, FieldType>) -> Target {
    let plain = plain(header);
    if let Some(name) = declared.keys().find(|f| plain == self::plain(f)).cloned() {
        return Target::Field(name);
    }
    match plain.as_str() {
        "phone" | "phonenumber" | "mobile" | "mobilephone" | "mobilenumber" | "cell"
        | "cellphone" | "tel" | "telephone" | "sms" => Target::Phone,
        "email" | "emailaddress" | "mail" => Target::Email,
        "firstname" | "first" | "givenname" | "forename" => Target::FirstName,
        "lastname" | "last" | "surname" | "familyname" => Target::LastName,
        "name" | "fullname" | "contactname" => Target::Name,
        "timezone" | "tz" | "zone" => Target::Timezone,
        "tags" | "tag" | "labels" | "groups" => Target::Tags,
        "optinsource" | "consentsource" | "source" => Target::Field("opt_in_source".into()),
        "optinat" | "optedinat" | "consentat" | "optindate" | "consentdate" => {
            Target::Field("opt_in_at".into())
        }
        "smsoptout" | "unsubscribedsms" | "stop" => Target::SmsOptOut,
        "emailoptout" | "unsubscribed" | "unsubscribedemail" => Target::EmailOptOut,
        _ => Target::Ignore,
    }
}

/// The target of each column: the caller's mapping where it names the header, else the
/// guess. A mapping naming a header the file lacks, two columns filling one target, or a
/// file with neither a phone nor an email column is an error.
pub fn resolve(
    headers: &[String],
    given: &BTreeMap<String, String>,
    declared: &BTreeMap<String, FieldType>,
) -> Result<Vec<Target>, String> {
    if headers.len() > MAX_COLUMNS {
        return Err(format!(
            "the file has {} columns; at most {MAX_COLUMNS}",
            headers.len()
        ));
    }
    if let Some(missing) = given.keys().find(|h| !headers.contains(h)) {
        return Err(format!("mapping: the file has no column \"{missing}\""));
    }
    let mut targets = Vec::with_capacity(headers.len());
    for header in headers {
        let target = match given.get(header) {
            Some(name) => {
                Target::parse(name, declared).map_err(|e| format!("mapping.{header}: {e}"))?
            }
            None => guess_one(header, declared),
        };
        if target != Target::Ignore && targets.contains(&target) {
            return Err(format!(
                "two columns fill {}; map one of them to \"ignore\"",
                target.name()
            ));
        }
        targets.push(target);
    }
    if !targets
        .iter()
        .any(|t| matches!(t, Target::Phone | Target::Email))
    {
        return Err("no column holds a phone or an email; name one in the mapping (e.g. {\"Mobile\": \"phone\"})".into());
    }
    Ok(targets)
}

/// The mapping as answered: each header with what it fills.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ColumnMapping {
    pub column: String,
    /// `phone`, `email`, `first_name`, `last_name`, `name`, `timezone`, `tags`,
    /// `fields.<name>`, `sms_opt_out`, `email_opt_out` or `ignore`.
    pub target: String,
}

/// The answer's form of a resolved mapping.
pub fn shown(headers: &[String], targets: &[Target]) -> Vec<ColumnMapping> {
    headers
        .iter()
        .zip(targets)
        .map(|(column, target)| ColumnMapping {
            column: column.clone(),
            target: target.name(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|h| (*h).to_owned()).collect()
    }

    #[test]
    fn common_headers_are_guessed() {
        let declared = BTreeMap::from([("last_visit".to_owned(), FieldType::Date)]);
        let h = headers(&[
            "First Name",
            "Surname",
            "Mobile",
            "E-mail",
            "Last Visit",
            "Notes",
        ]);
        let targets = resolve(&h, &BTreeMap::new(), &declared).unwrap();
        assert_eq!(
            targets,
            vec![
                Target::FirstName,
                Target::LastName,
                Target::Phone,
                Target::Email,
                Target::Field("last_visit".into()),
                Target::Ignore
            ]
        );
    }

    #[test]
    fn a_given_mapping_wins_and_is_checked() {
        let declared = BTreeMap::new();
        let h = headers(&["Cell", "Work"]);
        let given = BTreeMap::from([
            ("Cell".to_owned(), "ignore".to_owned()),
            ("Work".to_owned(), "phone".to_owned()),
        ]);
        assert_eq!(
            resolve(&h, &given, &declared).unwrap(),
            vec![Target::Ignore, Target::Phone]
        );
        let undeclared = BTreeMap::from([("Work".to_owned(), "fields.plan".to_owned())]);
        let err = resolve(&h, &undeclared, &declared).unwrap_err();
        assert!(err.contains("declare it"), "{err}");
        let twice = headers(&["Phone", "Mobile"]);
        assert!(
            resolve(&twice, &BTreeMap::new(), &declared)
                .unwrap_err()
                .contains("two columns")
        );
        let none = headers(&["Name", "City"]);
        assert!(
            resolve(&none, &BTreeMap::new(), &declared)
                .unwrap_err()
                .contains("no column")
        );
        let missing = BTreeMap::from([("Fax".to_owned(), "phone".to_owned())]);
        assert!(
            resolve(&h, &missing, &declared)
                .unwrap_err()
                .contains("no column \"Fax\"")
        );
    }
}
