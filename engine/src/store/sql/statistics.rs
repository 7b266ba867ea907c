//! Planner statistics for young PostgreSQL databases.
//!
//! Until a table is first analyzed, PostgreSQL estimates it from its size alone, and on a
//! small table every index that starts with `tenant_id` costs the same as the primary key for
//! a lookup by `(tenant_id, id)`. A fresh database's first transitions therefore cached plans
//! whose UPDATE of a run walked `runs_by_status`, visiting every run of the tenant: `bench
//! flow` spent most of PostgreSQL's time there (pg_stat_activity sampled that UPDATE in 124 of
//! 150 looks). Autovacuum analyzes a table on its next round only (a minute, by default), and
//! cached plans keep their choice until a table's statistics change. So the reconciler
//! analyzes the hot tables itself while they are young: each time one has doubled since its
//! statistics were taken, until they describe 1,000 rows. After that the primary key wins on
//! cost whatever the size, and autovacuum keeps the statistics current.

use sqlx::Row;

use super::{Backend, SqlStore, unavailable};
use crate::ports::StoreError;

/// Rows a table's statistics must describe before it is left to autovacuum.
const GROWN: i64 = 1_000;

/// The tables a run's transitions and an event's ingestion read by key.
const HOT: &str = "'runs', 'run_steps', 'contacts', 'events', 'messages'";

impl SqlStore {
    /// Analyzes each hot table that is young and has doubled (at least 200 rows) since its
    /// statistics were taken; answers what it analyzed.
    pub(super) async fn analyze_young_tables(&self) -> Result<Vec<String>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(Vec::new()); // SQLite's planner prefers the primary key on its own
        }
        // The server's own login role owns the tables when it applied the migrations. A table
        // it does not own is left out: PostgreSQL would skip it with a mere warning, and the
        // table would look analyzed on every pass. No tenant rows are read.
        let query = format!(
            "SELECT s.relname::text AS name FROM pg_stat_user_tables s \
             JOIN pg_class c ON c.oid = s.relid \
             WHERE s.schemaname = current_schema() AND s.relname IN ({HOT}) \
             AND c.reltuples < {GROWN} AND s.n_live_tup >= 2 * GREATEST(c.reltuples, 100) \
             AND pg_has_role(c.relowner, 'USAGE')"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(query))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        let mut analyzed = Vec::new();
        for row in rows {
            let name: String = row.try_get("name").map_err(unavailable)?;
            // `name` is one of HOT, read back from the catalogue.
            sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {name}")))
                .execute(&self.pool)
                .await
                .map_err(unavailable)?;
            analyzed.push(format!("analyzed young table {name}"));
        }
        Ok(analyzed)
    }
}
