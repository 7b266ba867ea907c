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
    conformance::concurrent_transitions_apply_once(std::sync::Arc::new(store.clone())).await;
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
    conformance::concurrent_transitions_apply_once(std::sync::Arc::new(store.clone())).await;
    store.pool().close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
        .execute(admin.pool())
        .await
        .expect("drop database");
}
