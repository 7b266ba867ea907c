//! One row of an import read into a contact: each cell by its column's target, the phone in
//! E.164 with the tenant's country, the email checked, the time zone known, custom fields as
//! their declared type. Every cell that cannot be read is reported, not just the first.

use std::collections::BTreeMap;

use serde_json::Value;

use super::mapping::Target;
use super::model::ReportRow;
use crate::audience::fields::{FieldType, read_opt_in_time};
use crate::model::Contact;
use crate::model::e164;

/// The most characters of a cell a report repeats.
const SHOWN_VALUE: usize = 200;

/// What a row of the file holds, given its columns' targets.
#[derive(Debug)]
pub struct RowReader<'a> {
    pub headers: &'a [String],
    pub targets: &'a [Target],
    pub country: &'a str,
    pub declared: &'a BTreeMap<String, FieldType>,
    /// Tags every row gets (the import's own).
    pub tags: &'a [String],
}

impl RowReader<'_> {
    /// The contact the row describes, or every cell that could not be read. A row with
    /// neither a phone nor an email names no one.
    pub fn read(&self, line: u64, cells: &[&str]) -> Result<Contact, Vec<ReportRow>> {
        let mut contact = Contact {
            tags: self.tags.to_vec(),
            ..Contact::default()
        };
        let mut errors = Vec::new();
        for ((header, target), raw) in self.headers.iter().zip(self.targets).zip(cells) {
            let cell = raw.trim();
            if cell.is_empty() || *target == Target::Ignore {
                continue;
            }
            if let Err(reason) = self.fill(&mut contact, target, cell) {
                errors.push(ReportRow {
                    line,
                    column: header.clone(),
                    value: cell.chars().take(SHOWN_VALUE).collect(),
                    reason,
                    result: "failed".into(),
                });
            }
        }
        if errors.is_empty() && contact.phone.is_none() && contact.email.is_none() {
            let column = self
                .headers
                .iter()
                .zip(self.targets)
                .find(|(_, t)| matches!(t, Target::Phone | Target::Email))
                .map(|(h, _)| h.clone())
                .unwrap_or_default();
            errors.push(ReportRow {
                line,
                column,
                value: String::new(),
                reason: "no phone and no email: the row names no one".into(),
                result: "failed".into(),
            });
        }
        if errors.is_empty() {
            Ok(contact)
        } else {
            Err(errors)
        }
    }

    fn fill(&self, contact: &mut Contact, target: &Target, cell: &str) -> Result<(), String> {
        match target {
            Target::Phone => {
                let phone = e164(cell, self.country).map_err(|e| strip_field(&e))?;
                contact.phone = Some(phone);
            }
            Target::Email => {
                let mut probe = Contact {
                    email: Some(cell.to_owned()),
                    ..Contact::default()
                };
                probe.normalise(self.country).map_err(|e| strip_field(&e))?;
                contact.email = probe.email;
            }
            Target::FirstName => contact.first_name = Some(bounded(cell)?),
            Target::LastName => contact.last_name = Some(bounded(cell)?),
            Target::Name => {
                let name = bounded(cell)?;
                let (first, last) = name.split_once(' ').unwrap_or((&name, ""));
                contact.first_name = Some(first.to_owned());
                let last = last.trim();
                if !last.is_empty() {
                    contact.last_name = Some(last.to_owned());
                }
            }
            Target::Timezone => {
                jiff::tz::TimeZone::get(cell)
                    .map_err(|_| "not an IANA time zone (e.g. America/Chicago)".to_owned())?;
                contact.timezone = Some(cell.to_owned());
            }
            Target::Tags => {
                for tag in cell.split([';', '|', ',']).map(str::trim) {
                    if tag.is_empty() {
                        continue;
                    }
                    if tag.chars().count() > 64 {
                        return Err("a tag is at most 64 characters".into());
                    }
                    if contact.tags.len() >= 50 {
                        return Err("at most 50 tags".into());
                    }
                    if !contact.tags.iter().any(|t| t == tag) {
                        contact.tags.push(tag.to_owned());
                    }
                }
            }
            Target::Field(name) => {
                let value = match (name.as_str(), self.declared.get(name)) {
                    ("opt_in_at", _) => read_opt_in_time(cell)?,
                    (_, Some(ty)) => ty.read(cell)?,
                    (_, None) => Value::String(bounded(cell)?),
                };
                contact.fields.insert(name.clone(), value);
            }
            Target::SmsOptOut => {
                contact.sms_opt_out = FieldType::Boolean.read(cell)? == Value::Bool(true)
            }
            Target::EmailOptOut => {
                contact.email_opt_out = FieldType::Boolean.read(cell)? == Value::Bool(true);
            }
            Target::Ignore => {}
        }
        Ok(())
    }
}

