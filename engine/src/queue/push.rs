//! Pushes tasks to the apalis backend in batches: the tasks that concurrent callers queue at
//! about the same time go in one call, so on SQLite they share one write transaction of the
//! queue file and on Redis one script call. Like the store's group commit, nothing waits for
//! company: the pusher takes whatever is queued when it becomes free, so at low load a batch
//! is one task and adds no delay. Each caller still waits until its task is stored.

use apalis::prelude::*;
use tokio::sync::{mpsc, oneshot};

use super::apalis::{AdvanceJob, QueueBackend};
use crate::ports::QueueError;

/// Tasks pushed together at most.
const MAX_BATCH: usize = 256;

/// One task to push.
struct Pending {
    job: AdvanceJob,
    /// Whole unix seconds: apalis' `run_at`.
    run_at: u64,
    due_now: bool,
    reply: oneshot::Sender<Result<(), QueueError>>,
}

/// Hands tasks to the pusher task.
#[derive(Debug, Clone)]
pub(super) struct Pusher {
    tx: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("run_id", &self.job.run_id)
            .finish_non_exhaustive()
    }
}

impl Pusher {
    /// Starts the pusher task for `backend`; it ends when every handle is dropped.
    pub(super) fn start(backend: QueueBackend) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(pusher(backend, rx));
        Self { tx }
    }

    /// Stores `job` to run from its time (whole seconds: apalis' `run_at`), waking this
    /// process's workers when it is `due_now`.
    pub(super) async fn push(&self, job: AdvanceJob, due_now: bool) -> Result<(), QueueError> {
        let run_at = u64::try_from(job.at.as_second()).unwrap_or_default();
        let (reply, answer) = oneshot::channel();
        let stopped = || QueueError("the queue's pusher stopped".into());
        let pending = Pending {
            job,
            run_at,
            due_now,
            reply,
        };
        self.tx.send(pending).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn pusher(backend: QueueBackend, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let started = std::time::Instant::now();
        let pushed = push_all(&backend, &batch).await;
        tracing::debug!(tasks = batch.len(), elapsed = ?started.elapsed(), "tasks pushed");
        if pushed.is_ok() && batch.iter().any(|p| p.due_now) {
            backend.wakeups().wake();
        }
        for pending in batch.drain(..) {
            let _ = pending.reply.send(pushed.clone());
        }
    }
}

/// Pushes the batch in one backend call. `max_attempts(1)`: the engine owns retries.
async fn push_all(backend: &QueueBackend, batch: &[Pending]) -> Result<(), QueueError> {
    // A macro, not a function: the two backends' task types differ. Collected first, so the
    // future holds no borrowing closure.
    macro_rules! tasks {
        () => {{
            let tasks: Vec<_> = batch
                .iter()
                .map(|p| {
                    TaskBuilder::new(p.job.clone())
                        .run_at_timestamp(p.run_at)
                        .max_attempts(1)
                        .build()
                })
                .collect();
            futures_util::stream::iter(tasks)
        }};
    }
    let pushed = match backend {
        QueueBackend::Sqlite(storage, ..) => storage
            .clone()
            .push_all(tasks!())
            .await
            .map_err(|e| e.to_string()),
        QueueBackend::Redis(storage, ..) => storage
            .clone()
            .push_all(tasks!())
            .await
            .map_err(|e| e.to_string()),
    };
    pushed.map_err(QueueError)
}
