//! The queue's workers: apalis workers fetching from the durable queue (replaced when one
//! stops by itself), beside the lane of tasks this process hands over in memory, both
//! advancing runs through the engine.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;

use super::apalis::{AdvanceJob, POLL_INTERVAL, QueueBackend};
use super::lane::run_lane;
use super::push::Pusher;
use super::wake::{WakeOrTick, Wakeups};
use crate::ports::{AdvanceTask, QueueError};
use crate::runtime::Engine;

/// When a worker fetches: at once when woken, else every [`POLL_INTERVAL`].
fn poll_strategy(wakeups: &Wakeups) -> WakeOrTick {
    WakeOrTick::new(wakeups, POLL_INTERVAL)
}

async fn handle(job: AdvanceJob, engine: Data<Arc<Engine>>) -> Result<(), BoxDynError> {
    let early = job.at.duration_since(engine.clock.now());
    if early.is_positive() && early < jiff::SignedDuration::from_secs(2) {
        tokio::time::sleep(early.unsigned_abs()).await;
    }
    // Spawned, so that the advances of one worker run on every core (apalis polls a worker's
    // tasks on one tokio task); the handler still waits, so concurrency limits hold.
    advance((*engine).clone(), job).await;
    Ok(())
}

/// Advances the job's run on a task of its own; a failure or a panic is logged and left to the
/// reconciler (the run stays due in the store).
pub(super) async fn advance(engine: Arc<Engine>, job: AdvanceJob) {
    let task = AdvanceTask {
        tenant_id: job.tenant_id,
        run_id: job.run_id,
        seq: job.seq,
    };
    let advanced = tokio::spawn(async move { engine.advance(task).await }).await;
    match advanced {
        Ok(Ok(())) => {}
        // Never fail the task: the run stays due in the store and the reconciler retries it.
        Ok(Err(e)) => {
            tracing::warn!(run_id = %job.run_id, error = %e, "advance failed; the reconciler will retry")
        }
        Err(e) => {
            tracing::error!(run_id = %job.run_id, error = %e, "advance panicked; the reconciler will retry")
        }
    }
}

/// How long a worker that stopped by itself waits before another takes its place.
const RESTART_AFTER: Duration = Duration::from_secs(1);

/// Runs workers on `backend` until `shutdown` resolves; in-flight tasks finish first.
///
/// A worker that stops by itself is replaced by a new one under a new name. Redis forgets
/// every worker's registration when it restarts without persistence (or is flushed), and
/// apalis then refuses that worker's heartbeats and fetches for good: without a replacement
/// the process would stay up and do nothing (`tests/tests/redis_loss.rs`).
pub async fn run_workers(
    engine: Arc<Engine>,
    backend: QueueBackend,
    concurrency: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError> {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopping = |mut stop: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|stopping| *stopping).await;
    };
    let lane = tokio::spawn(run_lane(
        engine.clone(),
        backend.own().lane.clone(),
        Pusher::start(backend.clone()),
        concurrency,
        stopping(stop.clone()),
    ));
    let result = loop {
        let signal = stopping(stop.clone());
        let result = run_worker(&engine, &backend, concurrency, signal).await;
        if *stop.borrow() {
            break result;
        }
        match result {
            Ok(()) => tracing::warn!("the queue worker stopped; starting another"),
            Err(e) => tracing::warn!(error = %e, "the queue worker stopped; starting another"),
        }
        tokio::select! {
            () = stopping(stop.clone()) => break Ok(()),
            () = tokio::time::sleep(RESTART_AFTER) => {}
        }
    };
    if let Err(e) = lane.await {
        tracing::error!(error = %e, "the lane's consumer panicked; the reconciler queues its tasks");
    }
    result
}

/// Runs one worker, under a name of its own, until `shutdown` resolves or it stops.
async fn run_worker(
    engine: &Arc<Engine>,
    backend: &QueueBackend,
    concurrency: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError> {
    let name = format!(
        "stepwise-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    );
    let signal = async move {
        shutdown.await;
        Ok::<(), std::io::Error>(())
    };
    let engine = engine.clone();
    let result = match backend.clone() {
        QueueBackend::Sqlite(storage, _, own) => {
            WorkerBuilder::new(name.as_str())
                .backend(storage.poll_with_strategy(poll_strategy(&own.wakeups)))
                .concurrency(concurrency)
                .data(engine)
                .build(handle)
                .run_until(signal)
                .await
        }
        QueueBackend::Redis(storage, _, own) => {
            WorkerBuilder::new(name.as_str())
                .backend(storage.poll_with_strategy(poll_strategy(&own.wakeups)))
                .concurrency(concurrency)
                .data(engine)
                .build(handle)
                .run_until(signal)
                .await
        }
    };
    result.map_err(|e| QueueError(format!("worker stopped: {e}")))
}