/// A name or text cell of at most 200 characters.
fn bounded(cell: &str) -> Result<String, String> {
    if cell.chars().count() > 200 {
        return Err("at most 200 characters".into());
    }
    Ok(cell.to_owned())
}

/// A contact error without its field's name (the report has a column for it).
fn strip_field(message: &str) -> String {
    message
        .split_once(": ")
        .map_or(message, |(_, rest)| rest)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader<'a>(
        headers: &'a [String],
        targets: &'a [Target],
        declared: &'a BTreeMap<String, FieldType>,
    ) -> RowReader<'a> {
        RowReader {
            headers,
            targets,
            country: "US",
            declared,
            tags: &[],
        }
    }

    #[test]
    fn a_row_becomes_a_normalised_contact() {
        let headers: Vec<String> = ["Name", "Phone", "Email", "Tags", "Visits", "Consent"]
            .map(String::from)
            .to_vec();
        let targets = [
            Target::Name,
            Target::Phone,
            Target::Email,
            Target::Tags,
            Target::Field("visits".into()),
            Target::Field("opt_in_at".into()),
        ];
        let declared = BTreeMap::from([("visits".to_owned(), FieldType::Number)]);
        let r = reader(&headers, &targets, &declared);
        let c = r
            .read(
                2,
                &[
                    "Ana Maria Diaz",
                    "(512) 555-0100",
                    "Ana@Example.com",
                    "vip; spring",
                    "3",
                    "2026-01-02",
                ],
            )
            .unwrap();
        assert_eq!(c.first_name.as_deref(), Some("Ana"));
        assert_eq!(c.last_name.as_deref(), Some("Maria Diaz"));
        assert_eq!(c.phone.as_deref(), Some("+15125550100"));
        assert_eq!(c.email.as_deref(), Some("ana@example.com"));
        assert_eq!(c.tags, vec!["vip", "spring"]);
        assert_eq!(c.fields["visits"], Value::from(3));
        assert_eq!(c.fields["opt_in_at"], Value::from("2026-01-02T00:00:00Z"));
    }

    #[test]
    fn every_bad_cell_is_reported_with_its_line_and_column() {
        let headers: Vec<String> = ["Phone", "Email", "Visits"].map(String::from).to_vec();
        let targets = [Target::Phone, Target::Email, Target::Field("visits".into())];
        let declared = BTreeMap::from([("visits".to_owned(), FieldType::Number)]);
        let r = reader(&headers, &targets, &declared);
        let errors = r
            .read(7, &["555-01", "ana at example", "many"])
            .unwrap_err();
        let columns: Vec<_> = errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(columns, vec![(7, "Phone"), (7, "Email"), (7, "Visits")]);
        assert!(
            !errors[0].reason.starts_with("phone:"),
            "{}",
            errors[0].reason
        );
        let nobody = r.read(8, &["", " ", "2"]).unwrap_err();
        assert!(nobody[0].reason.contains("names no one"), "{nobody:?}");
    }
}
