//! `stepwise bench api`: how many events the REST API accepts durably per second, and how
//! long one takes at a steady 200 events/s, against the database's ceiling measured in the
//! same run. A real `stepwise serve --role api` process on a fresh database takes each event
//! with its contact inline, stores both, and starts a speed-to-lead run (queued for workers,
//! which run elsewhere in this shape): every 202 is a committed write.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::flow::speed_to_lead;
use super::process::{Api, Database};
use super::{bar, ceiling, percentile, seconds_since};

#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// A PostgreSQL server to make a fresh database on (default: a fresh SQLite file).
    #[arg(long)]
    database_url: Option<String>,
    /// Redis for the queue (required with PostgreSQL).
    #[arg(long)]
    redis_url: Option<String>,
    /// Events per second in the fixed-rate phase.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Seconds of the fixed-rate phase.
    #[arg(long, default_value_t = 10)]
    rate_secs: u64,
    /// Events sent as fast as the server takes them.
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Requests in flight while sending as fast as possible.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// PostgreSQL connections of the server.
    #[arg(long, default_value_t = 32)]
    database_connections: u32,
    /// Seconds the ceiling is measured for.
    #[arg(long, default_value_t = 10)]
    ceiling_secs: u64,
}

pub async fn run(args: ApiArgs) -> anyhow::Result<ExitCode> {
    let db = Database::fresh(
        "api",
        args.database_url.as_deref(),
        args.redis_url.as_deref(),
    )
    .await?;
    let result = measure(&args, &db).await;
    db.drop_it().await?;
    result
}

async fn measure(args: &ApiArgs, db: &Database) -> anyhow::Result<ExitCode> {
    let store = db.store().await?;
    println!("bench api: events accepted over HTTP on {}", db.backend());
    let ceiling = ceiling::report(&store, &db.url, args.ceiling_secs).await?;
    let (_server, base) = db.serve("api", 128, args.database_connections)?;
    let api = Api::new(base);
    // Runs are started and queued; no worker calls this address.
    api.setup(&[speed_to_lead("http://127.0.0.1:9/unused")])
        .await?;

    let mut ms = fixed_rate(args, &api).await?;
    ms.sort_by(f64::total_cmp);
    println!(
        "  at {} events/s for {} s: request → 202 ms p50 {:.1}  p99 {:.1}  max {:.1}",
        args.rate,
        args.rate_secs,
        percentile(&ms, 50.0),
        percentile(&ms, 99.0),
        percentile(&ms, 100.0)
    );

    let first = args.rate as usize * args.rate_secs as usize;
    let (secs, mut ms) = as_fast_as_possible(args, &api, first).await?;
    ms.sort_by(f64::total_cmp);
    let accepted = args.events as f64 / secs;
    println!(
        "  as fast as possible ({} events, {} clients): {accepted:.0} accepted/s = {:.0} % of the ceiling",
        args.events,
        args.clients,
        100.0 * accepted / ceiling
    );
    println!(
        "    request → 202 ms p50 {:.1}  p99 {:.1}",
        percentile(&ms, 50.0),
        percentile(&ms, 99.0)
    );
    Ok(ExitCode::SUCCESS)
}

/// One event; answers how long the request took, in milliseconds.
async fn timed_event(api: &Api, n: usize) -> anyhow::Result<f64> {
    let start = Instant::now();
    api.event("lead.created", n).await?;
    Ok(start.elapsed().as_secs_f64() * 1000.0)
}

async fn fixed_rate(args: &ApiArgs, api: &Api) -> anyhow::Result<Vec<f64>> {
    let total = args.rate as usize * args.rate_secs as usize;
    let progress = bar(total, "fixed rate");
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
    // After a stall, keep the pace rather than catching up in a burst.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..total {
        tick.tick().await;
        let api = api.clone();
        sends.spawn(async move { timed_event(&api, n).await });
    }
    let mut ms = Vec::with_capacity(total);
    while let Some(sent) = sends.join_next().await {
        ms.push(sent??);
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(ms)
}

/// Sends `args.events` events from `args.clients` concurrent senders; answers the seconds
/// it took and each request's milliseconds.
async fn as_fast_as_possible(
    args: &ApiArgs,
    api: &Api,
    first: usize,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let progress = bar(args.events, "sending");
    let next = Arc::new(AtomicUsize::new(first));
    let end = first + args.events;
    let start = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..args.clients {
        let (api, next, progress) = (api.clone(), next.clone(), progress.clone());
        senders.spawn(async move {
            let mut ms = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= end {
                    return anyhow::Ok(ms);
                }
                ms.push(timed_event(&api, n).await?);
                progress.inc(1);
            }
        });
    }
    let mut all = Vec::with_capacity(args.events);
    while let Some(sender) = senders.join_next().await {
        all.extend(sender??);
    }
    progress.finish_and_clear();
    Ok((seconds_since(start), all))
}
