//! `stepwise bench timers`: how late timers fire. It runs the real engine in this process on
//! a fresh SQLite file (or `--database-url` / `--redis-url`), starts `--runs` runs that each
//! wait `--wait` and then call an HTTP sink on 127.0.0.1, and reports when each call arrived
//! compared with when it was due: the lateness distribution, and the throughput of the burst.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use stepwise_connectors::Connectors;
use stepwise_engine::model::{Contact, Event, FlowDuration, Tenant};
use stepwise_engine::ports::{FlowDocument, Store, SystemClock};
use stepwise_engine::queue::{ApalisQueue, QueueBackend, QueueSettings, run_workers};
use stepwise_engine::runtime::reconcile::{run_reconciler, run_timers};
use stepwise_engine::runtime::{Engine, TimerMode};
use stepwise_engine::store::SqlStore;

use super::process::Database;
use super::sink::Sink;
use super::{bar, percentile};

#[derive(Debug, clap::Args)]
pub struct TimerArgs {
    /// Runs to start.
    #[arg(long, default_value_t = 10_000)]
    runs: usize,
    /// How long each run waits.
    #[arg(long, default_value = "5s")]
    wait: String,
    /// Database URL (default: a fresh SQLite file in the temporary directory).
    #[arg(long)]
    database_url: Option<String>,
    /// Redis URL for the queue (required with PostgreSQL).
    #[arg(long)]
    redis_url: Option<String>,
    /// Runs advanced at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Also write each run's due and arrival times here (CSV: n, due, arrived, late_ms), to see
    /// whether late timers cluster in time (a stall) or scatter (lost tasks).
    #[arg(long)]
    csv: Option<std::path::PathBuf>,
}

pub async fn run(args: TimerArgs) -> anyhow::Result<ExitCode> {
    let wait: FlowDuration = args.wait.parse()?;
    let sink = Sink::start().await?;
    let sink_url = sink.url.clone();

    let db = Database::fresh(
        "timers",
        args.database_url.as_deref(),
        args.redis_url.as_deref(),
    )
    .await?;
    let database_url = db.url.clone();
    let store = SqlStore::connect(&database_url)
        .await
        .context("open the database")?;
    store.migrate().await?;
    let settings = QueueSettings {
        name: db.queue.clone(),
        batch_size: args.concurrency,
    };
    let backend = match &args.redis_url {
        Some(url) => QueueBackend::redis(url, &settings).await?,
        None => QueueBackend::sqlite(&database_url, &settings).await?,
    };
    let store: Arc<dyn Store> = Arc::new(store);
    let queue = Arc::new(ApalisQueue::new(backend.clone()));
    let engine = Engine::new(
        store.clone(),
        queue,
        Arc::new(SystemClock),
        Arc::new(Connectors::new(stepwise_connectors::Env {
            // The sink is on 127.0.0.1, which tenant URLs may not reach unless allowed.
            outbound: stepwise_connectors::Outbound::new(stepwise_connectors::Guard::new(vec![
                "127.0.0.0/8".parse()?,
            ])),
            vault: Arc::new(stepwise_connectors::provider::NoCredentials),
            public_url: None,
            base_urls: Default::default(),
            links: None,
        })),
    );
    let engine = Arc::new(engine.with_timer_mode(TimerMode::Database));
    let tenant = Tenant {
        id: "bench".into(),
        name: "Bench".into(),
        ..Tenant::default()
    };
    store.put_tenant(&tenant).await?;
    let flow = format!(
        "id: timers\npurpose: transactional\ntrigger: {{event: x.timer}}\nsteps:\n  - wait: {{for: {wait}}}\n  - http: {{url: '{sink_url}', body: {{n: '{{{{event.data.n}}}}'}}}}\n"
    );
    engine
        .publish(
            "bench",
            FlowDocument {
                source: flow,
                config: json!({}),
                templates: json!({}),
                origin: None,
            },
            None,
        )
        .await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let workers = tokio::spawn(run_workers(
        engine.clone(),
        backend,
        args.concurrency,
        stopped(stop_rx.clone()),
    ));
    let reconciler = tokio::spawn(run_reconciler(
        engine.clone(),
        Duration::from_secs(5),
        stopped(stop_rx.clone()),
    ));
    let timers = tokio::spawn(run_timers(engine.clone(), stopped(stop_rx.clone())));

    let started_bar = bar(args.runs, "started");
    let mut due = Vec::with_capacity(args.runs);
    let ingest_start = Timestamp::now();
    for n in 0..args.runs {
        let contact = Contact {
            id: format!("c{n}"),
            phone: Some(super::process::lead_phone(n)),
            ..Contact::default()
        };
        store.put_contact("bench", &contact).await?;
        let at = Timestamp::now();
        engine
            .ingest(
                "bench",
                &contact.id,
                Event::new("x.timer", json!({ "n": n.to_string() })),
            )
            .await?;
        due.push(at + SignedDuration::from_secs(wait.approx_seconds()));
        started_bar.inc(1);
    }
    started_bar.finish_and_clear();
    let ingest_secs = (Timestamp::now() - ingest_start)
        .total(jiff::Unit::Second)
        .unwrap_or(f64::NAN);
    let fired_bar = bar(args.runs, "fired");
    let all_fired = sink
        .wait_for(args.runs, Duration::from_secs(600), &fired_bar)
        .await;
    fired_bar.finish_and_clear();
    let _ = stop_tx.send(true);
    let _ = workers.await;
    let _ = reconciler.await;
    let _ = timers.await;
    db.drop_it().await?;
    let seen = sink.arrivals();
    let mut lateness: Vec<f64> = seen
        .iter()
        .filter_map(|arrival| {
            due.get(arrival.n).map(|d| {
                (arrival.at - *d)
                    .total(jiff::Unit::Millisecond)
                    .unwrap_or(f64::NAN)
            })
        })
        .collect();
    if let Some(path) = &args.csv {
        write_csv(path, &due, &seen).context("write the CSV")?;
    }
    lateness.sort_by(f64::total_cmp);
    let backend = if args.redis_url.is_some() {
        "redis queue"
    } else {
        "sqlite queue"
    };
    println!(
        "timers: {} runs waiting {wait} ({backend}, concurrency {})",
        args.runs, args.concurrency
    );
    println!(
        "  started in {ingest_secs:.1} s ({:.0} events/s ingested in-process)",
        args.runs as f64 / ingest_secs
    );
    println!(
        "  fired: {} of {}{}",
        seen.len(),
        args.runs,
        if !all_fired {
            " (gave up after 600 s)"
        } else {
            ""
        }
    );
    println!(
        "  lateness ms: p50 {:.0}  p90 {:.0}  p99 {:.0}  max {:.0}",
        percentile(&lateness, 50.0),
        percentile(&lateness, 90.0),
        percentile(&lateness, 99.0),
        percentile(&lateness, 100.0)
    );
    Ok(if seen.len() == args.runs {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One line per arrival, in arrival order.
fn write_csv(
    path: &std::path::Path,
    due: &[Timestamp],
    seen: &[super::sink::Arrival],
) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "n,due,arrived,late_ms")?;
    for arrival in seen {
        if let Some(due) = due.get(arrival.n) {
            let late = (arrival.at - *due)
                .total(jiff::Unit::Millisecond)
                .unwrap_or(f64::NAN);
            writeln!(out, "{},{due},{},{late:.1}", arrival.n, arrival.at)?;
        }
    }
    out.flush()
}
