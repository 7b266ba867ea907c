//! `stepwise bench kpis`: how long each module KPI takes for a busy tenant's year: a
//! database seeded with `--messages` messages (default 1,000,000) from a quarter as many
//! speed-to-lead runs spread over 365 days, with their leads, bookings, replies, no-shows,
//! steps, NPS scores and payments (a quarter of the runs paid, some in two parts). Each KPI
//! is timed over the whole year and over the last 30 days, against the database's own
//! ceiling measured in the same run: one pass counting the tenant's messages.

use std::time::Instant;

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};
use sqlx::Row;
use stepwise_engine::kpi::kpi;
use stepwise_engine::store::SqlStore;

use super::{bar, seconds_since};

#[derive(Debug, clap::Args)]
pub struct KpiArgs {
    /// Messages in the tenant's year (runs are a quarter of that).
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// The database (default: a fresh SQLite file in a temporary folder).
    #[arg(long)]
    database_url: Option<String>,
}

const TENANT: &str = "busy";
const FLOW: &str = "speed-to-lead";
/// Rows per INSERT statement.
const BATCH: usize = 500;
const PAID: &str = "payment.succeeded";

/// The year being measured: it ends at `END`.
fn end() -> Timestamp {
    "2026-12-01T00:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// Inserts `rows` (each a list of values) into `table (columns)`, `BATCH` rows a statement.
pub(super) async fn insert(
    store: &SqlStore,
    table: &str,
    columns: &str,
    rows: Vec<Vec<Value>>,
) -> anyhow::Result<()> {
    let width = columns.split(',').count();
    for chunk in rows.chunks(BATCH) {
        let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..width {
                if c > 0 {
                    sql.push(',');
                }
                n += 1;
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            for value in row {
                query = match value {
                    Value::Text(s) => query.bind(s.clone()),
                    Value::Int(i) => query.bind(*i),
                    Value::Bool(b) => query.bind(*b),
                    Value::NullText => query.bind(None::<String>),
                    Value::NullInt => query.bind(None::<i64>),
                };
            }
        }
        query.execute(store.pool()).await?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub(super) enum Value {
    Text(String),
    Int(i64),
    Bool(bool),
    /// A NULL of a text column, and of an integer column.
    NullText,
    NullInt,
}

pub(super) fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// A migrated database for a seeded bench: `database_url`, or a fresh SQLite file in a
/// temporary folder named after `bench` (removed by the caller). Answers the store, its URL
/// and the folder.
pub(super) async fn open_seeded(
    bench: &str,
    database_url: Option<&str>,
) -> anyhow::Result<(SqlStore, String, std::path::PathBuf)> {
    let dir = std::env::temp_dir().join(format!("stepwise-bench-{bench}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = database_url.map_or_else(
        || format!("sqlite://{}", dir.join(format!("{bench}.db")).display()),
        str::to_owned,
    );
    let store = SqlStore::connect(&url)
        .await
        .with_context(|| format!("cannot open {}", super::super::migrate::redact(&url)))?;
    store.migrate().await?;
    Ok((store, url, dir))
}

/// Seeds the tenant's year; answers the row counts.
async fn seed(store: &SqlStore, messages: usize) -> anyhow::Result<[usize; 5]> {
    let runs = messages / 4;
    let year = SignedDuration::from_hours(24 * 365);
    let start = end() - year;
    let step = year.as_micros() as i64 / runs.max(1) as i64;
    let progress = bar(runs, "seeding");
    let (mut run_rows, mut message_rows, mut event_rows, mut step_rows, mut contact_rows) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut counts = [0usize; 5];
    let mut event_id = 0u64;
    for r in 0..runs {
        let created = micros(start) + r as i64 * step;
        let (run, contact) = (format!("r{r}"), format!("c{r}"));
        run_rows.push(vec![
            text(TENANT),
            text(run.as_str()),
            text(FLOW),
            Value::Int(1),
            text(contact.as_str()),
            text("completed"),
            Value::Int(1),
            Value::Int(1),
            text("{}"),
            Value::Int(created),
            Value::Int(created),
        ]);
        // Four messages: the first 1–60 s after the start.
        let first = created + ((r % 60) as i64 + 1) * 1_000_000;
        for m in 0..4 {
            message_rows.push(vec![
                text(TENANT),
                text(format!("{run}:{m}")),
                text(run.as_str()),
                text("s"),
                text("sms"),
                text("+15125550100"),
                text("Hi there, thanks for reaching out! Book: https://example.com/book"),
                text("delivered"),
                Value::Int(first + m * 3_600_000_000),
                Value::Int(first + m * 3_600_000_000),
            ]);
        }
        let mut event_with = |kind: &str, at: i64, doc: String| {
            event_id += 1;
            vec![
                text(TENANT),
                text(format!("e{event_id}")),
                text("api"),
                text(format!("e{event_id}")),
                text(kind),
                text(contact.as_str()),
                text(doc),
                Value::Int(at),
                Value::Bool(true),
            ]
        };
        // One run in four is paid: in 0–9 days, one in five of those in two parts.
        if r % 4 == 0 {
            let paid_at = created + (r % 10) as i64 * 86_400_000_000 + 60_000_000;
            let amount = 5_000 + (r % 7) as i64 * 1_000;
            if r % 20 == 0 {
                let half = amount / 2;
                event_rows.push(event_with(
                    PAID,
                    paid_at,
                    format!("{{\"data\":{{\"amount_paid\":{half},\"amount_due\":{half}}}}}"),
                ));
            }
            event_rows.push(event_with(
                PAID,
                paid_at + 3_600_000_000,
                format!("{{\"data\":{{\"amount_paid\":{amount},\"amount_due\":0}}}}"),
            ));
        }
        let mut event = |kind: &str, at: i64| event_with(kind, at, "{}".to_owned());
        event_rows.push(event("lead.created", created));
        if r % 5 == 0 {
            event_rows.push(event("appointment.booked", created + 86_400_000_000));
        }
        if r % 50 == 0 {
            event_rows.push(event("appointment.no_show", created + 3 * 86_400_000_000));
        }
        if r % 3 == 0 {
            event_rows.push(event("message.received", created + 3_600_000_000));
        }
        let reached = if r % 3 == 0 {
            "confirmed_reply"
        } else {
            "nudge"
        };
        for (idx, name) in ["first_reply", reached].iter().enumerate() {
            step_rows.push(vec![
                text(TENANT),
                text(run.as_str()),
                Value::Int(1),
                Value::Int(idx as i64),
                Value::Int(created),
                text(*name),
                Value::Int(0),
                text("sent"),
                text("{}"),
            ]);
        }
        let fields = if r % 10 == 0 {
            let at = Timestamp::from_microsecond(created + 86_400_000_000).unwrap_or(start);
            format!(
                "{{\"id\":\"{contact}\",\"fields\":{{\"nps_score\":{},\"nps_at\":\"{at}\"}}}}",
                r % 11
            )
        } else {
            format!("{{\"id\":\"{contact}\"}}")
        };
        contact_rows.push(vec![
            text(TENANT),
            text(contact.as_str()),
            text(fields),
            Value::Int(0),
        ]);
        if run_rows.len() >= 5_000 || r + 1 == runs {
            counts[0] += run_rows.len();
            counts[1] += message_rows.len();
            counts[2] += event_rows.len();
            counts[3] += step_rows.len();
            counts[4] += contact_rows.len();
            insert(store, "runs", "tenant_id, id, flow_id, flow_version, contact_id, status, seq, format, state, created_at, updated_at", std::mem::take(&mut run_rows)).await?;
            insert(store, "messages", "tenant_id, id, run_id, step, channel, to_address, body, status, created_at, updated_at", std::mem::take(&mut message_rows)).await?;
            insert(store, "events", "tenant_id, id, source, external_id, event_type, contact_id, doc, received_at, processed", std::mem::take(&mut event_rows)).await?;
            insert(
                store,
                "run_steps",
                "tenant_id, run_id, seq, idx, at, step, attempt, kind, doc",
                std::mem::take(&mut step_rows),
            )
            .await?;
            insert(
                store,
                "contacts",
                "tenant_id, id, doc, updated_at",
                std::mem::take(&mut contact_rows),
            )
            .await?;
            progress.set_position(r as u64 + 1);
        }
    }
    progress.finish_and_clear();
    Ok(counts)
}

pub async fn run(args: KpiArgs) -> anyhow::Result<std::process::ExitCode> {
    let (store, url, dir) = open_seeded("kpis", args.database_url.as_deref()).await?;
    let began = Instant::now();
    let [runs, messages, events, steps, contacts] = seed(&store, args.messages).await?;
    let seeded = seconds_since(began);
    if url.starts_with("postgres") {
        for table in ["runs", "messages", "events", "run_steps", "contacts"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
                .execute(store.pool())
                .await?;
        }
    }
    let mut report = format!(
        "bench kpis ({})\nseeded {messages} messages, {runs} runs, {events} events, {steps} steps, {contacts} contacts in {seeded:.1} s\n\n",
        if url.starts_with("sqlite") {
            "SQLite"
        } else {
            "PostgreSQL"
        }
    );
    let began = Instant::now();
    let row = sqlx::query("SELECT COUNT(*) AS n FROM messages WHERE tenant_id = $1")
        .bind(TENANT)
        .fetch_one(store.pool())
        .await?;
    let counted: i64 = row.try_get("n")?;
    let ceiling = seconds_since(began) * 1000.0;
    report.push_str(&format!(
        "ceiling: counting the tenant's {counted} messages once takes {ceiling:.0} ms\n\n{:<24} {:>12} {:>12}   value (year)\n",
        "KPI", "year (ms)", "30 days (ms)"
    ));
    let to = end();
    let year = to - SignedDuration::from_hours(24 * 365);
    let month = to - SignedDuration::from_hours(24 * 30);
    let mut total = [0.0f64; 2];
    for name in [
        "time_to_first_response",
        "booking_rate",
        "reply_rate",
        "confirmation_rate",
        "no_show_rate",
        "nps",
        "paid_in_7_days",
        "revived_revenue",
        "days_sales_outstanding",
    ] {
        let Some(k) = kpi(name) else { continue };
        let mut times = [0.0f64; 2];
        let mut value = None;
        for (i, from) in [year, month].into_iter().enumerate() {
            let began = Instant::now();
            let measured = k.measure(&store, TENANT, FLOW, from, to).await?;
            times[i] = seconds_since(began) * 1000.0;
            total[i] += times[i];
            if i == 0 {
                value = measured.value;
            }
        }
        report.push_str(&format!(
            "{name:<24} {:>12.0} {:>12.0}   {}\n",
            times[0],
            times[1],
            value.map_or("null".to_owned(), |v| format!("{v}"))
        ));
    }
    report.push_str(&format!(
        "{:<24} {:>12.0} {:>12.0}   (all nine, as GET /v1/metrics computes them)\n",
        "total", total[0], total[1]
    ));
    print!("{report}");
    drop(store);
    if args.database_url.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(std::process::ExitCode::SUCCESS)
}
