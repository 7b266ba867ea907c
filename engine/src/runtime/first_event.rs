//! The first event of a new contact (a web-form lead, say): the contact has no runs to
//! cancel, resume or weigh against `concurrency`, so nothing needs reading first, and the
//! event, the contact and the runs the event starts are stored in one commit, with the event
//! already marked processed. Half the commits of the general path, which stores the event
//! before it knows what the event does.

use uuid::Uuid;

use super::engine::{Engine, IngestOutcome};
use super::ingest::{ready_task, run_id_for};
use crate::error::EngineError;
use crate::model::{Contact, Event};
use crate::ports::{EventInsert, StoredEvent};

impl Engine {
    /// Ingests the first event of `contact`, whose id was never stored. Answers `None`, having
    /// stored nothing, when the event was seen before: the general path answers a repeat.
    pub(super) async fn ingest_first_event(
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
        let external_id = event.external_id.as_deref().unwrap_or(&stored.id);
        let mut new_runs = Vec::new();
        for d in self.live(tenant_id).await? {
            if d.flow.flow.trigger.event.as_deref() != Some(event.event_type.as_str()) {
                continue;
            }
            let run_id = run_id_for(tenant_id, &event.source, external_id, d.flow.id());
            if let Some(new_run) = self
                .prepare_start(
                    &d,
                    &tenant,
                    contact,
                    true,
                    event,
                    run_id,
                    None,
                    &mut outcome,
                )
                .await?
            {
                new_runs.push(new_run);
            }
        }
        let wake: Vec<_> = new_runs
            .iter()
            .filter_map(|(run, _)| ready_task(tenant_id, run))
            .collect();
        let started: Vec<_> = new_runs.iter().map(|(run, _)| run.id).collect();
        let inserted = self
            .store
            .record_event_and_start(tenant_id, &stored, contact, new_runs)
            .await?;
        if inserted != EventInsert::Inserted {
            return Ok(None);
        }
        super::metrics::event_ingested();
        started.iter().for_each(|_| super::metrics::run_started());
        outcome.started = started;
        // After the commit; a crash in between leaves the runs to the reconciler.
        for task in wake {
            self.queue.schedule(task, now).await?;
        }
        Ok(Some(outcome))
    }
}
