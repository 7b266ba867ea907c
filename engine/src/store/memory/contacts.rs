//! Contacts and the events that bring them, in the memory store: each write happens under the
//! store's one lock, as one transaction does in the SQL stores. Contacts' opt-outs go on the
//! suppression list, and reads answer a suppressed address as opted out.

use super::{TenantData, not_found};
use crate::model::{Contact, ContactChange, Run};
use crate::ports::{
    Channel, EventContact, EventInsert, StoreError, StoredEvent, opted_out_addresses,
};
use crate::runtime::StepRecord;

impl TenantData {
    /// Stores a contact and puts its opt-outs on the suppression list.
    pub(super) fn store_contact(&mut self, contact: Contact) {
        for (channel, address) in opted_out_addresses(&contact) {
            self.suppressed.insert((channel, address.to_owned()));
        }
        self.contacts.insert(contact.id.clone(), contact);
    }

    /// A stored contact as reads answer it: opted out where its address is suppressed.
    pub(super) fn read_contact(&self, contact_id: &str) -> Option<Contact> {
        Some(self.with_suppressions(self.contacts.get(contact_id)?.clone()))
    }

    /// `contact` opted out where its address is suppressed.
    pub(super) fn with_suppressions(&self, mut contact: Contact) -> Contact {
        let on_list = |channel, address: &Option<String>| {
            address
                .as_ref()
                .is_some_and(|a| self.suppressed.contains(&(channel, a.clone())))
        };
        contact.sms_opt_out |= on_list(Channel::Sms, &contact.phone);
        contact.email_opt_out |= on_list(Channel::Email, &contact.email);
        contact
    }

    /// A phone names one contact of a tenant.
    pub(super) fn check_phone(&self, contact: &Contact) -> Result<(), StoreError> {
        let taken = contact.phone.is_some()
            && self
                .contacts
                .values()
                .any(|c| c.id != contact.id && c.phone == contact.phone);
        if taken {
            return Err(StoreError::Exists {
                what: format!(
                    "a contact with phone {}",
                    contact.phone.as_deref().unwrap_or_default()
                ),
            });
        }
        Ok(())
    }

    pub(super) fn change_contact(
        &mut self,
        contact_id: &str,
        change: &ContactChange,
    ) -> Result<Contact, StoreError> {
        let stored = self
            .contacts
            .get(contact_id)
            .ok_or_else(|| not_found(format!("contact {contact_id}")))?;
        let changed = change.apply_to(stored);
        self.check_phone(&changed)?;
        self.store_contact(changed);
        self.read_contact(contact_id)
            .ok_or_else(|| not_found(format!("contact {contact_id}")))
    }

    /// The event, its contact and its runs, unless the event or the contact is known.
    pub(super) fn record_first_event(
        &mut self,
        event: &StoredEvent,
        contact: &Contact,
        runs: Vec<(Run, Vec<StepRecord>)>,
    ) -> bool {
        let key = (event.event.source.clone(), event.external_id().to_owned());
        let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
        let known = self.events.contains_key(&key)
            || self.contacts.values().any(|c| {
                c.id == contact.id
                    || same(&c.phone, &contact.phone)
                    || same(&c.email, &contact.email)
            });
        if known {
            return false;
        }
        self.events.insert(key, (event.id.clone(), true));
        self.store_contact(contact.clone());
        for (run, records) in runs {
            if !self.runs.contains_key(&run.id) {
                self.records.insert(run.id, records);
                self.runs.insert(run.id, run);
            }
        }
        true
    }

    /// The event, unprocessed, and its contact, unless the event is known. A contact refused
    /// (a phone taken) leaves no event behind.
    pub(super) fn record_event(
        &mut self,
        event: &StoredEvent,
        contact: Option<EventContact<'_>>,
    ) -> Result<EventInsert, StoreError> {
        let key = (event.event.source.clone(), event.external_id().to_owned());
        if let Some((id, processed)) = self.events.get(&key) {
            return Ok(EventInsert::Duplicate {
                id: id.clone(),
                processed: *processed,
            });
        }
        match contact {
            Some(EventContact::New(contact)) => {
                self.check_phone(contact)?;
                self.store_contact(contact.clone());
            }
            // A contact deleted meanwhile stays deleted, as in the SQL stores.
            Some(EventContact::Change(id, change)) if self.contacts.contains_key(id) => {
                self.change_contact(id, change)?;
            }
            Some(EventContact::Change(..)) | None => {}
        }
        self.events.insert(key, (event.id.clone(), false));
        Ok(EventInsert::Inserted)
    }
}
