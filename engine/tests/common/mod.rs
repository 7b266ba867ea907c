//! Fresh, migrated databases for the store's integration tests: a SQLite file in the
//! temporary directory, and a PostgreSQL database beside `STEPWISE_TEST_DATABASE_URL` (when it
//! is set; then an unreachable server fails the test, it is not skipped). Each is dropped by
//! [`TestDb::finish`].

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // a failed unwrap is a failed test

use stepwise_engine::store::SqlStore;

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    )
}

/// A fresh database and what removes it.
pub struct TestDb {
    pub store: SqlStore,
    place: Place,
}

enum Place {
    Sqlite(std::path::PathBuf),
    Postgres { admin: SqlStore, name: String },
}

impl TestDb {
    /// A migrated SQLite file named after `prefix`.
    pub async fn sqlite(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}.db", unique(prefix)));
        let store = SqlStore::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("open SQLite");
        store.migrate().await.expect("migrate");
        Self {
            store,
            place: Place::Sqlite(path),
        }
    }

    /// A migrated PostgreSQL database named after `prefix`, or `None` (and a SKIPPED line)
    /// when `STEPWISE_TEST_DATABASE_URL` is unset or `skip`.
    pub async fn postgres(prefix: &str) -> Option<Self> {
        let Some(url) = std::env::var("STEPWISE_TEST_DATABASE_URL")
            .ok()
            .filter(|u| u != "skip")
        else {
            eprintln!(
                "SKIPPED: STEPWISE_TEST_DATABASE_URL is unset or `skip`: PostgreSQL not tested"
            );
            return None;
        };
        let admin = SqlStore::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {url} is unreachable: {e}"));
        let name = unique(prefix);
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(admin.pool())
            .await
            .expect("create database");
        let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
        let store = SqlStore::connect(&format!("{base}/{name}"))
            .await
            .expect("connect to the new database");
        store.migrate().await.expect("migrate");
        Some(Self {
            store,
            place: Place::Postgres { admin, name },
        })
    }

    /// Closes the store and removes its database.
    pub async fn finish(self) {
        self.store.pool().close().await;
        match self.place {
            Place::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Place::Postgres { admin, name } => {
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
                    .execute(admin.pool())
                    .await
                    .expect("drop database");
            }
        }
    }
}
