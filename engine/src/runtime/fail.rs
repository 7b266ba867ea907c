//! Runs that end failed before any step runs: their flow cannot judge or run them (a trigger
//! `when` that fails, a stored version that no longer compiles). Retrying could never succeed,
//! and a run that cannot be processed must not come back forever.

use super::engine::Engine;
use super::record::{Happening, StepRecord};
use crate::error::EngineError;
use crate::model::{Run, RunStatus};
use crate::ports::Transition;

/// Ends `run` failed at `now` without running a step (its flow cannot judge or run it),
/// logged at `warn`; answers the history record that says why.
pub(super) fn fail_in_place(run: &mut Run, now: jiff::Timestamp, reason: String) -> StepRecord {
    tracing::warn!(tenant_id = %run.tenant_id, flow_id = %run.flow_id, run_id = %run.id, %reason, "run failed");
    run.status = RunStatus::Failed;
    run.ended_at = Some(now);
    run.end_reason = Some(reason.clone());
    run.wake_at = None;
    run.waiting = None;
    run.hold = None;
    StepRecord {
        at: now,
        step: None,
        attempt: 0,
        what: Happening::Ended {
            status: "failed".into(),
            reason,
        },
    }
}

impl Engine {
    /// Ends, failed, a run whose flow version no longer compiles (it uses a snippet the tenant
    /// has since removed, or a stored version predates a check now made): retrying could
    /// never succeed, and a run that cannot be processed must not come back forever.
    pub(super) async fn fail_unloadable(
        &self,
        tenant_id: &str,
        run: Run,
        diagnostics: &[crate::definition::Diagnostic],
    ) -> Result<(), EngineError> {
        let why = diagnostics
            .iter()
            .find(|d| d.is_error())
            .map_or_else(|| "unknown".to_owned(), |d| d.message.clone());
        let reason = format!("the flow version cannot run: {why}");
        let expected_seq = run.seq;
        let mut run = run;
        run.seq = expected_seq + 1;
        let ended = fail_in_place(&mut run, self.clock.now(), reason);
        self.store
            .apply(
                tenant_id,
                Transition {
                    expected_seq,
                    run,
                    records: vec![ended],
                    contact: None,
                    audit: None,
                },
            )
            .await?;
        super::metrics::run_ended(RunStatus::Failed);
        Ok(())
    }
}
