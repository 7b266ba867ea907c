//! The store conformance suite on SQLite (always) and PostgreSQL (when
//! `STEPWISE_TEST_DATABASE_URL` is set; then an unreachable server fails the test, it is not
//! skipped). Each run gets a fresh database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use stepwise_engine::store::{SqlStore, conformance};

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    )
}

#[tokio::test]
async fn sqlite_conforms() {
    let path = std::env::temp_dir().join(format!("{}.db", unique("stepwise_conformance")));
    let store = SqlStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open SQLite");
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrations are idempotent");
    conformance::run_all(&store).await;
    admin_writes_commit_with_their_audit_entries(&store).await;
    conformance::concurrent_transitions_apply_once(std::sync::Arc::new(store.clone())).await;
    conformance::concurrent_first_events_keep_their_own_outcome(std::sync::Arc::new(store.clone()))
        .await;
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn postgres_conforms() {
    let Ok(url) = std::env::var("STEPWISE_TEST_DATABASE_URL") else {
        eprintln!("STEPWISE_TEST_DATABASE_URL is not set: PostgreSQL not tested here (CI sets it)");
        return;
    };
    let admin = SqlStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is unreachable: {e}"));
    let name = unique("stepwise_t");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.pool())
        .await
        .expect("create database");
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    let store = SqlStore::connect(&format!("{base}/{name}"))
        .await
        .expect("connect to the new database");
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrations are idempotent");
    conformance::run_all(&store).await;
    admin_writes_commit_with_their_audit_entries(&store).await;
    conformance::concurrent_transitions_apply_once(std::sync::Arc::new(store.clone())).await;
    conformance::concurrent_first_events_keep_their_own_outcome(std::sync::Arc::new(store.clone()))
        .await;
    young_tables_get_statistics(&store).await;
    store.pool().close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
        .execute(admin.pool())
        .await
        .expect("drop database");
}

/// A young table's statistics are taken by the store's maintenance once it has grown, so that
/// a lookup by primary key plans as one (see `store/sql/statistics.rs`).
async fn young_tables_get_statistics(store: &SqlStore) {
    use stepwise_engine::model::{Event, Run};
    use stepwise_engine::ports::Store;

    let generic_plan = || async {
        let mut conn = store.pool().acquire().await.expect("connection");
        let explain = "SET plan_cache_mode = force_generic_plan; \
            PREPARE by_id(text, text) AS SELECT state FROM runs WHERE tenant_id = $1 AND id = $2";
        sqlx::raw_sql(sqlx::AssertSqlSafe(explain))
            .execute(&mut *conn)
            .await
            .expect("prepare");
        let plan: Vec<String> = sqlx::query_scalar("EXPLAIN EXECUTE by_id('stats', 'x')")
            .fetch_all(&mut *conn)
            .await
            .expect("explain");
        sqlx::raw_sql("DEALLOCATE by_id; RESET plan_cache_mode")
            .execute(&mut *conn)
            .await
            .expect("deallocate");
        plan.join("\n")
    };
    for n in 0..400 {
        let run = Run::start(
            "stats",
            "f",
            1,
            &format!("c{n}"),
            Event::new("x", serde_json::json!({})),
            jiff::Timestamp::now(),
        );
        store
            .create_run("stats", &run, &[])
            .await
            .expect("create run");
    }
    // The activity statistics reach PostgreSQL's counters within a second or so.
    let mut poll = tokio::time::interval(std::time::Duration::from_millis(100));
    let analyzed = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            poll.tick().await;
            let done = store.maintain().await.expect("maintain");
            if done.iter().any(|d| d.ends_with(" runs")) {
                return done;
            }
        }
    })
    .await
    .expect("the runs table was analyzed once it had grown");
    assert!(!analyzed.is_empty());
    let plan = generic_plan().await;
    assert!(
        plan.contains("runs_pkey"),
        "a lookup by id uses the primary key:\n{plan}"
    );
    assert!(
        !store
            .maintain()
            .await
            .expect("maintain")
            .iter()
            .any(|d| d.ends_with(" runs")),
        "a table analyzed is left alone until it doubles"
    );
}

/// An admin write of the access store and the audit entry that records it are stored
/// together or not at all: an entry that cannot be written (here, a reused id) takes its
/// action back with it.
async fn admin_writes_commit_with_their_audit_entries(store: &SqlStore) {
    use stepwise_engine::model::Tenant;
    use stepwise_engine::ports::{AccessStore, ApiKey, AuditEntry, Role, StoreError};

    let entry = |id: &str, action: &str| AuditEntry {
        id: id.into(),
        ..AuditEntry::now("operator", None, action, "target", serde_json::Value::Null)
    };
    let key = |id: &str| ApiKey {
        id: id.into(),
        tenant_id: "audited".into(),
        name: id.into(),
        role: Role::Admin,
        prefix: format!("sw_{id}"),
        created_at: jiff::Timestamp::now(),
        last_used_at: None,
        revoked_at: None,
    };
    let tenant = Tenant {
        id: "audited".into(),
        name: "Audited".into(),
        timezone: "America/Chicago".into(),
        ..Tenant::default()
    };
    store
        .create_tenant(
            &tenant,
            &key("k1"),
            "digest-1",
            &entry("a1", "tenant.create"),
        )
        .await
        .expect("tenant");

    let refused = store
        .create_key(&key("k2"), "digest-2", &entry("a1", "key.create"))
        .await;
    assert!(refused.is_err(), "an entry id used twice is refused");
    let keys = store.keys("audited", None, 10).await.expect("keys");
    assert_eq!(keys.len(), 1, "the key went with its entry: {keys:?}");

    let refused = store
        .put_secret(
            "audited",
            "token",
            "sealed",
            "",
            &entry("a1", "credential.set"),
        )
        .await;
    assert!(refused.is_err());
    assert!(store.secrets("audited").await.expect("secrets").is_empty());

    let refused = store
        .revoke_key(
            "audited",
            "k1",
            jiff::Timestamp::now(),
            &entry("a1", "key.revoke"),
        )
        .await;
    assert!(refused.is_err());
    assert!(
        store.keys("audited", None, 10).await.expect("keys")[0]
            .revoked_at
            .is_none()
    );

    let missing = store
        .delete_secret("audited", "nothing", &entry("a2", "credential.delete"))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    let log = store.audit("audited", None, 10).await.expect("audit");
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["tenant.create"],
        "only the action that happened is in the log"
    );
}
