//! The seam to a tenant's suppression list: the phone numbers and email addresses it must not
//! message. It is kept apart from contacts so that an opt-out outlives the contact that made
//! it: a contact deleted and created again, or a number that moves to another contact, stays
//! suppressed.
//!
//! Contract: every method takes the tenant and sees only its rows. The list only grows: no
//! method here lifts a suppression (opting back in is the person's own act, a START reply).
//! Every [`Store`](super::Store) puts a stored contact's `sms_opt_out` / `email_opt_out` on
//! the list in the same commit, and answers a contact whose phone or email is on it as
//! opted out, whatever its own flags say.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;

use super::{AuditEntry, Channel, StoreError, TimeCursor};
use crate::model::Contact;

/// One suppressed address.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suppression {
    pub channel: Channel,
    /// E.164 for `sms`, lower case for `email`.
    pub address: String,
    /// Why: `opt_out` when a contact's own opt-out put it here, else what the admin wrote.
    pub reason: String,
    /// The contact whose opt-out this was, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    pub created_at: Timestamp,
}

impl Suppression {
    /// The reason recorded when a contact's own opt-out put its address on the list.
    pub const OPT_OUT: &'static str = "opt_out";

    /// Where a newest-first page resumes after this entry.
    pub fn cursor(&self) -> TimeCursor {
        TimeCursor {
            at: self.created_at,
            id: format!("{}:{}", self.channel.as_str(), self.address),
        }
    }
}

/// Which suppressions to list; every field narrows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SuppressionFilter {
    pub channel: Option<Channel>,
    pub address: Option<String>,
}

/// The addresses a contact has opted out of, by channel: what storing it adds to the list.
pub fn opted_out_addresses(contact: &Contact) -> Vec<(Channel, &str)> {
    let sms = contact.phone.as_deref().filter(|_| contact.sms_opt_out);
    let email = contact.email.as_deref().filter(|_| contact.email_opt_out);
    [(Channel::Sms, sms), (Channel::Email, email)]
        .into_iter()
        .filter_map(|(channel, address)| address.map(|a| (channel, a)))
        .collect()
}

#[async_trait]
pub trait Suppressions: Send + Sync + std::fmt::Debug {
    /// Adds an address, with its audit entry, in one commit. An address on the list already
    /// keeps its first entry, which is answered with `false`; nothing is written then.
    async fn suppress(
        &self,
        tenant_id: &str,
        entry: &Suppression,
        audit: &AuditEntry,
    ) -> Result<(Suppression, bool), StoreError>;
    /// A page of the list, newest first, strictly after `after`.
    async fn list_suppressions(
        &self,
        tenant_id: &str,
        filter: &SuppressionFilter,
        after: Option<&TimeCursor>,
        limit: u32,
    ) -> Result<Vec<Suppression>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_is_suppressed_only_where_it_opted_out_and_has_an_address() {
        let mut contact = Contact {
            phone: Some("+15125550100".into()),
            email_opt_out: true,
            ..Contact::default()
        };
        assert!(
            opted_out_addresses(&contact).is_empty(),
            "no email to suppress"
        );
        contact.sms_opt_out = true;
        contact.email = Some("ana@example.com".into());
        assert_eq!(
            opted_out_addresses(&contact),
            vec![
                (Channel::Sms, "+15125550100"),
                (Channel::Email, "ana@example.com")
            ]
        );
    }
}
