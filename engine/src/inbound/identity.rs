//! Who an incoming contact is: the one rule `/v1/events`, contact upserts and webhooks share.
//!
//! An id names the contact. Without one, the phone does, else the email. A stored contact
//! found by email but holding another phone is a different person sharing the inbox (a
//! family's address): the incoming contact is new, and no stored phone is ever overwritten to
//! make them one.

use crate::model::Contact;
use crate::ports::{Listings, StoreError};

/// The stored contact `given` (already normalised, without an id) is, if any.
pub async fn same_person(
    listings: &dyn Listings,
    tenant_id: &str,
    given: &Contact,
) -> Result<Option<Contact>, StoreError> {
    let found = listings
        .contact_by_address(tenant_id, given.phone.as_deref(), given.email.as_deref())
        .await?;
    Ok(found.filter(|stored| !different_phones(stored, given)))
}

/// Both have a phone, and not the same one.
fn different_phones(stored: &Contact, given: &Contact) -> bool {
    matches!((&stored.phone, &given.phone), (Some(a), Some(b)) if a != b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(phone: Option<&str>, email: Option<&str>) -> Contact {
        Contact {
            id: "c".into(),
            phone: phone.map(str::to_owned),
            email: email.map(str::to_owned),
            ..Contact::default()
        }
    }

    #[test]
    fn a_shared_inbox_never_takes_over_another_phone() {
        let mom = contact(Some("+15125550100"), Some("family@example.com"));
        let kid = contact(Some("+15125550111"), Some("family@example.com"));
        assert!(
            different_phones(&mom, &kid),
            "found by email with another phone: a new person"
        );
        assert!(!different_phones(
            &mom,
            &contact(None, Some("family@example.com"))
        ));
        assert!(
            !different_phones(&contact(None, Some("family@example.com")), &kid),
            "a phone is added, none replaced"
        );
        assert!(!different_phones(
            &mom,
            &contact(Some("+15125550100"), None)
        ));
    }
}
