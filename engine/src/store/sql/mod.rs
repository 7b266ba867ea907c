//! The SQL store: one implementation for SQLite (the embedded default) and PostgreSQL
//! (production), over sqlx's `Any` driver. The schema is portable (text, bigint, JSON
//! documents as text, times as unix microseconds); each backend has its own migration folder
//! so that backend-specific features (row-level security on PostgreSQL) can be added there.

mod access;
mod audiences;
mod campaign_counts;
mod campaigns;
mod contacts;
mod conversation_thread;
mod conversations;
mod credentials;
mod edge;
mod erase;
pub use credentials::SealedCredential;
mod events;
mod first_events;
mod flows;
mod group_commit;
mod import_batch;
mod imports;
mod inbox_changes;
mod links;
mod listing;
mod members;
mod messages;
mod metrics;
mod runs;
mod schedules;
mod scope;
mod segments;
mod statistics;
mod suppressions;
mod templates;
mod usage;

pub use erase::{ERASED, Erased};
use scope::{APP_ROLE, Scope, TENANT_TABLES, Tx};

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

use crate::model::{Contact, ContactChange, Run, RunId, Tenant};
use crate::ports::{
    AdvanceTask, AuditEntry, EventContact, EventInsert, FlowDocument, LiveFlow, Message, Schedule,
    Store, StoreError, StoredEvent, TenantChange, TrackedLink, Transition, UnheardType,
};
use crate::runtime::StepRecord;

/// PostgreSQL connections per process by default: three processes stay well under the
/// server's default limit of 100.
pub const DEFAULT_CONNECTIONS: u32 = 16;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A [`Store`] on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// Commits transitions in groups; `None` only inside the committers' own handle.
    group: Option<group_commit::GroupCommit>,
}

/// `NotFound` for `what` when a keyed UPDATE or DELETE changed no row.
fn changed_or_not_found(rows: u64, what: impl FnOnce() -> String) -> Result<(), StoreError> {
    if rows == 0 {
        return Err(StoreError::NotFound { what: what() });
    }
    Ok(())
}

fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn corrupt(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Unavailable(format!("stored {what} does not decode: {e}"))
}

