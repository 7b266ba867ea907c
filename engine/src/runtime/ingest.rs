//! Event ingestion: an event for a contact is stored (once per source and external id), then
//! cancels the runs whose `cancel_on` names it, resumes runs waiting for it (when their `match`
//! accepts it), and starts runs of the flows it triggers, honouring `when` and `concurrency`.
//!
//! Crash safety without one big transaction: the event is stored unprocessed first and marked
//! processed last, in the commit that creates its new runs; every effect in between is
//! idempotent (a started run's id derives from the
//! event and the flow, so it is created once; resumes and cancels are `seq`-guarded
//! transitions). An event whose processing was interrupted is processed again when its sender
//! retries it, and every run created is visible to the reconciler (`wake_at` = now).

use jiff::Timestamp;
use serde_json::{Value, json};
use uuid::Uuid;

use super::advance::RunCx;
use super::engine::{Engine, IngestOutcome};
use super::enroll::ENROLMENT_PACING;
use super::flows::Deployment;
use super::record::{Happening, StepRecord};
use crate::error::EngineError;
use crate::model::{Contact, Event, OnConflict, Run, RunId, RunStatus, Tenant};
use crate::ports::{AdvanceTask, EventInsert, StoreError, StoredEvent};

/// The task that advances `run`, if it is ready to go now.
/// Names `new_runs` as started in `outcome`; answers the tasks of those ready to go now.
pub(super) fn name_started(
    tenant_id: &str,
    new_runs: &[(Run, Vec<StepRecord>)],
    outcome: &mut IngestOutcome,
) -> Vec<AdvanceTask> {
    outcome
        .started
        .extend(new_runs.iter().map(|(run, _)| run.id));
    new_runs
        .iter()
        .filter_map(|(run, _)| ready_task(tenant_id, run))
        .collect()
}

fn ready_task(tenant_id: &str, run: &Run) -> Option<AdvanceTask> {
    (run.status == RunStatus::Ready).then(|| AdvanceTask::for_run(tenant_id, run))
}

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactWrite {
    /// Stored already (named by id).
    Stored,
    /// Stored with the event when the event is new: found and merged, this version replaces
    /// the stored one.
    Put,
    /// Stored with the event when the event is new; its id was never stored, so it has no
    /// runs to cancel or resume and none are looked for.
    Create,
}

enum Reaction {
    Cancelled,
    Resumed(AdvanceTask),
}

impl Engine {
    /// Ingests an event for a contact. A repeat of an event already processed does nothing
    /// and answers `duplicate: true`.
    pub async fn ingest(
        &self,
        tenant_id: &str,
        contact_id: &str,
        event: Event,
    ) -> Result<IngestOutcome, EngineError> {
        self.ingest_with(tenant_id, contact_id, None, ContactWrite::Stored, event)
            .await
    }

