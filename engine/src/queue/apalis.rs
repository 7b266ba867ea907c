//! The durable queue on apalis 1.0: apalis-sqlite in the embedded default (same file as the
//! store), apalis-redis in production. Each task says "advance run R if it is still at seq S".
//!
//! apalis' sharp edges (crates.md Part 1 §1), and what this module does about each:
//! - a storage without a poll strategy notices work only at its 30 s heartbeat: workers poll
//!   every [`POLL_INTERVAL`], and a task this process pushes due now wakes its own workers at
//!   once ([`Wakeups`]), so an event's first step starts within milliseconds; apalis' own
//!   strategy combinator can leave a worker parked until its heartbeat, so ours is in
//!   `wake.rs`;
//! - a worker runs all its tasks on its own tokio task: the handler spawns each advance, so
//!   a busy worker uses every core;
//! - backend re-runs (25, instant) stack on any retry layer: tasks are pushed with
//!   `max_attempts(1)` and handlers never fail; the engine owns retries;
//! - a reused worker name blocks crash recovery: names carry the process id and a random part;
//! - the default batch size starves sibling workers: `batch_size` equals the concurrency;
//! - `run_at` is whole unix seconds: tasks are pushed for the second they fall in, and the
//!   handler sleeps the remaining fraction, so timers are not late by up to a second;
//! - a push, a fetch and an acknowledgement a task cost round trips that dominated a run on
//!   SQLite: a task due now goes to this process's own workers in memory when they can take
//!   it (`lane.rs`), and only otherwise through apalis.

use std::sync::Arc;
use std::time::Duration;

use apalis_redis::RedisStorage;
use apalis_sqlite::SqliteStorage;
use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::RunId;
use crate::ports::{AdvanceTask, Queue, QueueError};

use super::lane::Lane;
use super::push::Pusher;
use super::wake::Wakeups;

/// The queue's default name in either backend.
pub const QUEUE: &str = "stepwise-advance";

/// How a queue is set up.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// The queue's name; processes sharing work use the same one.
    pub name: String,
    /// Tasks one worker fetches at once: no more than its concurrency, or it starves its siblings.
    pub batch_size: usize,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            name: QUEUE.to_owned(),
            batch_size: 16,
        }
    }
}
/// How often an idle worker looks for due tasks (`workers.rs`).
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The task payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdvanceJob {
    pub tenant_id: String,
    pub run_id: RunId,
    pub seq: u64,
    /// When the run is due, to the microsecond.
    pub at: Timestamp,
}

/// Where tasks are kept, with this process's ways to its own workers.
#[derive(Debug, Clone)]
pub enum QueueBackend {
    /// The storage, and its pool for housekeeping.
    Sqlite(
        SqliteStorage<AdvanceJob>,
        apalis_sqlite::SqlitePool,
        OwnWorkers,
    ),
    /// The storage, and a connection for readiness checks.
    Redis(
        RedisStorage<AdvanceJob>,
        apalis_redis::ConnectionManager,
        OwnWorkers,
    ),
}

/// How this process reaches its own workers: it wakes them for a task it pushed due now, or
/// hands them the task in memory.
#[derive(Debug, Clone, Default)]
pub struct OwnWorkers {
    pub(super) wakeups: Wakeups,
    pub(super) lane: Lane,
}

impl QueueBackend {
    /// This process's ways to its own workers.
    pub(super) fn own(&self) -> &OwnWorkers {
        match self {
            QueueBackend::Sqlite(.., own) | QueueBackend::Redis(.., own) => own,
        }
    }

    /// This process's wake-ups for its workers.
    pub(super) fn wakeups(&self) -> &Wakeups {
        &self.own().wakeups
    }

    /// The queue beside the store's SQLite file: `sqlite://stepwise.db` keeps its tasks in
    /// `stepwise.queue.db`. A file of its own gives the queue its own write lock, so queue
    /// traffic never waits for (or makes wait) the store's commits; the store stays the truth
    /// and the reconciler restores any task the queue file loses.
    pub async fn sqlite(store_url: &str, settings: &QueueSettings) -> Result<Self, QueueError> {
        crate::store::sql::create_private_file(&queue_url(store_url))
            .map_err(|e| QueueError(e.to_string()))?;
        let options = apalis_sqlite::SqliteConnectOptions::from_str_url(&queue_url(store_url))?;
        let pool = apalis_sqlite::SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(|e| QueueError(format!("queue database: {e}")))?;
        SqliteStorage::<()>::migrations()
            .run(&pool)
            .await
            .map_err(|e| QueueError(format!("queue migrations: {e}")))?;
        let config = apalis_sqlite::Config::default()
            .queue(&settings.name)
            .batch_size(settings.batch_size)
            .heartbeat_interval(Duration::from_secs(5));
        Ok(Self::Sqlite(
            SqliteStorage::new(&pool).with_config(config),
            pool,
            OwnWorkers::default(),
        ))
    }