/// Unix microseconds, the stored form of times.
fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// A time column (unix microseconds) of `row`.
fn time_column(row: &sqlx::any::AnyRow, column: &str) -> Result<Timestamp, StoreError> {
    use sqlx::Row;
    let us: i64 = row.try_get(column).map_err(unavailable)?;
    Ok(Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH))
}

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

    pub fn backend(&self) -> Backend {
        self.backend
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

    fn group(&self) -> Result<&group_commit::GroupCommit, StoreError> {
        self.group
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the store has no committer".into()))
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Runs of every tenant due by `now` and not yet advanced: the work waiting for a
    /// worker (the queue depth metric).
    pub async fn due_count(&self, now: Timestamp) -> Result<i64, StoreError> {
        let query = sqlx::query(
            "SELECT COUNT(*) AS n FROM runs WHERE wake_at IS NOT NULL AND wake_at <= $1",
        )
        .bind(micros(now));
        let row = self.fetch_one(Scope::System, query).await?;
        sqlx::Row::try_get(&row, "n").map_err(unavailable)
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn put_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        contacts::put_tenant(self, tenant).await
    }
    async fn tenant(&self, tenant_id: &str) -> Result<Tenant, StoreError> {
        contacts::tenant(self, tenant_id).await
    }
    async fn update_tenant(
        &self,
        tenant_id: &str,
        change: &TenantChange<'_>,
        audit: &AuditEntry,
    ) -> Result<Option<Tenant>, StoreError> {
        contacts::update_tenant(self, tenant_id, change, audit).await
    }
    async fn put_contact(&self, tenant_id: &str, contact: &Contact) -> Result<(), StoreError> {
        self.group()?.put_contact(tenant_id, contact).await
    }
    async fn create_contact(&self, tenant_id: &str, contact: &Contact) -> Result<(), StoreError> {
        contacts::create_contact(self, tenant_id, contact).await
    }
    async fn contact(&self, tenant_id: &str, contact_id: &str) -> Result<Contact, StoreError> {
        contacts::contact(self, tenant_id, contact_id).await
    }
    async fn with_suppressions(
        &self,
        tenant_id: &str,
        contact: Contact,
    ) -> Result<Contact, StoreError> {
        suppressions::with_suppressions(self, tenant_id, contact).await
    }
    async fn change_contact(
        &self,
        tenant_id: &str,
        contact_id: &str,
        change: &ContactChange,
    ) -> Result<Contact, StoreError> {
        contacts::change_contact(self, tenant_id, contact_id, change).await
    }
    async fn record_event(
        &self,
        tenant_id: &str,
        event: &StoredEvent,
        contact: Option<EventContact<'_>>,
    ) -> Result<EventInsert, StoreError> {
        if self
            .group()?
            .record_event(tenant_id, event, contact)
            .await?
        {
            Ok(EventInsert::Inserted)
        } else {
            events::existing(self, tenant_id, event).await
        }
    }
    async fn record_first_event(
        &self,
        tenant_id: &str,
        event: &StoredEvent,
        contact: &Contact,
        runs: Vec<(Run, Vec<StepRecord>)>,
    ) -> Result<bool, StoreError> {
        self.group()?
            .record_first_event(tenant_id, event, contact, runs)
            .await
    }
    async fn mark_event_processed(
        &self,
        tenant_id: &str,
        event_id: &str,
    ) -> Result<(), StoreError> {
        self.group()?.mark_processed(tenant_id, event_id).await
    }
    async fn save_links(
        &self,
        tenant_id: &str,
        run: &Run,
        links: &[TrackedLink],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        links::save_links(self, tenant_id, run, links, at).await
    }
    async fn note_unheard(
        &self,
        tenant_id: &str,
        event_type: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        events::note_unheard(self, tenant_id, event_type, at).await
    }
    async fn unheard_types(
        &self,
        tenant_id: &str,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<UnheardType>, StoreError> {
        events::unheard_types(self, tenant_id, since, limit).await
    }
    async fn save_flow(
        &self,
        tenant_id: &str,
        flow_id: &str,
        doc: &FlowDocument,
        audit: Option<&AuditEntry>,
    ) -> Result<u32, StoreError> {
        flows::save_flow(self, tenant_id, flow_id, doc, audit).await
    }
    async fn flow_version(
        &self,
        tenant_id: &str,
        flow_id: &str,
        version: u32,
    ) -> Result<FlowDocument, StoreError> {
        flows::flow_version(self, tenant_id, flow_id, version).await
    }
    async fn set_flow_enabled(
        &self,
        tenant_id: &str,
        flow_id: &str,
        enabled: bool,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        flows::set_flow_enabled(self, tenant_id, flow_id, enabled, audit).await
    }
    async fn live_flows(&self, tenant_id: &str) -> Result<Vec<LiveFlow>, StoreError> {
        flows::live_flows(self, tenant_id).await
    }
    async fn create_run(
        &self,
        tenant_id: &str,
        run: &Run,
        records: &[StepRecord],
    ) -> Result<bool, StoreError> {
        let runs = vec![(run.clone(), records.to_vec())];
        self.group()?.create(tenant_id, runs, None).await
    }
    async fn start_runs(
        &self,
        tenant_id: &str,
        runs: Vec<(Run, Vec<StepRecord>)>,
        event_id: &str,
    ) -> Result<bool, StoreError> {
        self.group()?.create(tenant_id, runs, Some(event_id)).await
    }
    async fn run(&self, tenant_id: &str, run_id: RunId) -> Result<Run, StoreError> {
        runs::run(self, tenant_id, run_id).await
    }
    async fn run_and_contact(
        &self,
        tenant_id: &str,
        run_id: RunId,
    ) -> Result<(Run, Contact), StoreError> {
        runs::run_and_contact(self, tenant_id, run_id).await
    }
    async fn apply(&self, tenant_id: &str, transition: Transition) -> Result<(), StoreError> {
        self.group()?.apply(tenant_id, transition).await
    }
    async fn active_runs(&self, tenant_id: &str, contact_id: &str) -> Result<Vec<Run>, StoreError> {
        runs::active_runs(self, tenant_id, contact_id).await
    }
    async fn records(&self, tenant_id: &str, run_id: RunId) -> Result<Vec<StepRecord>, StoreError> {
        runs::records(self, tenant_id, run_id).await
    }
    async fn messages(&self, tenant_id: &str, run_id: RunId) -> Result<Vec<Message>, StoreError> {
        messages::messages(self, tenant_id, run_id).await
    }
    async fn save_schedule(&self, schedule: &Schedule) -> Result<(), StoreError> {
        schedules::save_schedule(self, schedule).await
    }
    async fn due_schedules(&self, now: Timestamp, limit: u32) -> Result<Vec<Schedule>, StoreError> {
        schedules::due_schedules(self, now, limit).await
    }
    async fn advance_schedule(
        &self,
        schedule: &Schedule,
        next: Timestamp,
    ) -> Result<bool, StoreError> {
        schedules::advance_schedule(self, schedule, next).await
    }
    async fn contacts(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Contact>, StoreError> {
        schedules::contacts(self, tenant_id, after, limit).await
    }
    async fn last_run_started(
        &self,
        tenant_id: &str,
        flow_id: &str,
        contact_id: &str,
    ) -> Result<Option<Timestamp>, StoreError> {
        schedules::last_run_started(self, tenant_id, flow_id, contact_id).await
    }
    async fn claim_timers(
        &self,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<(AdvanceTask, Timestamp)>, StoreError> {
        runs::claim_timers(self, until, limit).await
    }
    async fn due_runs(&self, now: Timestamp, limit: u32) -> Result<Vec<AdvanceTask>, StoreError> {
        runs::due_runs(self, now, limit).await
    }
    async fn maintain(&self) -> Result<Vec<String>, StoreError> {
        self.analyze_young_tables().await
    }
}
