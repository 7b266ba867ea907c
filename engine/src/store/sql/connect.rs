//! Opening the store: the pool (one SQLite connection in WAL mode, created private to its
//! owner; or a PostgreSQL pool opened whole at start), the group committer, and the
//! migrations, with the check that the PostgreSQL account can act as the role row-level
//! security applies to.

use std::time::Duration;

use sqlx::Executor;
use sqlx::any::{AnyPoolOptions, install_default_drivers};

use super::scope::{APP_ROLE, TENANT_TABLES};
use super::{Backend, DEFAULT_CONNECTIONS, SqlStore, group_commit, unavailable};
use crate::ports::StoreError;

/// Creates the SQLite file of `url` readable by its owner only (mode 0600) when it does not
/// exist yet; SQLite gives its `-wal` and `-shm` files the database file's mode. The file
/// holds every tenant's contacts and sealed credentials.
pub(crate) fn create_private_file(url: &str) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or_default();
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(':') || url.contains("mode=memory") {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Unavailable(format!(
            "cannot create {path}: {e}"
        ))),
    }
}

impl SqlStore {
    /// Connects to `url` (`sqlite://stepwise.db`, `postgres://user@host/db`), creating a
    /// SQLite file if it does not exist. SQLite connections use WAL with `synchronous=NORMAL`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, DEFAULT_CONNECTIONS).await
    }

    /// [`SqlStore::connect`] with up to `connections` PostgreSQL connections (SQLite always
    /// uses one).
    pub async fn connect_with(url: &str, connections: u32) -> Result<Self, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        if backend == Backend::Sqlite {
            create_private_file(url)?;
        }
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        let options = AnyPoolOptions::new()
            // SQLite has one writer at a time and its busy handler is not fair: with several
            // connections, a writer can starve past the busy timeout under load. One
            // connection queues writers in order in the pool instead.
            .max_connections(if backend == Backend::Sqlite {
                1
            } else {
                connections.max(2)
            })
            // Every PostgreSQL connection is opened at start, not by the first requests
            // that need one: opening one on demand took 30–120 ms, which `stepwise bench api`
            // saw as the p99 of a server's first second.
            .min_connections(if backend == Backend::Sqlite {
                0
            } else {
                connections.max(2)
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // cache_size: 32 MiB of pages (the default 2 MiB made the indexes of a
                        // busy database spill to read() calls; `stepwise bench api` showed it).
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
                             PRAGMA cache_size = -32768;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            });
        let pool = options.connect(&url).await.map_err(unavailable)?;
        let mut store = Self {
            pool,
            backend,
            group: None,
        };
        let committers = if backend == Backend::Sqlite { 1 } else { 4 };
        store.group = Some(group_commit::GroupCommit::start(&store, committers));
        Ok(store)
    }

    /// Applies the migrations of this backend (idempotent). They are recorded in
    /// `_stepwise_migrations`, apart from the queue's own.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("../migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("../migrations/postgres"),
        };
        migrator.dangerous_set_table_name("_stepwise_migrations");
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))?;
        if self.backend == Backend::Postgres {
            self.check_app_role().await?;
        }
        Ok(())
    }

    /// Fails, saying what a DBA must run, when this account cannot act as [`APP_ROLE`]:
    /// every transaction would fail later, and less clearly.
    async fn check_app_role(&self) -> Result<(), StoreError> {
        let row = sqlx::query(
            "SELECT CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = $1) \
             THEN CASE WHEN pg_has_role(current_user, $1, 'MEMBER') THEN 2 ELSE 1 END ELSE 0 END AS state, \
             current_user::text AS login",
        )
        .bind(APP_ROLE)
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        let state: i32 = sqlx::Row::try_get(&row, "state").map_err(unavailable)?;
        let login: String = sqlx::Row::try_get(&row, "login").map_err(unavailable)?;
        let fix = match state {
            2 => return Ok(()),
            1 => format!("GRANT {APP_ROLE} TO {login};"),
            _ => format!(
                "CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS; GRANT {APP_ROLE} TO {login}; \
                 GRANT USAGE ON SCHEMA public TO {APP_ROLE}; GRANT SELECT, INSERT, UPDATE, DELETE ON \
                 {TENANT_TABLES} TO {APP_ROLE}; REVOKE UPDATE, DELETE ON audit_log FROM {APP_ROLE}; \
                 GRANT SELECT, INSERT ON suppressions TO {APP_ROLE};"
            ),
        };
        Err(StoreError::Unavailable(format!(
            "the database account {login} cannot act as the role {APP_ROLE}, which the server's \
             queries run as so that row-level security applies (docs/security.md); as a \
             superuser, run: {fix}"
        )))
    }
}
