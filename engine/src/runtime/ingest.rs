//! Event ingestion: an event for a contact is stored (once per source and external id), then
//! cancels the runs whose `cancel_on` names it, resumes runs waiting for it (when their `match`
//! accepts it), and starts runs of the flows it triggers, honouring `when` and `concurrency`.
//!
//! Crash safety without one big transaction: the event is stored unprocessed first and marked
//! processed last, in the commit that creates its new runs; every effect in between is
//! idempotent (a started run's id derives from the event and the flow, so it is created once;
//! resumes and cancels are `seq`-guarded transitions). A new contact's first event is simpler
//! still (`first_event.rs`); which runs an event starts is decided in `start.rs`. An event whose processing was interrupted is processed again when its sender
//! retries it, and every run created is visible to the reconciler (`wake_at` = now).

use serde_json::{Value, json};
use uuid::Uuid;

use super::advance::RunCx;
use super::engine::{Engine, IngestOutcome};
use super::record::{Happening, StepRecord};
use super::start::name_started;
use crate::error::EngineError;
use crate::model::{Contact, ContactChange, Event, Run, RunId, RunStatus, Tenant};
use crate::ports::{AdvanceTask, EventContact, EventInsert, StoreError, StoredEvent};

/// How often a resume or cancel is retried when a worker moved the run at the same moment.
const CONFLICT_RETRIES: usize = 5;

/// The id of the run an event starts for a flow: derived from the tenant and what identifies
/// the event to its sender (source and external id, else our event id), so every retry of the
/// event names the same run and a client can compute it. The tenant is part of it so that two
/// tenants' runs (and the idempotency keys their sends carry) never share an id.
pub fn run_id_for(tenant_id: &str, source: &str, external_id: &str, flow_id: &str) -> RunId {
    let name = format!("stepwise/{tenant_id}/{source}/{external_id}/{flow_id}");
    RunId(Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes()))
}

/// How the contact of an ingested event reaches the store.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactWrite {
    /// Stored already (named by id).
    Stored,
    /// Stored with the event when the event is new: found stored as `read` and merged, what
    /// changed is applied to the latest stored version.
    Put { read: Box<Contact> },
    /// Stored with the event when the event is new; its id was never stored, so it has no
    /// runs to cancel or resume and none are looked for.
    Create,
}

enum Reaction {
    Cancelled,
    Resumed(AdvanceTask),
    /// Its `match` could not be evaluated: the run failed (its flow's fault, not the event's).
    Failed,
}

impl Engine {
    /// Ingests an event for a contact. A repeat of an event already processed does nothing
    /// and answers `duplicate: true`.
    pub async fn ingest(
        &self,
        tenant_id: &str,
        contact_id: &str,
        mut event: Event,
    ) -> Result<IngestOutcome, EngineError> {
        let asked = self.mark_takeover(tenant_id, &mut event).await?;
        let outcome = self
            .ingest_with(tenant_id, contact_id, None, ContactWrite::Stored, event)
            .await?;
        self.alert_takeover(tenant_id, asked, &outcome).await?;
        Ok(outcome)
    }

    /// A contact's message that asks for a person is marked so (`data.takeover`), which its
    /// conversation and flows read (see [`crate::inbox::takeover`]); answers the alert to
    /// send the team once the event is in.
    async fn mark_takeover(
        &self,
        tenant_id: &str,
        event: &mut Event,
    ) -> Result<Option<String>, EngineError> {
        if event.event_type != "message.received" {
            return Ok(None);
        }
        let tenant = self.tenant(tenant_id).await?;
        crate::inbox::takeover::mark(&tenant.takeover, event);
        Ok(crate::inbox::takeover::asked_alert(event))
    }

    /// Tells the team that a contact asked for a person, unless the event was a repeat.
    async fn alert_takeover(
        &self,
        tenant_id: &str,
        asked: Option<String>,
        outcome: &IngestOutcome,
    ) -> Result<(), EngineError> {
        if let Some(text) = asked.filter(|_| !outcome.duplicate) {
            let tenant = self.tenant(tenant_id).await?;
            let key = format!("takeover:{}", outcome.event_id);
            self.alert_staff(&tenant, stepwise_core::NotifyAudience::Team, text, &key);
        }
        Ok(())
    }

