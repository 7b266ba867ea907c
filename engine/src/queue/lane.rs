//! The lane: a task this process queues due now goes straight to this process's workers, in
//! memory, instead of through the durable queue's push, fetch and acknowledgement (three
//! round trips to the queue's database a run, each a thread switch or two on SQLite).
//!
//! Why no task is lost: the store is the truth and the queue only a hint (`reconcile.rs`). A
//! task is queued after its run was committed due, so a task that dies with the process in the
//! lane leaves a run the reconciler re-enqueues after its grace, exactly like a task lost
//! between a commit and its push always was (the crash tests kill the server with tasks in the
//! lane). A clean stop hands whatever the lane still holds to the durable queue.
//!
//! What still goes through the durable queue: tasks due later, tasks queued while no worker of
//! this process takes from the lane (an API-only process) or while the lane is full. The bound
//! keeps a burst from piling up in one process's memory: past it, tasks wait in the queue,
//! where every process's workers find them.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, mpsc};

use super::apalis::AdvanceJob;
use super::push::Pusher;
use super::workers::advance;
use crate::runtime::Engine;

/// Tasks waiting in the lane at most: four times the default concurrency of 128.
const CAPACITY: usize = 512;

/// This process's in-memory hand-off to its own workers. Clones share the lane.
#[derive(Debug, Clone)]
pub(super) struct Lane(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    tx: mpsc::Sender<AdvanceJob>,
    /// Taken by the one consumer, [`run_lane`].
    rx: Mutex<Option<mpsc::Receiver<AdvanceJob>>>,
    /// Whether a consumer takes from the lane; until then every offer is refused.
    open: AtomicBool,
}

impl Default for Lane {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(CAPACITY);
        Self(Arc::new(Inner {
            tx,
            rx: Mutex::new(Some(rx)),
            open: AtomicBool::new(false),
        }))
    }
}

impl Lane {
    /// Hands `job` to this process's workers; gives it back when no worker takes from the
    /// lane, it is full, or it closed for a stop.
    pub(super) fn offer(&self, job: AdvanceJob) -> Result<(), AdvanceJob> {
        if !self.0.open.load(Ordering::Acquire) {
            return Err(job);
        }
        self.0.tx.try_send(job).map_err(|e| e.into_inner())
    }

    /// The receiving end, for the first caller only; opens the lane.
    fn take(&self) -> Option<mpsc::Receiver<AdvanceJob>> {
        let rx = self.0.rx.lock().ok()?.take()?;
        self.0.open.store(true, Ordering::Release);
        Some(rx)
    }
}

/// Advances the lane's tasks, `concurrency` at once, until `shutdown` resolves; then closes the
/// lane, hands the tasks still in it to the durable queue through `pusher`, and waits for the
/// advances in flight. Returns at once when another consumer already took the lane.
pub(super) async fn run_lane(
    engine: Arc<Engine>,
    lane: Lane,
    pusher: Pusher,
    concurrency: usize,
    shutdown: impl Future<Output = ()>,
) {
    let Some(mut rx) = lane.take() else {
        return;
    };
    let concurrency = concurrency.max(1);
    let slots = Arc::new(Semaphore::new(concurrency));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break }; // never closed
        let job = tokio::select! {
            biased;
            () = &mut shutdown => break,
            job = rx.recv() => job,
        };
        let Some(job) = job else { break };
        let engine = engine.clone();
        tokio::spawn(async move {
            advance(engine, job).await;
            drop(slot);
        });
    }
    let handed = hand_over(&lane, rx, &pusher).await;
    if handed > 0 {
        tracing::info!(handed, "tasks in the lane queued at shutdown");
    }
    let all = u32::try_from(concurrency).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await; // the advances in flight end
}

/// Closes the lane (later offers go to the durable queue) and pushes the tasks still in it
/// there; returns how many.
async fn hand_over(lane: &Lane, mut rx: mpsc::Receiver<AdvanceJob>, pusher: &Pusher) -> usize {
    lane.0.open.store(false, Ordering::Release);
    rx.close();
    let mut handed = 0;
    while let Some(job) = rx.recv().await {
        match pusher.push(job, false).await {
            Ok(()) => handed += 1,
            Err(e) => {
                tracing::warn!(error = %e, "a task was not handed over; the reconciler will queue it")
            }
        }
    }
    handed
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::model::RunId;
    use crate::queue::{QueueBackend, QueueSettings};

    fn job() -> AdvanceJob {
        AdvanceJob {
            tenant_id: "t".into(),
            run_id: RunId(uuid::Uuid::now_v7()),
            seq: 1,
            at: Timestamp::now(),
        }
    }

    #[test]
    fn the_lane_takes_tasks_only_while_a_consumer_runs_and_up_to_its_bound() {
        let lane = Lane::default();
        assert!(
            lane.offer(job()).is_err(),
            "no consumer yet: the queue takes it"
        );
        let _rx = lane.take().expect("the first consumer takes the lane");
        assert!(lane.take().is_none(), "a second consumer gets nothing");
        for n in 0..CAPACITY {
            assert!(lane.offer(job()).is_ok(), "task {n} fits");
        }
        assert!(
            lane.offer(job()).is_err(),
            "a full lane gives the task back"
        );
    }

    #[tokio::test]
    async fn a_stop_hands_the_waiting_tasks_to_the_durable_queue() {
        let path = std::env::temp_dir().join(format!(
            "stepwise-lane-{}.db",
            uuid::Uuid::now_v7().simple()
        ));
        let url = format!("sqlite://{}", path.display());
        let backend = QueueBackend::sqlite(&url, &QueueSettings::default())
            .await
            .expect("queue");
        let lane = Lane::default();
        let rx = lane.take().expect("lane");
        for _ in 0..3 {
            lane.offer(job()).expect("offered");
        }
        let handed = hand_over(&lane, rx, &Pusher::start(backend.clone())).await;
        assert_eq!(handed, 3);
        assert!(lane.offer(job()).is_err(), "a closed lane refuses");
        let QueueBackend::Sqlite(_, pool, _) = &backend else {
            unreachable!()
        };
        let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM Jobs")
            .fetch_one(pool)
            .await
            .expect("count");
        assert_eq!(queued, 3, "every waiting task is in the durable queue");
        pool.close().await;
        crate::queue::apalis::tests::remove_queue_files(&url);
    }
}
