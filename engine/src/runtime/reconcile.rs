//! The timer loop and the reconciler.
//!
//! The timer loop: sleeping and waiting runs live in the database only; every
//! [`TIMER_TICK`] the loop claims those due within [`LOOKAHEAD`] and queues each for its due
//! time, so the queue stays small whatever the number of waiting runs.
//!
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

/// How often the timer loop looks for runs coming due.
pub const TIMER_TICK: Duration = Duration::from_millis(200);
/// How far ahead the timer loop queues runs.
pub const LOOKAHEAD: jiff::SignedDuration = jiff::SignedDuration::from_secs(2);

/// Queues the timers coming due (and prunes the queue's finished tasks); returns how many.
pub async fn queue_timers_once(engine: &Engine) -> Result<usize, EngineError> {
    engine.queue.prune().await?;
    let mut total = 0;
    loop {
        let claimed = engine
            .store
            .claim_timers(engine.clock.now() + LOOKAHEAD, 1_000)
            .await?;
        let count = claimed.len();
        for (task, at) in claimed {
            engine.queue.schedule(task, at).await?;
        }
        total += count;
        if count < 1_000 {
            return Ok(total);
        }
    }
}

/// Runs the timer loop until `shutdown` resolves.
pub async fn run_timers(engine: Arc<Engine>, shutdown: impl std::future::Future<Output = ()>) {
    every(TIMER_TICK, shutdown, "timer", || queue_timers_once(&engine)).await;
}

/// How often schedules are checked for due ticks.
pub const SCHEDULE_TICK: Duration = Duration::from_secs(1);

/// Fires due schedule triggers until `shutdown` resolves.
pub async fn run_schedules(engine: Arc<Engine>, shutdown: impl std::future::Future<Output = ()>) {
    every(SCHEDULE_TICK, shutdown, "schedule", || {
        engine.fire_schedules_once()
    })
    .await;
}

/// Calls `pass` every `period` until `shutdown` resolves; a failed pass is logged and retried
/// at the next tick.
async fn every<F, Fut>(
    period: Duration,
    shutdown: impl std::future::Future<Output = ()>,
    name: &str,
    mut pass: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<usize, EngineError>>,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {
                if let Err(e) = pass().await {
                    tracing::warn!(error = %e, "{name} pass failed");
                }
            }
        }
    }
}

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

/// Runs the reconciler every `period` until `shutdown` resolves.
pub async fn run_reconciler(
    engine: Arc<Engine>,
    period: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    every(period, shutdown, "reconciler", || reconcile_once(&engine)).await;
}
