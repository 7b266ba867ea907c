//! The first event of a new contact (a web-form lead, say): the contact has no runs to
//! cancel, resume or weigh against `concurrency`, so nothing needs reading first, and the
//! event, the contact and the runs the event starts are stored in one commit, with the event
//! already marked processed. Half the commits of the general path, which stores the event
//! before it knows what the event does.

use uuid::Uuid;

use super::engine::{Engine, IngestOutcome};
use super::start::name_started;
use crate::error::EngineError;
use crate::model::{Contact, Event};
use crate::ports::StoredEvent;

impl Engine {
    /// Ingests the first event of `contact`, a contact not stored yet. Answers `None`, having
    /// stored nothing, when the event was seen before (the general path answers a repeat) or
    /// the contact turns out to be stored (by id, phone or email) after all.
    pub async fn ingest_new_contact(
        &self,
        tenant_id: &str,
        contact: &Contact,
        event: &Event,
    ) -> Result<Option<IngestOutcome>, EngineError> {
        let now = self.clock.now();
        let stored = StoredEvent {
            id: Uuid::now_v7().to_string(),
            event: event.clone(),
            contact_id: Some(contact.id.clone()),
            received_at: now,
        };
        let tenant = self.tenant(tenant_id).await?;
        let mut outcome = IngestOutcome {
            event_id: stored.id.clone(),
            ..IngestOutcome::default()
        };
        let triggered = self.triggered_by(tenant_id, event).await?;
        let listed = self
            .as_listed(tenant_id, &triggered, contact, false)
            .await?;
        let new_runs = self
            .triggered_runs(
                &tenant,
                triggered,
                listed.as_ref().unwrap_or(contact),
                true,
                event,
                &stored.id,
                false,
                &mut outcome,
            )
            .await?;
        let started = new_runs.len();
        let wake = name_started(tenant_id, &new_runs, &mut outcome);
        if !self
            .store
            .record_first_event(tenant_id, &stored, contact, new_runs)
            .await?
        {
            return Ok(None);
        }
        super::metrics::event_ingested();
        (0..started).for_each(|_| super::metrics::run_started());
        // After the commit; a crash in between leaves the runs to the reconciler.
        for task in wake {
            self.queue.schedule(task, now).await?;
        }
        self.unheard(tenant_id, event, &mut outcome).await?;
        Ok(Some(outcome))
    }
}
