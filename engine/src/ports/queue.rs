//! The seam to the task queue.
//!
//! Contract: the queue only says "look at run R at time T"; the store is the truth. A task may
//! be delivered late, twice, or (after a crash) not at all — the reconciler re-enqueues
//! overdue runs — so handling a task whose `seq` is stale must do nothing.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::model::RunId;

/// Advance run `run_id` if it is still at `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvanceTask {
    pub tenant_id: String,
    pub run_id: RunId,
    pub seq: u64,
}

impl AdvanceTask {
    /// The task that advances `run` from its current `seq`.
    pub fn for_run(tenant_id: &str, run: &crate::model::Run) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            run_id: run.id,
            seq: run.seq,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("queue unavailable: {0}")]
pub struct QueueError(pub String);

#[async_trait]
pub trait Queue: Send + Sync + std::fmt::Debug {
    /// Delivers `task` at `at` or soon after.
    async fn schedule(&self, task: AdvanceTask, at: Timestamp) -> Result<(), QueueError>;

    /// Deletes the bookkeeping of tasks finished long ago; returns how many.
    async fn prune(&self) -> Result<usize, QueueError> {
        Ok(0)
    }

    /// Whether the queue is reachable (for readiness checks).
    async fn ready(&self) -> Result<(), QueueError> {
        Ok(())
    }
}