    /// A Redis queue at `url`.
    pub async fn redis(url: &str, settings: &QueueSettings) -> Result<Self, QueueError> {
        let conn = apalis_redis::connect(url)
            .await
            .map_err(|e| QueueError(format!("redis at {}: {e}", without_password(url))))?;
        let config = apalis_redis::Config::default()
            .queue(&settings.name)
            .batch_size(settings.batch_size)
            .heartbeat_interval(Duration::from_secs(5))
            .missed_heartbeats(3)
            // Leases only mark a task as running (for apalis' dashboard) and cost a script
            // call per task; a dead worker's tasks are recovered from its in-flight set anyway.
            .lock_tasks(false)
            // Nobody subscribes to apalis' per-task notifications.
            .emit_events(false);
        Ok(Self::Redis(
            RedisStorage::new(conn.clone()).with_config(config),
            conn,
            OwnWorkers::default(),
        ))
    }
}

/// The queue file's URL for a store URL (`x.db` → `x.queue.db`, query kept).
pub fn queue_url(store_url: &str) -> String {
    let (path, query) = store_url
        .split_once('?')
        .map_or((store_url, None), |(p, q)| (p, Some(q)));
    let path = match path.rsplit_once('.') {
        Some((stem, ext)) if !ext.contains('/') => format!("{stem}.queue.{ext}"),
        _ => format!("{path}.queue"),
    };
    query.map_or(path.clone(), |q| format!("{path}?{q}"))
}

trait FromStrUrl: Sized {
    fn from_str_url(url: &str) -> Result<Self, QueueError>;
}

impl FromStrUrl for apalis_sqlite::SqliteConnectOptions {
    fn from_str_url(url: &str) -> Result<Self, QueueError> {
        use std::str::FromStr;
        Ok(Self::from_str(url)
            .map_err(|e| QueueError(format!("queue database {url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5)))
    }
}

/// How often [`Queue::prune`] also forgets dead workers on Redis (a scan of the worker keys,
/// too much for every timer tick).
const FORGET_DEAD_WORKERS_EVERY: Duration = Duration::from_secs(60);

/// [`Queue`] over an apalis backend.
#[derive(Debug, Clone)]
pub struct ApalisQueue {
    backend: QueueBackend,
    pusher: Pusher,
    /// When prune last forgot dead workers.
    forgot_workers: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

impl ApalisQueue {
    /// A queue over `backend`; starts its pusher task, so call it inside a tokio runtime.
    pub fn new(backend: QueueBackend) -> Self {
        Self {
            pusher: Pusher::start(backend.clone()),
            backend,
            forgot_workers: Arc::default(),
        }
    }

    /// Whether it is time to forget dead workers again (and, if so, now is the last time).
    fn forget_workers_now(&self) -> bool {
        let Ok(mut last) = self.forgot_workers.lock() else {
            return false;
        };
        let due = last.is_none_or(|at| at.elapsed() >= FORGET_DEAD_WORKERS_EVERY);
        if due {
            *last = Some(std::time::Instant::now());
        }
        due
    }
}

#[async_trait]
impl Queue for ApalisQueue {
    async fn schedule(&self, task: AdvanceTask, at: Timestamp) -> Result<(), QueueError> {
        let job = AdvanceJob {
            tenant_id: task.tenant_id,
            run_id: task.run_id,
            seq: task.seq,
            at,
        };
        let due_now = at <= Timestamp::now();
        let job = match due_now {
            true => self.backend.own().lane.offer(job),
            false => Err(job),
        };
        let path = if job.is_ok() { "lane" } else { "queue" };
        metrics::counter!("stepwise_tasks_queued_total", "path" => path).increment(1);
        match job {
            Ok(()) => Ok(()),
            Err(job) => self.pusher.push(job, due_now).await,
        }
    }

    /// PINGs Redis; the SQLite queue lives in the store's file, checked with the store.
    async fn ready(&self) -> Result<(), QueueError> {
        let QueueBackend::Redis(_, conn, _) = &self.backend else {
            return Ok(());
        };
        let mut conn = conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| QueueError(format!("redis: {e}")))
    }

    /// Deletes finished tasks, which are of no use here (the run history is in the store).
    /// apalis-sqlite keeps every task it ran, and its acknowledgement query re-parses its JSON
    /// argument for every row of the table, so a growing table slows every task down (not
    /// apalis' own `vacuum`, which also rewrites the whole file). Redis: `redis_prune.rs`,
    /// which also forgets dead workers once a minute.
    async fn prune(&self) -> Result<usize, QueueError> {
        let pool = match &self.backend {
            QueueBackend::Sqlite(_, pool, _) => pool,
            QueueBackend::Redis(storage, conn, _) => {
                let (mut conn, config) = (conn.clone(), storage.get_config());
                let pruned = super::redis_prune::prune(&mut conn, config).await?;
                // Tidying only: a failure is logged and tried again a minute later.
                if self.forget_workers_now()
                    && let Err(e) = super::redis_prune::forget_dead_workers(&mut conn, config).await
                {
                    tracing::warn!(error = %e, "dead workers' metadata not deleted");
                }
                return Ok(pruned);
            }
        };
        let deleted = sqlx::query("DELETE FROM Jobs WHERE status IN ('Done', 'Killed')")
            .execute(pool)
            .await
            .map_err(|e| QueueError(format!("pruning finished tasks: {e}")))?
            .rows_affected();
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }
}

/// `url` without the password it may carry (`redis://:secret@host` → `redis://***@host`), for
/// messages and logs.
fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
#[path = "apalis_tests.rs"]
pub(super) mod tests;
