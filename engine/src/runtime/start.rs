//! Starting runs: which runs an event starts (one per live flow it triggers, where `when`
//! and `concurrency` allow), preparing each run with its first record, and storing one.

use jiff::Timestamp;

use super::engine::{Engine, IngestOutcome};
use super::enroll::ENROLMENT_PACING;
use super::flows::Deployment;
use super::ingest::run_id_for;
use super::record::{Happening, StepRecord};
use crate::error::EngineError;
use crate::model::{Contact, Event, OnConflict, Run, RunId, RunStatus, Tenant};
use crate::ports::AdvanceTask;

/// The task that advances `run`, if it is ready to go now.
/// Names `new_runs` as started in `outcome`; answers the tasks of those ready to go now.
pub(super) fn name_started(
    tenant_id: &str,
    new_runs: &[(Run, Vec<StepRecord>)],
    outcome: &mut IngestOutcome,
) -> Vec<AdvanceTask> {
    for (run, _) in new_runs {
        if run.status == RunStatus::Failed {
            outcome.failed.push(run.id);
        } else {
            outcome.started.push(run.id);
        }
    }
    new_runs
        .iter()
        .filter_map(|(run, _)| ready_task(tenant_id, run))
        .collect()
}

fn ready_task(tenant_id: &str, run: &Run) -> Option<AdvanceTask> {
    (run.status == RunStatus::Ready).then(|| AdvanceTask::for_run(tenant_id, run))
}

impl Engine {
    /// The live flows `event` triggers.
    pub(super) async fn triggered_by(
        &self,
        tenant_id: &str,
        event: &Event,
    ) -> Result<Vec<Deployment>, EngineError> {
        let mut live = self.live(tenant_id).await?;
        live.retain(|d| d.flow.flow.trigger.event.as_deref() == Some(event.event_type.as_str()));
        Ok(live)
    }

    /// The runs `event` starts for `contact`, not yet stored: one for each of the flows it
    /// `triggered` whose `when` and concurrency allow it. On a `replay`, a run started before
    /// the interruption is only named in `outcome`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn triggered_runs(
        &self,
        tenant: &Tenant,
        triggered: Vec<Deployment>,
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
        for d in triggered {
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

    /// `contact` as reads answer it (opted out where its phone or email is on the suppression
    /// list), for a contact the event brought that the store has not read: a new one, or one
    /// the event changed. `None` when nothing will judge it, so nothing was looked up: no
    /// `active` runs of the contact (whose `match` might), and none of the flows the event
    /// `triggered` has a `when`.
    pub(super) async fn as_listed(
        &self,
        tenant_id: &str,
        triggered: &[Deployment],
        contact: &Contact,
        active: bool,
    ) -> Result<Option<Contact>, EngineError> {
        let judged = active || triggered.iter().any(|d| d.flow.flow.trigger.when.is_some());
        if !judged {
            return Ok(None);
        }
        Ok(Some(
            self.store
                .with_suppressions(tenant_id, contact.clone())
                .await?,
        ))
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
    pub(crate) async fn start_at(
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
        if run.status == RunStatus::Failed {
            outcome.failed.push(run.id);
        } else {
            outcome.started.push(run.id);
        }
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
        if let Some(when) = &d.flow.trigger_when {
            let mut b = self.bindings(d, tenant, contact, &run);
            match when.eval_bool(&mut b) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                // This flow's fault, not the event's: the event is kept and the other flows
                // start; this flow's run is stored failed, with the reason, where its
                // author looks (runs, dead letters).
                Err(e) => {
                    let reason =
                        format!("the trigger's `when` could not be evaluated: {}", e.message);
                    let ended = super::fail::fail_in_place(&mut run, now, reason);
                    return Ok(Some((run, vec![started, ended])));
                }
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
                            self.commit(&tenant.id, seq, cx, None).await?;
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
        } else if run.status == RunStatus::Ready && super::engine::slotted(&run) {
            // Its slot is now: the first text uses it.
            run.hold = Some(super::advance::PACED.into());
        }
        Ok(Some((run, vec![started])))
    }
}
