//! `stepwise bench timers`: how late timers fire. It runs the real engine in this process on
//! a fresh SQLite file (or `--database-url` / `--redis-url`), starts `--runs` runs that each
//! wait `--wait` and then call an HTTP sink on 127.0.0.1, and reports when each call arrived
//! compared with when it was due: the lateness distribution, and the throughput of the burst.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::post;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use stepwise_connectors::Connectors;
use stepwise_engine::model::{Contact, Event, FlowDuration, Tenant};
use stepwise_engine::ports::{FlowDocument, Store, SystemClock};
use stepwise_engine::queue::{ApalisQueue, QueueBackend, QueueSettings, run_workers};
use stepwise_engine::runtime::reconcile::{run_reconciler, run_timers};
use stepwise_engine::runtime::{Engine, TimerMode};
use stepwise_engine::store::SqlStore;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Timer lateness: many runs waiting, all due within a short burst.
    Timers(TimerArgs),
}

#[derive(Debug, clap::Args)]
struct TimerArgs {
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
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let What::Timers(args) = args.what;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(timers(args))
}

fn bar(len: usize, message: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} {bar:40} {pos}/{len} {per_sec}")
            .unwrap_or(ProgressStyle::default_bar()),
    );
    bar.set_message(message);
    bar
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn timers(args: TimerArgs) -> anyhow::Result<ExitCode> {
    let wait: FlowDuration = args.wait.parse()?;
    let arrivals: Arc<Mutex<Vec<(usize, Timestamp)>>> = Arc::default();
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(0usize);
    let recorder = arrivals.clone();
    let sink = Router::new().route(
        "/",
        post(move |body: axum::Json<Value>| {
            let n = body["n"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX);
            let mut seen = recorder.lock().unwrap_or_else(|p| p.into_inner());
            seen.push((n, Timestamp::now()));
            done_tx.send_replace(seen.len());
            async { "{}" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sink_url = format!("http://{}/", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, sink).await });

    let path = std::env::temp_dir().join(format!("stepwise-bench-{}.db", std::process::id()));
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", path.display()));
    let store = SqlStore::connect(&database_url)
        .await
        .context("open the database")?;
    store.migrate().await?;
    let settings = QueueSettings {
        name: format!("stepwise-bench-{}", std::process::id()),
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
        Arc::new(Connectors::default_live()),
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
            },
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
            phone: Some("+15125550100".into()),
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
    let runs = args.runs;
    let waited = tokio::time::timeout(
        Duration::from_secs(600),
        done_rx.wait_for(|seen| {
            fired_bar.set_position(*seen as u64);
            *seen >= runs
        }),
    )
    .await;
    fired_bar.finish_and_clear();
    let _ = stop_tx.send(true);
    let _ = workers.await;
    let _ = reconciler.await;
    let _ = timers.await;
    if args.database_url.is_none() {
        let queue = stepwise_engine::queue::queue_url(&database_url);
        let queue = queue.trim_start_matches("sqlite://");
        for file in [path.display().to_string(), queue.to_owned()] {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{file}{suffix}"));
            }
        }
    }
    let seen = arrivals.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut lateness: Vec<f64> = seen
        .iter()
        .filter_map(|(n, at)| {
            due.get(*n).map(|d| {
                (*at - *d)
                    .total(jiff::Unit::Millisecond)
                    .unwrap_or(f64::NAN)
            })
        })
        .collect();
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
        if waited.is_err() {
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
