//! Keeps the Redis queue from growing without bound. apalis-redis keeps every finished task:
//! its id in the `done` (or `dead`) set, its payload in the `data` hash and its metadata in a
//! key of its own. The engine never reads them (the run history is in the store), so the timer
//! loop deletes them in bounded batches. apalis' own `Vacuum` reads the whole `data` hash in one
//! script, which blocks Redis for as long as the backlog is large, and leaves the `done` set.
//!
//! apalis-redis also keeps a metadata hash per worker it ever registered, and forgets only the
//! worker's entry in the workers set when the worker dies. Every process start registers
//! workers under new names (a reused name would block crash recovery), so each start would
//! leave a hash behind for good: [`forget_dead_workers`] deletes those of workers no longer in
//! the set.

use std::sync::LazyLock;

use apalis_redis::Config;
use redis::Script;

use crate::ports::QueueError;

/// Finished tasks deleted per call, at most, so that one call never blocks Redis for long.
const BATCH: usize = 5_000;

/// KEYS: done set, dead set, data hash, metadata key prefix. ARGV: the batch size.
static PRUNE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local deleted = 0
for _, finished in ipairs({KEYS[1], KEYS[2]}) do
    local ids = redis.call('SPOP', finished, tonumber(ARGV[1]) - deleted)
    for _, id in ipairs(ids) do
        redis.call('HDEL', KEYS[3], id)
        redis.call('DEL', KEYS[4] .. ':' .. id)
    end
    deleted = deleted + #ids
    if deleted >= tonumber(ARGV[1]) then break end
end
return deleted
",
    )
});

/// Deletes up to [`BATCH`] finished tasks of the queue `config` names; returns how many.
pub(super) async fn prune(
    conn: &mut apalis_redis::ConnectionManager,
    config: &Config,
) -> Result<usize, QueueError> {
    PRUNE
        .key(config.done_jobs_set())
        .key(config.dead_jobs_set())
        .key(config.job_data_hash())
        .key(config.job_meta_hash())
        .arg(BATCH)
        .invoke_async::<usize>(conn)
        .await
        .map_err(|e| QueueError(format!("pruning finished tasks: {e}")))
}

/// Deletes the metadata hash of each worker of the queue that is no longer in its workers set
/// (apalis removes a dead worker from the set once its heartbeat is overdue); returns how many.
pub(super) async fn forget_dead_workers(
    conn: &mut apalis_redis::ConnectionManager,
    config: &Config,
) -> Result<usize, QueueError> {
    let redis_error = |e: redis::RedisError| QueueError(format!("forgetting dead workers: {e}"));
    // `{queue}:workers:metadata:<worker>` beside the set `{queue}:workers` (config.rs).
    let prefix = format!("{}:metadata:", config.workers_set());
    // The queue name is the operator's: its glob characters must match only themselves.
    let pattern: String = prefix
        .chars()
        .flat_map(|c| {
            let escape = matches!(c, '*' | '?' | '[' | ']' | '\\').then_some('\\');
            escape.into_iter().chain([c])
        })
        .collect();
    let mut cursor = 0u64;
    let mut forgotten = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{pattern}*"))
            .arg("COUNT")
            .arg(1_000)
            .query_async(conn)
            .await
            .map_err(redis_error)?;
        for key in keys {
            let worker = &key[prefix.len()..];
            let alive: Option<f64> = redis::cmd("ZSCORE")
                .arg(config.workers_set())
                .arg(worker)
                .query_async(conn)
                .await
                .map_err(redis_error)?;
            if alive.is_none() {
                forgotten += redis::cmd("DEL")
                    .arg(&key)
                    .query_async::<usize>(conn)
                    .await
                    .map_err(redis_error)?;
            }
        }
        if next == 0 {
            return Ok(forgotten);
        }
        cursor = next;
    }
}

