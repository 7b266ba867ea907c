//! Contacts as they come in, by one rule for `POST /v1/events`, the contacts API and webhooks
//! alike: a given contact is checked and normalised (its phone in E.164 with the tenant's
//! region, its email's shape, its declared custom fields typed, its zone an IANA one, an id
//! made when it has none), found by [`identity`](super::identity) (its id, else its phone,
//! else its email, never another phone's owner) and merged into the stored one (given
//! values win, tags and fields are added, an opt-out is never cleared), or created. The API
//! only maps the answers to HTTP.

use serde_json::Value;

use super::{Inbound, identity};
use crate::error::EngineError;
use crate::model::{Contact, ContactChange, Event, RunId};
use crate::ports::StoreError;
use crate::runtime::{ContactWrite, IngestOutcome, run_id_for};

/// Why a contact write or an event's contact was refused.
#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    /// The contact given is not one: no id, phone or email; a bad phone, email, zone, id or
    /// declared field.
    #[error("{0}")]
    Invalid(String),
    /// `contact_id` names no contact of the tenant.
    #[error("contact {0} does not exist")]
    Unknown(String),
    /// A new contact's id is taken.
    #[error("contact {0} exists; change it with PATCH or POST /v1/contacts/upsert")]
    Exists(String),
    /// The phone is another contact's (a phone number names one contact of a tenant).
    #[error("{what}: contact {contact_id}; two contacts cannot share a phone")]
    PhoneTaken { what: String, contact_id: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<StoreError> for ContactError {
    fn from(e: StoreError) -> Self {
        Self::Engine(e.into())
    }
}

impl From<ContactError> for EngineError {
    /// For callers without HTTP codes of their own (webhooks): what the contact got wrong is
    /// the input's fault; a taken id or phone is a conflict.
    fn from(e: ContactError) -> Self {
        match e {
            ContactError::Engine(e) => e,
            ContactError::Invalid(m) => EngineError::InvalidInput(m),
            unknown @ ContactError::Unknown(_) => EngineError::InvalidInput(unknown.to_string()),
            other => EngineError::WrongState(other.to_string()),
        }
    }
}

/// How an event names its contact.
#[derive(Debug, Clone)]
pub enum ContactRef {
    /// Inline: found by id, else phone, else email, merged, or created.
    Given(Contact),
    /// An existing contact's id.
    Id(String),
}

/// A contact id: 1–128 letters, digits and `._:@+-`.
pub fn check_contact_id(id: &str) -> Result<(), ContactError> {
    let ok = (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:@+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ContactError::Invalid(format!(
            "id: {id:?} is not a contact id (1–128 letters, digits and ._:@+-)"
        )))
    }
}

impl Inbound {
    /// Checks and normalises `contact` as the tenant reads it; gives it an id if it has none.
    pub async fn prepare(
        &self,
        tenant_id: &str,
        contact: &mut Contact,
    ) -> Result<(), ContactError> {
        let settings = self.engine.tenant(tenant_id).await?;
        contact
            .normalise(&settings.country)
            .map_err(ContactError::Invalid)?;
        // Declared custom fields hold their type here as in imports and segments.
        crate::audience::fields::type_fields(&settings.custom_fields, &mut contact.fields)
            .map_err(ContactError::Invalid)?;
        if let Some(zone) = &contact.timezone
            && jiff::tz::TimeZone::get(zone).is_err()
        {
            return Err(ContactError::Invalid(format!(
                "timezone: {zone:?} is not an IANA time zone"
            )));
        }
        if contact.id.is_empty() {
            contact.id = format!("ct_{}", uuid::Uuid::now_v7().simple());
        }
        check_contact_id(&contact.id)
    }

    /// What [`Inbound::upsert`] would store, without storing it: the contact found by id,
    /// else phone, else email, with `contact` merged in, and the stored version found; or
    /// `contact` itself, new (prepared), and `None`.
    pub async fn resolve(
        &self,
        tenant_id: &str,
        mut contact: Contact,
    ) -> Result<(Contact, Option<Contact>), ContactError> {
        check_named(&contact)?;
        let given_id = !contact.id.is_empty();
        self.prepare(tenant_id, &mut contact).await?;
        let existing = if given_id {
            self.engine.store.contact(tenant_id, &contact.id).await.ok()
        } else {
            identity::same_person(self.listings.as_ref(), tenant_id, &contact).await?
        };
        Ok(match existing {
            Some(found) => {
                let mut merged = found.overlay(contact);
                merged.id.clone_from(&found.id);
                (merged, Some(found))
            }
            None => (contact, None),
        })
    }

    /// Finds the contact by id, else phone, else email, and merges `contact` into it; or
    /// creates it. Answers the contact as stored and whether it was created.
    pub async fn upsert(
        &self,
        tenant_id: &str,
        contact: Contact,
    ) -> Result<(Contact, bool), ContactError> {
        let given = contact.clone();
        match self.resolve(tenant_id, contact).await? {
            (contact, None) => match self.engine.store.create_contact(tenant_id, &contact).await {
                Ok(()) => Ok((contact, true)),
                // Created by another request a moment ago: merge into it instead.
                Err(StoreError::Exists { .. }) => match self.resolve(tenant_id, given).await? {
                    (merged, Some(found)) => {
                        Ok((self.change(tenant_id, &found, &merged).await?, false))
                    }
                    (contact, None) => self
                        .create(tenant_id, &contact)
                        .await
                        .map(|()| (contact, true)),
                },
                Err(e) => Err(e.into()),
            },
            (merged, Some(found)) => Ok((self.change(tenant_id, &found, &merged).await?, false)),
        }
    }

