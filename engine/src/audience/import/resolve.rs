//! Which contact a row of an import is, by the engine's identity rule (see
//! [`crate::inbound::identity`]): the contact with its phone, else the one with its email
//! unless that one holds another phone (a shared inbox is two people). A row never rewrites
//! a stored phone.

use super::model::{ImportCounts, OnExisting};
use crate::model::Contact;

/// What to do with one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Create(Contact),
    /// The stored contact with the row merged in.
    Update(Contact),
    /// An existing contact left as it is (`existing: skip`, or nothing new in the row).
    Skip,
}

impl Decision {
    /// Counts the decision.
    pub fn count(&self, counts: &mut ImportCounts) {
        match self {
            Self::Create(_) => counts.created += 1,
            Self::Update(_) => counts.updated += 1,
            Self::Skip => counts.skipped += 1,
        }
    }
}

/// The decision for `row` (normalised, without an id) given the stored contact with its
/// phone and the one with its email.
pub fn decide(
    row: Contact,
    by_phone: Option<&Contact>,
    by_email: Option<&Contact>,
    existing: OnExisting,
) -> Decision {
    let by_email = by_email.filter(|stored| match (&stored.phone, &row.phone) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    });
    let found = if row.phone.is_some() {
        by_phone.or(by_email.filter(|stored| stored.phone.is_none()))
    } else {
        by_email
    };
    match found {
        None => {
            let mut new = row;
            new.id = format!("ct_{}", uuid::Uuid::now_v7().simple());
            Decision::Create(new)
        }
        Some(_) if existing == OnExisting::Skip => Decision::Skip,
        Some(stored) => {
            let merged = stored.overlay(row);
            if merged == *stored {
                Decision::Skip
            } else {
                Decision::Update(merged)
            }
        }
    }
}

/// The key a row is known by within its file: its phone, else its email.
pub fn file_key(row: &Contact) -> Option<&str> {
    row.phone.as_deref().or(row.email.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(id: &str, phone: Option<&str>, email: Option<&str>) -> Contact {
        Contact {
            id: id.into(),
            phone: phone.map(str::to_owned),
            email: email.map(str::to_owned),
            ..Contact::default()
        }
    }

    #[test]
    fn a_row_is_the_contact_with_its_phone_else_its_email() {
        let mom = contact("mom", Some("+15125550100"), Some("family@example.com"));
        let mut row = contact("", Some("+15125550100"), None);
        row.first_name = Some("Ana".into());
        let Decision::Update(merged) = decide(row.clone(), Some(&mom), None, OnExisting::Update)
        else {
            panic!("not an update");
        };
        assert_eq!(merged.id, "mom");
        assert_eq!(merged.first_name.as_deref(), Some("Ana"));
        assert_eq!(
            decide(row, Some(&mom), None, OnExisting::Skip),
            Decision::Skip
        );

        // The kid shares the family inbox with another phone: a new person.
        let kid = contact("", Some("+15125550111"), Some("family@example.com"));
        let Decision::Create(new) = decide(kid, None, Some(&mom), OnExisting::Update) else {
            panic!("not a new contact");
        };
        assert!(new.id.starts_with("ct_"), "{}", new.id);
        assert_eq!(new.phone.as_deref(), Some("+15125550111"));

        // An email-only row is the contact with that email; nothing new is no write.
        let email_only = contact("", None, Some("family@example.com"));
        assert_eq!(
            decide(email_only, None, Some(&mom), OnExisting::Update),
            Decision::Skip
        );
        // A phone is added to an email-only contact, never replaced.
        let no_phone = contact("x", None, Some("solo@example.com"));
        let row = contact("", Some("+15125550122"), Some("solo@example.com"));
        let Decision::Update(merged) = decide(row, None, Some(&no_phone), OnExisting::Update)
        else {
            panic!("not an update");
        };
        assert_eq!(merged.phone.as_deref(), Some("+15125550122"));
    }
}