/// Deletes every key of the queue `name` (tasks, workers, schedules): for benchmarks and tests
/// that made a queue of their own. Never call it on a queue that is in use.
pub async fn delete_redis_queue(url: &str, name: &str) -> Result<usize, QueueError> {
    let mut conn = apalis_redis::connect(url)
        .await
        .map_err(|e| QueueError(format!("redis at {url}: {e}")))?;
    let pattern = format!("{name}:*");
    let mut keys: Vec<String> = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1_000)
            .query_async(&mut conn)
            .await
            .map_err(|e| QueueError(format!("redis: {e}")))?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    for chunk in keys.chunks(1_000) {
        redis::cmd("UNLINK")
            .arg(chunk)
            .query_async::<usize>(&mut conn)
            .await
            .map_err(|e| QueueError(format!("redis: {e}")))?;
    }
    Ok(keys.len())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use jiff::Timestamp;

    use super::*;
    use crate::model::RunId;
    use crate::ports::{AdvanceTask, Queue, SystemClock};
    use crate::queue::{ApalisQueue, QueueBackend, QueueSettings, run_workers};
    use crate::runtime::Engine;

    async fn count(conn: &mut apalis_redis::ConnectionManager, command: &str, key: &str) -> usize {
        redis::cmd(command)
            .arg(key)
            .query_async(conn)
            .await
            .expect("redis")
    }

    /// Runs where `STEPWISE_TEST_REDIS_URL` is set (`.cargo/config.toml` sets it; `skip` skips).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finished_tasks_leave_nothing_behind_in_redis() {
        let Some(url) = std::env::var("STEPWISE_TEST_REDIS_URL")
            .ok()
            .filter(|u| u != "skip")
        else {
            return;
        };
        const TASKS: usize = 20;
        let settings = QueueSettings {
            name: format!("stepwise-prune-test-{}", uuid::Uuid::now_v7().simple()),
            batch_size: 4,
        };
        let backend = QueueBackend::redis(&url, &settings).await.expect("redis");
        let QueueBackend::Redis(storage, conn, _) = &backend else {
            unreachable!()
        };
        let (config, mut conn) = (storage.get_config().clone(), conn.clone());
        let queue = Arc::new(ApalisQueue::new(backend.clone()));
        let engine = Arc::new(Engine::new(
            Arc::new(crate::store::MemoryStore::new()),
            queue.clone(),
            Arc::new(SystemClock),
            Arc::new(crate::testing::RecordingConnector::default()),
        ));
        for seq in 0..TASKS as u64 {
            let task = AdvanceTask {
                tenant_id: "t".into(),
                run_id: RunId(uuid::Uuid::now_v7()),
                seq,
            };
            queue.schedule(task, Timestamp::now()).await.expect("push");
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let workers = tokio::spawn(run_workers(engine, backend, 4, async move {
            let _ = stopped.await;
        }));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while count(&mut conn, "SCARD", &config.done_jobs_set()).await < TASKS {
            assert!(
                tokio::time::Instant::now() < deadline,
                "tasks did not finish"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = stop.send(());
        workers.await.expect("join").expect("workers");

        let data = config.job_data_hash();
        assert_eq!(
            count(&mut conn, "HLEN", &data).await,
            TASKS,
            "apalis keeps them"
        );
        assert_eq!(prune(&mut conn, &config).await.expect("prune"), TASKS);
        assert_eq!(count(&mut conn, "HLEN", &data).await, 0);
        assert_eq!(count(&mut conn, "SCARD", &config.done_jobs_set()).await, 0);
        let meta: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", config.job_meta_hash()))
            .query_async(&mut conn)
            .await
            .expect("redis");
        assert_eq!(meta, Vec::<String>::new(), "no task metadata is left");
        assert_eq!(prune(&mut conn, &config).await.expect("prune"), 0);

        assert!(
            delete_redis_queue(&url, &settings.name)
                .await
                .expect("delete")
                > 0
        );
        let left: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", settings.name))
            .query_async(&mut conn)
            .await
            .expect("redis");
        assert_eq!(left, Vec::<String>::new(), "the queue is gone");
    }

    /// Runs where `STEPWISE_TEST_REDIS_URL` is set (`.cargo/config.toml` sets it; `skip` skips).
    #[tokio::test]
    async fn dead_workers_are_forgotten_and_live_ones_kept() {
        let Some(url) = std::env::var("STEPWISE_TEST_REDIS_URL")
            .ok()
            .filter(|u| u != "skip")
        else {
            return;
        };
        let name = format!("stepwise-workers-test-{}", uuid::Uuid::now_v7().simple());
        let config = Config::default().queue(&name);
        let mut conn = apalis_redis::connect(url.as_str()).await.expect("redis");
        let metadata = |worker: &str| format!("{}:metadata:{worker}", config.workers_set());
        // As apalis' register script leaves them: the live worker is in the set, the dead one
        // was removed from it when its heartbeat ran out.
        let _: () = redis::cmd("ZADD")
            .arg(config.workers_set())
            .arg(Timestamp::now().as_second())
            .arg("alive")
            .query_async(&mut conn)
            .await
            .expect("zadd");
        for worker in ["alive", "dead-1", "dead-2"] {
            let _: () = redis::cmd("HSET")
                .arg(metadata(worker))
                .arg("service")
                .arg("advance")
                .query_async(&mut conn)
                .await
                .expect("hset");
        }
        assert_eq!(
            forget_dead_workers(&mut conn, &config)
                .await
                .expect("forget"),
            2
        );
        let exists = |worker: &str| {
            let key = metadata(worker);
            let mut conn = conn.clone();
            async move {
                redis::cmd("EXISTS")
                    .arg(key)
                    .query_async::<usize>(&mut conn)
                    .await
                    .expect("exists")
            }
        };
        assert_eq!((exists("alive").await, exists("dead-1").await), (1, 0));
        assert_eq!(
            forget_dead_workers(&mut conn, &config)
                .await
                .expect("again"),
            0
        );
        delete_redis_queue(&url, &name).await.expect("delete");
    }
}