    /// Stores a new (prepared) contact.
    pub async fn create(&self, tenant_id: &str, contact: &Contact) -> Result<(), ContactError> {
        let store = &self.engine.store;
        match store.create_contact(tenant_id, contact).await {
            Ok(()) => Ok(()),
            Err(StoreError::Exists { .. })
                if store.contact(tenant_id, &contact.id).await.is_ok() =>
            {
                Err(ContactError::Exists(contact.id.clone()))
            }
            Err(e) => Err(self.refused(tenant_id, contact.phone.as_deref(), e).await),
        }
    }

    /// Stores what changed between `read` and `changed` on the contact's latest version, so
    /// a change made meanwhile (an opt-out above all) is kept; answers the contact as stored.
    pub async fn change(
        &self,
        tenant_id: &str,
        read: &Contact,
        changed: &Contact,
    ) -> Result<Contact, ContactError> {
        let change = ContactChange::between(read, changed);
        match self
            .engine
            .store
            .change_contact(tenant_id, &read.id, &change)
            .await
        {
            Ok(stored) => Ok(stored),
            Err(e) => Err(self.refused(tenant_id, changed.phone.as_deref(), e).await),
        }
    }

    /// A write the store refused: a phone another contact has names that contact.
    async fn refused(&self, tenant_id: &str, phone: Option<&str>, e: StoreError) -> ContactError {
        let StoreError::Exists { what } = e else {
            return e.into();
        };
        match self
            .listings
            .contact_by_address(tenant_id, phone, None)
            .await
        {
            Ok(found) => ContactError::PhoneTaken {
                what,
                contact_id: found.map(|c| c.id).unwrap_or_default(),
            },
            Err(e) => e.into(),
        }
    }

    /// Ingests `event` for the contact it names; answers the contact's id and the outcome. A
    /// repeat of an event with an external id answers the runs its first copy started.
    pub async fn accept_event(
        &self,
        tenant_id: &str,
        named: ContactRef,
        event: Event,
    ) -> Result<(String, IngestOutcome), ContactError> {
        let (source, external_id) = (event.source.clone(), event.external_id.clone());
        let (contact_id, mut outcome) = match named {
            ContactRef::Given(given) => self.for_given(tenant_id, given, event).await?,
            ContactRef::Id(id) => {
                let stored = self
                    .engine
                    .store
                    .contact(tenant_id, &id)
                    .await
                    .map_err(|_| ContactError::Unknown(id.clone()))?;
                let outcome = self
                    .engine
                    .ingest_with_contact(tenant_id, stored, ContactWrite::Stored, event)
                    .await?;
                (id, outcome)
            }
        };
        if outcome.duplicate
            && let Some(external_id) = external_id
        {
            outcome.started = self.first_runs(tenant_id, &source, &external_id).await?;
        }
        Ok((contact_id, outcome))
    }

    /// Ingests `event` for its inline contact.
    async fn for_given(
        &self,
        tenant_id: &str,
        given: Contact,
        event: Event,
    ) -> Result<(String, IngestOutcome), ContactError> {
        // An inline contact is most often new (a web-form lead): it is stored as new with the
        // event, in one commit, with no lookup first. Only a known one costs the lookup.
        check_named(&given)?;
        let mut contact = given.clone();
        self.prepare(tenant_id, &mut contact).await?;
        if let Some(outcome) = self
            .engine
            .ingest_new_contact(tenant_id, &contact, &event)
            .await?
        {
            return Ok((contact.id, outcome));
        }
        self.ingest_resolved(tenant_id, given, |c| c, event).await
    }

    /// Ingests `event` for the contact `given` names, found (and merged) or created, with
    /// `change` applied to it. The engine stores the contact only if the event is new.
    pub(super) async fn ingest_resolved(
        &self,
        tenant_id: &str,
        given: Contact,
        change: impl FnOnce(Contact) -> Contact,
        event: Event,
    ) -> Result<(String, IngestOutcome), ContactError> {
        let (contact, found) = self.resolve(tenant_id, given).await?;
        let write = match found {
            None => ContactWrite::Create,
            Some(read) => ContactWrite::Put {
                read: Box::new(read),
            },
        };
        let contact = change(contact);
        let (contact_id, phone) = (contact.id.clone(), contact.phone.clone());
        match self
            .engine
            .ingest_with_contact(tenant_id, contact, write, event)
            .await
        {
            Ok(outcome) => Ok((contact_id, outcome)),
            // A new id with a phone another contact has.
            Err(EngineError::Store(e @ StoreError::Exists { .. })) => {
                Err(self.refused(tenant_id, phone.as_deref(), e).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The runs the first copy of an event started: run ids derive from the event's source,
    /// external id and flow.
    async fn first_runs(
        &self,
        tenant_id: &str,
        source: &str,
        external_id: &str,
    ) -> Result<Vec<RunId>, ContactError> {
        let mut runs = Vec::new();
        for flow in self.engine.live_flows(tenant_id).await? {
            let id = run_id_for(tenant_id, source, external_id, &flow.flow_id);
            if self.engine.store.run(tenant_id, id).await.is_ok() {
                runs.push(id);
            }
        }
        Ok(runs)
    }
}

/// A given contact must say who it is.
fn check_named(contact: &Contact) -> Result<(), ContactError> {
    if contact.id.is_empty() && contact.phone.is_none() && contact.email.is_none() {
        return Err(ContactError::Invalid(
            "name the contact by id, phone or email".into(),
        ));
    }
    Ok(())
}

/// The JSON of a contact given with a webhook's event.
pub(super) fn given_contact(
    contact: serde_json::Map<String, Value>,
) -> Result<Contact, EngineError> {
    serde_json::from_value(Value::Object(contact))
        .map_err(|e| EngineError::InvalidInput(format!("the contact: {e}")))
}
