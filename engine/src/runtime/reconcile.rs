//! The timer loop and the reconciler.
//!
//! The timer loop: sleeping and waiting runs live in the database only; every
//! [`TIMER_TICK`] the loop claims those due within [`LOOKAHEAD`], holds them in memory and
//! queues each when it is due, so the queue holds only work that can start now, whatever the
//! number of waiting runs. A process that dies holding timers delays them by the reconciler's
//! grace; one that stops cleanly queues them first.
//!
//! The reconciler: the store is the truth, the queue only a hint. Every few seconds it
//! re-enqueues runs whose `wake_at` has passed by more than a grace period: a queue entry lost
//! to a crash between commit and enqueue, a flushed Redis, or a worker killed mid-call (after
//! its call lease) only delays a run, never loses it. Duplicate tasks are harmless: a task for
//! a stale `seq` does nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use super::engine::Engine;
use crate::error::EngineError;
use crate::ports::AdvanceTask;

/// How overdue a run must be before the reconciler re-enqueues it (its own task should have
/// fired by then).
pub const GRACE: jiff::SignedDuration = jiff::SignedDuration::from_secs(3);

/// How often the timer loop looks for runs coming due.
pub const TIMER_TICK: Duration = Duration::from_millis(200);
/// How far ahead the timer loop queues runs.
pub const LOOKAHEAD: jiff::SignedDuration = jiff::SignedDuration::from_secs(2);

/// Timers claimed from the store and held in this process until they are due: a task pushed
/// early would hold a worker's slot while it sleeps (the queue's `run_at` is whole seconds), and
/// a burst of such sleepers made every timer behind them late.
#[derive(Debug, Default)]
struct HeldTimers {
    /// By due time; the number keeps timers due at the same microsecond apart.
    due: BTreeMap<(Timestamp, u64), AdvanceTask>,
    taken: u64,
}

impl HeldTimers {
    /// Claims the timers coming due (and prunes the queue's finished tasks); returns how many.
    async fn claim(&mut self, engine: &Engine) -> Result<usize, EngineError> {
        let started = std::time::Instant::now();
        engine.queue.prune().await?;
        let mut total = 0;
        loop {
            let claimed = engine
                .store
                .claim_timers(engine.clock.now() + LOOKAHEAD, CLAIM_BATCH)
                .await?;
            let count = claimed.len();
            for (task, at) in claimed {
                self.taken += 1;
                self.due.insert((at, self.taken), task);
            }
            total += count;
            if count < CLAIM_BATCH as usize {
                tracing::debug!(total, elapsed = ?started.elapsed(), "timers claimed");
                return Ok(total);
            }
        }
    }

    /// How long until the earliest timer is due, if one is held.
    fn next_due(&self, now: Timestamp) -> Option<Duration> {
        let ((at, _), _) = self.due.first_key_value()?;
        Some(Duration::try_from(at.duration_since(now)).unwrap_or_default())
    }

    /// Queues every timer due by now, each as a task due at once.
    async fn release_due(&mut self, engine: &Engine) -> Result<(), EngineError> {
        let now = engine.clock.now();
        let started = std::time::Instant::now();
        let mut released = 0;
        while let Some(entry) = self.due.first_entry() {
            let at = entry.key().0;
            if at > now {
                break;
            }
            let task = entry.remove();
            engine.queue.schedule(task, at).await?;
            released += 1;
        }
        tracing::debug!(released, elapsed = ?started.elapsed(), "timers queued");
        Ok(())
    }

    /// Queues every held timer for its due time, so that none waits for the reconciler after
    /// this process stops.
    async fn hand_over(self, engine: &Engine) {
        let count = self.due.len();
        for ((at, _), task) in self.due {
            if let Err(e) = engine.queue.schedule(task, at).await {
                tracing::warn!(error = %e, "a held timer was not queued; the reconciler will");
            }
        }
        if count > 0 {
            tracing::info!(count, "held timers queued at shutdown");
        }
    }
}

/// Timers claimed from the store at once, at most.
const CLAIM_BATCH: u32 = 1_000;

/// Runs the timer loop until `shutdown` resolves: every [`TIMER_TICK`] it claims the runs
/// coming due within [`LOOKAHEAD`], holds them, and queues each when it is due.
pub async fn run_timers(engine: Arc<Engine>, shutdown: impl std::future::Future<Output = ()>) {
    let mut held = HeldTimers::default();
    let mut tick = tokio::time::interval(TIMER_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        let next_due = held.next_due(engine.clock.now());
        tokio::select! {
            _ = &mut shutdown => return held.hand_over(&engine).await,
            _ = tick.tick() => {
                if let Err(e) = held.claim(&engine).await {
                    tracing::warn!(error = %e, "timer pass failed");
                }
            }
            _ = tokio::time::sleep(next_due.unwrap_or_default()), if next_due.is_some() => {
                if let Err(e) = held.release_due(&engine).await {
                    tracing::warn!(error = %e, "queueing due timers failed; the reconciler will");
                }
            }
        }
    }
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
    // Housekeeping only: a failure is worth a warning, not a failed pass.
    match engine.store.maintain().await {
        Ok(done) => done
            .iter()
            .for_each(|done| tracing::info!(%done, "store maintenance")),
        Err(e) => tracing::warn!(error = %e, "store maintenance failed"),
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
