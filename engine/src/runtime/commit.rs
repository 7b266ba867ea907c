//! Persisting what an advance did: the run's new state with its records and contact change
//! in one transaction ([`Engine::commit`]), then what follows from it: the next task queued
//! (or left to the timer loop), a run queued behind an ended one started, and the team told
//! when a `hand_over` step handed the contact to people.

use serde_json::Value;

use super::advance::{Pause, RunCx};
use super::engine::{Engine, TimerMode};
use super::record::StepRecord;
use crate::error::EngineError;
use crate::model::{ContactChange, OnConflict, Run, RunStatus};
use crate::ports::{AdvanceTask, AuditEntry, Transition};

impl Engine {
    /// Persists the run's new state (with `audit` when an admin's action made it); returns
    /// the task that advances it next.
    pub(super) async fn commit(
        &self,
        tenant_id: &str,
        expected_seq: u64,
        cx: RunCx<'_>,
        audit: Option<AuditEntry>,
    ) -> Result<AdvanceTask, EngineError> {
        let mut run = cx.run;
        run.seq = expected_seq + 1;
        if let Value::Object(vars) = cx.bindings.get("vars").cloned().unwrap_or_default() {
            run.vars = vars;
        }
        let task = AdvanceTask::for_run(tenant_id, &run);
        let status = run.status;
        let ended =
            (!status.is_active()).then(|| (run.id, run.flow_id.clone(), run.end_reason.clone()));
        let contact = cx
            .contact_changed
            .then(|| ContactChange::between(&cx.contact_read, &cx.contact))
            .filter(|change| !change.is_empty());
        // A `hand_over` step: the team hears of it once its commit is in.
        let handed = cx.records.iter().find_map(|r| match &r.what {
            super::Happening::HandedOver { reason, .. } => Some(reason.clone()),
            _ => None,
        });
        let (tenant, contact_label) = (cx.tenant, super::staff_alert::label(&cx.contact));
        let (run_id, run_flow) = (run.id, run.flow_id.clone());
        self.store
            .apply(
                tenant_id,
                Transition {
                    expected_seq,
                    run,
                    records: cx.records,
                    contact,
                    audit,
                },
            )
            .await?;
        if let Some(reason) = handed {
            let text = crate::inbox::takeover::handed_alert(
                &format!("The flow {run_flow}"),
                &contact_label,
                Some(&reason),
            );
            let key = format!("handover:{run_id}:{expected_seq}");
            self.alert_staff(tenant, stepwise_core::NotifyAudience::Team, text, &key);
        }
        super::metrics::run_ended(status);
        if let Some((run_id, flow_id, reason)) = ended {
            let reason = reason.unwrap_or_default();
            if status == RunStatus::Failed {
                tracing::warn!(%tenant_id, %flow_id, %run_id, %reason, "run failed");
            } else {
                tracing::info!(%tenant_id, %flow_id, %run_id, ?status, %reason, "run ended");
            }
        }
        Ok(task)
    }

    pub(super) async fn finish(
        &self,
        task: &AdvanceTask,
        seq: u64,
        cx: RunCx<'_>,
        pause: Pause,
    ) -> Result<(), EngineError> {
        // Only a flow that queues its runs per contact can have one waiting for this one.
        let ended_queued_flow = pause == Pause::Ended
            && cx
                .flow
                .flow
                .concurrency
                .is_some_and(|c| c.on_conflict == OnConflict::Queue);
        let (contact_id, wake_at) = (cx.run.contact_id.clone(), cx.run.wake_at);
        let next = self.commit(&task.tenant_id, seq, cx, None).await?;
        let now = self.clock.now();
        match wake_at {
            Some(at) if self.timers == TimerMode::Queue || at <= now => {
                self.queue.schedule(next, at).await?
            }
            _ => {} // the timer loop queues it shortly before it is due
        }
        if ended_queued_flow {
            self.promote_queued(&task.tenant_id, &contact_id).await?;
        }
        Ok(())
    }

    /// Moves a run from its stored `seq` to ready now, with `records` (and `audit` when an
    /// admin's action made it), and queues it.
    pub(crate) async fn make_ready(
        &self,
        tenant_id: &str,
        mut run: Run,
        records: Vec<StepRecord>,
        audit: Option<AuditEntry>,
    ) -> Result<(), EngineError> {
        let now = self.clock.now();
        let expected_seq = run.seq;
        run.seq += 1;
        run.status = RunStatus::Ready;
        run.wake_at = Some(now);
        let task = AdvanceTask::for_run(tenant_id, &run);
        self.store
            .apply(
                tenant_id,
                Transition {
                    expected_seq,
                    run,
                    records,
                    contact: None,
                    audit,
                },
            )
            .await?;
        self.queue.schedule(task, now).await?;
        Ok(())
    }

    /// Starts the oldest queued run of a contact whose flow has no active run left.
    async fn promote_queued(&self, tenant_id: &str, contact_id: &str) -> Result<(), EngineError> {
        let active = self.store.active_runs(tenant_id, contact_id).await?;
        for queued in active.iter().filter(|r| r.status == RunStatus::Queued) {
            let busy = active
                .iter()
                .any(|r| r.flow_id == queued.flow_id && r.status != RunStatus::Queued);
            if !busy {
                self.make_ready(tenant_id, queued.clone(), Vec::new(), None)
                    .await?;
                break;
            }
        }
        Ok(())
    }
}