    /// Ingests an event for a contact the caller has in hand (no re-read), stored as `write`
    /// says. A repeat of an event already processed changes nothing, not even the contact.
    pub async fn ingest_with_contact(
        &self,
        tenant_id: &str,
        contact: Contact,
        write: ContactWrite,
        mut event: Event,
    ) -> Result<IngestOutcome, EngineError> {
        let asked = self.mark_takeover(tenant_id, &mut event).await?;
        let outcome = if write == ContactWrite::Create
            && let Some(outcome) = self.ingest_new_contact(tenant_id, &contact, &event).await?
        {
            outcome
        } else {
            let contact_id = contact.id.clone();
            self.ingest_with(tenant_id, &contact_id, Some(contact), write, event)
                .await?
        };
        self.alert_takeover(tenant_id, asked, &outcome).await?;
        Ok(outcome)
    }

    /// Ingests with the contact already in hand (stored first when `put_contact`), or read
    /// from the store.
    async fn ingest_with(
        &self,
        tenant_id: &str,
        contact_id: &str,
        contact: Option<Contact>,
        write: ContactWrite,
        event: Event,
    ) -> Result<IngestOutcome, EngineError> {
        let now = self.clock.now();
        let stored = StoredEvent {
            id: Uuid::now_v7().to_string(),
            event: event.clone(),
            contact_id: Some(contact_id.to_owned()),
            received_at: now,
        };
        let change = match (&write, &contact) {
            // An event that changes nothing about its contact does not rewrite it.
            (ContactWrite::Put { read }, Some(merged)) => {
                Some(ContactChange::between(read, merged)).filter(|change| !change.is_empty())
            }
            _ => None,
        };
        let brought = match (&write, &contact, &change) {
            (ContactWrite::Create, Some(new), _) => Some(EventContact::New(new)),
            (_, _, Some(change)) => Some(EventContact::Change(contact_id, change)),
            _ => None,
        };
        let inserted = self.store.record_event(tenant_id, &stored, brought).await?;
        let (event_id, replay) = match inserted {
            EventInsert::Inserted => {
                super::metrics::event_ingested();
                (stored.id, false)
            }
            EventInsert::Duplicate {
                id,
                processed: true,
            } => {
                return Ok(IngestOutcome {
                    event_id: id,
                    duplicate: true,
                    ..IngestOutcome::default()
                });
            }
            // Stored before, but its processing was interrupted: do what is left.
            EventInsert::Duplicate {
                id,
                processed: false,
            } => {
                // The contact of an interrupted first attempt may not have been stored.
                match brought {
                    Some(EventContact::New(new)) => self.store.put_contact(tenant_id, new).await?,
                    Some(EventContact::Change(contact, change)) => {
                        // A contact deleted meanwhile stays deleted, as on the first attempt.
                        match self.store.change_contact(tenant_id, contact, change).await {
                            Ok(_) | Err(StoreError::NotFound { .. }) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                    None => {}
                }
                (id, true)
            }
        };
        let tenant = self.tenant(tenant_id).await?;
        let contact = match contact {
            Some(contact) => contact,
            None => self.store.contact(tenant_id, contact_id).await?,
        };
        let mut outcome = IngestOutcome {
            event_id: event_id.clone(),
            ..IngestOutcome::default()
        };
        let mut wake = Vec::new();
        let active = match write {
            ContactWrite::Create => Vec::new(),
            ContactWrite::Stored | ContactWrite::Put { .. } => {
                self.store.active_runs(tenant_id, contact_id).await?
            }
        };
        // A contact the event brought was not read with the suppression list; what judges it
        // (`match`, `when`) must see its listed addresses as opted out.
        let triggered = self.triggered_by(tenant_id, &event).await?;
        let contact = match write {
            ContactWrite::Stored => contact,
            _ => {
                let listed = self
                    .as_listed(tenant_id, &triggered, &contact, !active.is_empty())
                    .await?;
                listed.unwrap_or(contact)
            }
        };
        for run in active {
            let mut run = run;
            for attempt in 0.. {
                match self.react(&tenant, &contact, run.clone(), &event).await {
                    Ok(None) => break,
                    Ok(Some(Reaction::Cancelled)) => {
                        outcome.cancelled.push(run.id);
                        break;
                    }
                    Ok(Some(Reaction::Resumed(task))) => {
                        outcome.resumed.push(run.id);
                        wake.push(task);
                        break;
                    }
                    Ok(Some(Reaction::Failed)) => {
                        outcome.failed.push(run.id);
                        break;
                    }
                    Err(EngineError::InvalidDefinition(diagnostics)) => {
                        self.fail_unloadable(tenant_id, run.clone(), &diagnostics)
                            .await?;
                        outcome.failed.push(run.id);
                        break;
                    }
                    Err(EngineError::Store(StoreError::Conflict { .. }))
                        if attempt < CONFLICT_RETRIES =>
                    {
                        run = self.store.run(tenant_id, run.id).await?;
                        if !run.status.is_active() {
                            break;
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let new_runs = self
            .triggered_runs(
                &tenant,
                triggered,
                &contact,
                false,
                &event,
                &event_id,
                replay,
                &mut outcome,
            )
            .await?;
        // The new runs and the event's processed mark commit together; the queue hears of
        // them after the commit (a crash in between leaves them to the reconciler).
        let started = new_runs.len();
        wake.extend(name_started(tenant_id, &new_runs, &mut outcome));
        if self
            .store
            .start_runs(tenant_id, new_runs, &event_id)
            .await?
        {
            (0..started).for_each(|_| super::metrics::run_started());
        }
        for task in wake {
            self.queue.schedule(task, now).await?;
        }
        self.unheard(tenant_id, &event, &mut outcome).await?;
        Ok(outcome)
    }

    /// What `event` does to one active run of the contact, committed.
    async fn react(
        &self,
        tenant: &Tenant,
        contact: &Contact,
        run: Run,
        event: &Event,
    ) -> Result<Option<Reaction>, EngineError> {
        let d = self
            .deployment(&tenant.id, &run.flow_id, run.flow_version)
            .await?;
        let seq = run.seq;
        if d.flow.flow.cancel_on.contains(&event.event_type) {
            let mut cx = self.run_cx(&d, tenant, contact.clone(), run);
            cx.end(
                RunStatus::Cancelled,
                format!("{} arrived (cancel_on)", event.event_type),
            );
            self.commit(&tenant.id, seq, cx, None).await?;
            return Ok(Some(Reaction::Cancelled));
        }
        let waits_for_it = run
            .waiting
            .as_ref()
            .is_some_and(|w| w.takes(&event.event_type));
        if run.status != RunStatus::Waiting || !waits_for_it {
            return Ok(None);
        }
        let mut cx = self.run_cx(&d, tenant, contact.clone(), run);
        match self.accepts(&mut cx, event) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(message) => {
                let reason = format!("the `match` of the wait could not be evaluated: {message}");
                cx.end(RunStatus::Failed, reason);
                self.commit(&tenant.id, seq, cx, None).await?;
                return Ok(Some(Reaction::Failed));
            }
        }
        let step = d
            .flow
            .meta(cx.run.pc)
            .map(|m| m.id.clone())
            .unwrap_or_default();
        let event_json = serde_json::to_value(event).unwrap_or(Value::Null);
        let woke = Happening::Woke {
            by: event.event_type.clone(),
        };
        cx.records.push(StepRecord {
            at: cx.now,
            step: Some(step.clone()),
            attempt: 0,
            what: woke,
        });
        cx.run.outputs.insert(
            step,
            json!({ "received": true, "timed_out": false, "event": event_json }),
        );
        cx.run.pc += 1;
        cx.run.status = RunStatus::Ready;
        cx.run.waiting = None;
        cx.run.wake_at = Some(cx.now);
        Ok(Some(Reaction::Resumed(
            self.commit(&tenant.id, seq, cx, None).await?,
        )))
    }

    /// Whether the waiting run's `match` accepts `event`; the evaluation's error otherwise.
    fn accepts(&self, cx: &mut RunCx<'_>, event: &Event) -> Result<bool, String> {
        let key = format!("{}/match", cx.run.pc);
        let Some(filter) = cx.flow.artifacts.exprs.get(&key) else {
            return Ok(true);
        };
        cx.bindings.rhai_scope();
        cx.bindings.set_extra(
            "incoming",
            &serde_json::to_value(event).unwrap_or(Value::Null),
        );
        filter.eval_bool(&mut cx.bindings).map_err(|e| e.message)
    }
}
