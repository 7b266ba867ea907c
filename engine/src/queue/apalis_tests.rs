//! The apalis queue's own tests: pruning finished tasks, and where the queue file sits.

use super::*;

#[tokio::test]
async fn prune_removes_finished_tasks_and_keeps_pending_ones() {
    let path = std::env::temp_dir().join(format!(
        "stepwise-prune-{}.db",
        uuid::Uuid::now_v7().simple()
    ));
    let url = format!("sqlite://{}", path.display());
    let backend = QueueBackend::sqlite(&url, &QueueSettings::default())
        .await
        .unwrap();
    let queue = ApalisQueue::new(backend.clone());
    for seq in 0..3 {
        let task = AdvanceTask {
            tenant_id: "t".into(),
            run_id: RunId(uuid::Uuid::now_v7()),
            seq,
        };
        queue.schedule(task, Timestamp::now()).await.unwrap();
    }
    assert_eq!(queue.prune().await.unwrap(), 0, "pending tasks stay");
    let QueueBackend::Sqlite(_, pool, _) = &backend else {
        unreachable!()
    };
    sqlx::query("UPDATE Jobs SET status = 'Done' WHERE ROWID IN (SELECT ROWID FROM Jobs LIMIT 2)")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(queue.prune().await.unwrap(), 2, "finished tasks go");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM Jobs")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(left, 1);
    pool.close().await;
    remove_queue_files(&url);
}

/// Deletes a test's queue file (with its WAL files) beside the store file `url`.
pub(in crate::queue) fn remove_queue_files(url: &str) {
    let file = super::queue_url(url);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.trim_start_matches("sqlite://")));
    }
}

#[test]
fn the_queue_file_sits_beside_the_store() {
    assert_eq!(
        queue_url("sqlite://stepwise.db"),
        "sqlite://stepwise.queue.db"
    );
    assert_eq!(
        queue_url("sqlite:///var/lib/x/data.sqlite?mode=rwc"),
        "sqlite:///var/lib/x/data.queue.sqlite?mode=rwc"
    );
    assert_eq!(
        queue_url("sqlite://./dir.v2/stepwise"),
        "sqlite://./dir.v2/stepwise.queue"
    );
}