    /// Ingests an event for a contact the caller has in hand (no re-read), stored as `write`
    /// says. A repeat of an event already processed changes nothing, not even the contact.
    pub async fn ingest_with_contact(
        &self,
        tenant_id: &str,
        contact: Contact,
        write: ContactWrite,
        event: Event,
    ) -> Result<IngestOutcome, EngineError> {
        if write == ContactWrite::Create
            && let Some(outcome) = self.ingest_first_event(tenant_id, &contact, &event).await?
        {
            return Ok(outcome);
        }
        let contact_id = contact.id.clone();
        self.ingest_with(tenant_id, &contact_id, Some(contact), write, event)
            .await
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
        let new_contact = contact.as_ref().filter(|_| write != ContactWrite::Stored);
        let inserted = self
            .store
            .record_event(tenant_id, &stored, new_contact)
            .await?;
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
                if let Some(contact) = new_contact {
                    self.store.put_contact(tenant_id, contact).await?;
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
            ContactWrite::Stored | ContactWrite::Put => {
                self.store.active_runs(tenant_id, contact_id).await?
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
        Ok(outcome)
    }

    /// The runs `event` starts for `contact`, not yet stored: one for each live flow it
    /// triggers whose `when` and concurrency allow it. On a `replay`, a run started before the
    /// interruption is only named in `outcome`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn triggered_runs(
        &self,
        tenant: &Tenant,
        contact: &Contact,
        contact_is_new: bool,
        event: &Event,
        event_id: &str,
        replay: bool,
        outcome: &mut IngestOutcome,
    ) -> Result<Vec<(Run, Vec<StepRecord>)>, EngineError> {
        let tenant_id = tenant.id.as_str();
        let external_id = event.external_id.as_deref().unwrap_or(event_id);
        let mut new_runs = Vec::new();
        for d in self.live(tenant_id).await? {
            if d.flow.flow.trigger.event.as_deref() != Some(event.event_type.as_str()) {
                continue;
            }
            let run_id = run_id_for(tenant_id, &event.source, external_id, d.flow.id());
            // A new event has started no run yet; a replay may have.
            if replay && self.store.run(tenant_id, run_id).await.is_ok() {
                outcome.started.push(run_id); // started before an interruption
                continue;
            }
            if let Some(new_run) = self
                .prepare_start(
                    &d,
                    tenant,
                    contact,
                    contact_is_new,
                    event,
                    run_id,
                    None,
                    outcome,
                )
                .await?
            {
                new_runs.push(new_run);
            }
        }
        Ok(new_runs)
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
            self.commit(&tenant.id, seq, cx).await?;
            return Ok(Some(Reaction::Cancelled));
        }
        let waits_for_it = run
            .waiting
            .as_ref()
            .is_some_and(|w| w.event == event.event_type);
        if run.status != RunStatus::Waiting || !waits_for_it {
            return Ok(None);
        }
        let mut cx = self.run_cx(&d, tenant, contact.clone(), run);
        if !self.accepts(&mut cx, event)? {
            return Ok(None);
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
            self.commit(&tenant.id, seq, cx).await?,
        )))
    }

    /// Starts a run of `d` for the event, if its `when` and concurrency allow.
    pub(super) async fn start(
        &self,
        d: &Deployment,
        tenant: &Tenant,
        contact: &Contact,
        event: &Event,
        run_id: RunId,
        outcome: &mut IngestOutcome,
    ) -> Result<Option<AdvanceTask>, EngineError> {
        self.start_at(d, tenant, contact, event, run_id, None, outcome)
            .await
    }

    /// [`Engine::start`], holding the new run asleep until `not_before` when that is later
    /// than now (paced enrolments): it then waits in the database like any timer.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn start_at(
        &self,
        d: &Deployment,
        tenant: &Tenant,
        contact: &Contact,
        event: &Event,
        run_id: RunId,
        not_before: Option<Timestamp>,
        outcome: &mut IngestOutcome,
    ) -> Result<Option<AdvanceTask>, EngineError> {
        let Some((run, records)) = self
            .prepare_start(
                d, tenant, contact, false, event, run_id, not_before, outcome,
            )
            .await?
        else {
            return Ok(None);
        };
        if self.store.create_run(&tenant.id, &run, &records).await? {
            super::metrics::run_started();
        }
        outcome.started.push(run.id);
        Ok(ready_task(&tenant.id, &run))
    }

    /// The run `d` would start for the event, with its first record, if its `when` and
    /// concurrency allow; not stored (runs it replaces are cancelled, and that is stored). A
    /// contact that is new has no runs, so its are not read.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn prepare_start(
        &self,
        d: &Deployment,
        tenant: &Tenant,
        contact: &Contact,
        contact_is_new: bool,
        event: &Event,
        run_id: RunId,
        not_before: Option<Timestamp>,
        outcome: &mut IngestOutcome,
    ) -> Result<Option<(Run, Vec<StepRecord>)>, EngineError> {
        let now = self.clock.now();
        let mut run = Run::start(
            &tenant.id,
            d.flow.id(),
            d.version,
            &contact.id,
            event.clone(),
            now,
        );
        run.id = run_id;
        run.wake_at = Some(now); // visible to the reconciler until a worker advances it
        if let Some(when) = &d.flow.trigger_when {
            let mut b = self.bindings(d, tenant, contact, &run);
            if !when
                .eval_bool(&mut b)
                .map_err(|e| EngineError::Expression(e.message))?
            {
                return Ok(None);
            }
        }
        if let Some(concurrency) = d.flow.flow.concurrency.filter(|_| !contact_is_new) {
            let active: Vec<Run> = self
                .store
                .active_runs(&tenant.id, &contact.id)
                .await?
                .into_iter()
                .filter(|r| r.flow_id == d.flow.id())
                .collect();
            if !active.is_empty() {
                match concurrency.on_conflict {
                    OnConflict::Skip => {
                        outcome.skipped.push(d.flow.id().to_owned());
                        return Ok(None);
                    }
                    OnConflict::Replace => {
                        for old in active {
                            let seq = old.seq;
                            let mut cx = self.run_cx(d, tenant, contact.clone(), old);
                            cx.end(
                                RunStatus::Cancelled,
                                "replaced by a newer run (concurrency: replace)",
                            );
                            outcome.cancelled.push(cx.run.id);
                            self.commit(&tenant.id, seq, cx).await?;
                        }
                    }
                    OnConflict::Queue => {
                        run.status = RunStatus::Queued;
                        run.wake_at = None;
                    }
                }
            }
        }
        if let Some(at) = not_before.filter(|at| *at > now)
            && run.status == RunStatus::Ready
        {
            run.status = RunStatus::Sleeping;
            run.wake_at = Some(at);
            run.hold = Some(ENROLMENT_PACING.into());
        }
        let started = StepRecord {
            at: now,
            step: None,
            attempt: 0,
            what: Happening::Started {
                flow: d.flow.id().to_owned(),
                version: d.version,
                trigger: event.event_type.clone(),
            },
        };
        Ok(Some((run, vec![started])))
    }

    fn accepts(&self, cx: &mut RunCx<'_>, event: &Event) -> Result<bool, EngineError> {
        let key = format!("{}/match", cx.run.pc);
        let Some(filter) = cx.flow.artifacts.exprs.get(&key) else {
            return Ok(true);
        };
        cx.bindings.rhai_scope();
        cx.bindings.set_extra(
            "incoming",
            &serde_json::to_value(event).unwrap_or(Value::Null),
        );
        filter
            .eval_bool(&mut cx.bindings)
            .map_err(|e| EngineError::Expression(e.message))
    }
}
