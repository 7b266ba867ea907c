//! The reconciler: the store is the truth, the queue only a hint. Every few seconds it
//! re-enqueues runs whose `wake_at` has passed by more than a grace period: a queue entry lost
//! to a crash between commit and enqueue, a flushed Redis, or a worker killed mid-call (after
//! its call lease) only delays a run, never loses it. Duplicate tasks are harmless: a task for
//! a stale `seq` does nothing.

use std::sync::Arc;
use std::time::Duration;

use super::engine::Engine;
use crate::error::EngineError;

/// How overdue a run must be before the reconciler re-enqueues it (its own task should have
/// fired by then).
pub const GRACE: jiff::SignedDuration = jiff::SignedDuration::from_secs(3);

/// Re-enqueues overdue runs once; returns how many.
pub async fn reconcile_once(engine: &Engine) -> Result<usize, EngineError> {
    let now = engine.clock.now();
    let due = engine.store.due_runs(now - GRACE, 1_000).await?;
    let count = due.len();
    for task in due {
        engine.queue.schedule(task, now).await?;
    }
    if count > 0 {
        tracing::info!(count, "reconciler re-enqueued overdue runs");
    }
    Ok(count)
}

/// Runs the reconciler every `every` until `shutdown` resolves.
pub async fn run_reconciler(
    engine: Arc<Engine>,
    every: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {
                if let Err(e) = reconcile_once(&engine).await {
                    tracing::warn!(error = %e, "reconciler pass failed");
                }
            }
        }
    }
}
