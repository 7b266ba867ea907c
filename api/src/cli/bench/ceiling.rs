//! The database's own ceiling for the writes a step transition makes (update one run row with
//! its state document, append one history row, commit), measured without Stepwise:
//! pgbench at 32 clients on PostgreSQL, a tight commit loop on SQLite in WAL mode with the
//! store's settings. The engine's transitions per second are reported against it.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::Executor;
use stepwise_engine::store::SqlStore;

/// Rows in the ceiling's run table: each transaction updates a random one.
const RUNS: usize = 10_000;

/// A state document the size of a small run's (about 1 KiB of JSON).
fn state_document() -> String {
    format!(
        "{{\"vars\":{{}},\"outputs\":{{\"text\":\"{}\"}}}}",
        "s".repeat(1000)
    )
}

/// Measures the ceiling and prints it on one line; answers it.
pub async fn report(store: &SqlStore, database_url: &str, secs: u64) -> anyhow::Result<f64> {
    let ceiling = measure(store, database_url, secs).await?;
    println!(
        "  ceiling: {ceiling:.0} transactions/s (UPDATE run + INSERT step, {})",
        if database_url.starts_with("sqlite:") {
            "SQLite WAL, one writer"
        } else {
            "pgbench, 32 clients"
        }
    );
    Ok(ceiling)
}

/// Transactions per second for the transition shape on `store`'s database.
pub async fn measure(store: &SqlStore, database_url: &str, secs: u64) -> anyhow::Result<f64> {
    let pool = store.pool();
    pool.execute(
        "CREATE TABLE ceiling_runs (id BIGINT PRIMARY KEY, seq BIGINT NOT NULL, state TEXT NOT NULL); \
         CREATE TABLE ceiling_steps (run_id BIGINT NOT NULL, seq BIGINT NOT NULL, doc TEXT NOT NULL)",
    )
    .await?;
    let state = state_document();
    sqlx::query(
        "WITH RECURSIVE n(id) AS (SELECT 0 UNION ALL SELECT id + 1 FROM n WHERE id < $1) \
         INSERT INTO ceiling_runs (id, seq, state) SELECT id, 0, CAST($2 AS TEXT) FROM n",
    )
    .bind(RUNS as i64 - 1)
    .bind(&state)
    .execute(pool)
    .await?;
    let rate = if database_url.starts_with("sqlite:") {
        sqlite(store, secs).await
    } else {
        pgbench(database_url, secs).await
    };
    pool.execute("DROP TABLE ceiling_runs; DROP TABLE ceiling_steps")
        .await?;
    rate
}

/// One writer committing back to back, as the store's single SQLite connection does.
async fn sqlite(store: &SqlStore, secs: u64) -> anyhow::Result<f64> {
    let state = state_document();
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        let id = (done * 7919) % RUNS as u64;
        let mut tx = store.pool().begin().await?;
        sqlx::query("UPDATE ceiling_runs SET seq = seq + 1, state = $1 WHERE id = $2")
            .bind(&state)
            .bind(id as i64)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO ceiling_steps (run_id, seq, doc) VALUES ($1, $2, $3)")
            .bind(id as i64)
            .bind(done as i64)
            .bind("{\"kind\":\"called\",\"status\":200}")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        done += 1;
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// pgbench, 32 clients on 2 threads, the same transaction as a script.
async fn pgbench(database_url: &str, secs: u64) -> anyhow::Result<f64> {
    let script = std::env::temp_dir().join(format!("stepwise-ceiling-{}.sql", std::process::id()));
    std::fs::write(
        &script,
        format!(
            "\\set id random(0, {})\nBEGIN;\n\
             UPDATE ceiling_runs SET seq = seq + 1, state = '{}' WHERE id = :id;\n\
             INSERT INTO ceiling_steps (run_id, seq, doc) VALUES (:id, 0, '{{\"kind\":\"called\",\"status\":200}}');\n\
             END;\n",
            RUNS - 1,
            state_document()
        ),
    )?;
    let output = tokio::process::Command::new("pgbench")
        .args(["-n", "-c", "32", "-j", "2", "-T", &secs.to_string(), "-f"])
        .arg(&script)
        .arg(database_url)
        .output()
        .await
        .context("run pgbench (Debian package postgresql-client)")?;
    let _ = std::fs::remove_file(&script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .with_context(|| format!("no tps in pgbench's output: {stdout}"))
}
