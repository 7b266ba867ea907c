//! What an admin does to a run: cancel it, or retry a failed one (a dead letter) from the
//! step that failed.

use super::engine::Engine;
use super::record::{Happening, StepRecord};
use crate::error::EngineError;
use crate::model::{RunId, RunStatus};
use crate::ports::AuditEntry;

impl Engine {
    /// Retries a failed run from the step that failed, with a fresh attempt count; `audit`
    /// is stored with the run's new state.
    pub async fn retry_run(
        &self,
        tenant_id: &str,
        run_id: RunId,
        audit: Option<AuditEntry>,
    ) -> Result<(), EngineError> {
        let mut run = self.store.run(tenant_id, run_id).await?;
        if run.status != RunStatus::Failed {
            return Err(EngineError::WrongState(format!(
                "run {run_id} has not failed; only failed runs can be retried"
            )));
        }
        let now = self.clock.now();
        let step = self
            .deployment(tenant_id, &run.flow_id, run.flow_version)
            .await?
            .flow
            .meta(run.pc)
            .map(|m| m.id.clone());
        run.attempt = 0;
        run.in_flight = None;
        run.hold = None;
        run.ended_at = None;
        run.end_reason = None;
        let record = StepRecord {
            at: now,
            step,
            attempt: 0,
            what: Happening::Woke {
                by: "retry by an admin".into(),
            },
        };
        self.make_ready(tenant_id, run, vec![record], audit).await?;
        Ok(())
    }

    /// Cancels an active run; `audit` is stored with the run's new state.
    pub async fn cancel_run(
        &self,
        tenant_id: &str,
        run_id: RunId,
        reason: &str,
        audit: Option<AuditEntry>,
    ) -> Result<(), EngineError> {
        let run = self.store.run(tenant_id, run_id).await?;
        if !run.status.is_active() {
            return Err(EngineError::WrongState(format!(
                "run {run_id} has already ended"
            )));
        }
        let tenant = self.tenant(tenant_id).await?;
        let contact = self.store.contact(tenant_id, &run.contact_id).await?;
        let d = self
            .deployment(tenant_id, &run.flow_id, run.flow_version)
            .await?;
        let seq = run.seq;
        let mut cx = self.run_cx(&d, &tenant, contact, run);
        cx.end(RunStatus::Cancelled, reason);
        self.commit(tenant_id, seq, cx, audit).await?;
        Ok(())
    }
}
