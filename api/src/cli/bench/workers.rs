//! `stepwise bench workers`: the same backlog of speed-to-lead runs drained by one
//! `stepwise worker` process, then (on a fresh database) by two, `--rounds` times in turn so
//! that a noisy machine shows as spread rather than as a result. It reports runs per second
//! for each, the median speed-up, and how many runs reached the provider more than once
//! (none may).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::flow::{send_all, speed_to_lead};
use super::process::{Api, Database};
use super::sink::{Sink, repeated};
use super::{bar, seconds_since};

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The PostgreSQL server to make fresh databases on.
    #[arg(long)]
    database_url: String,
    /// Redis for the queue.
    #[arg(long)]
    redis_url: String,
    /// Runs in the backlog.
    #[arg(long, default_value_t = 5_000)]
    events: usize,
    /// Runs each worker advances at once (`stepwise worker --concurrency`).
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// How many times to measure one worker and then two.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

pub async fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    println!(
        "bench workers: a backlog of {} speed-to-lead runs on PostgreSQL + Redis",
        args.events
    );
    let mut ratios = Vec::new();
    for round in 1..=args.rounds.max(1) {
        let one = measure(&args, 1).await?;
        let two = measure(&args, 2).await?;
        println!(
            "  round {round}: speed-up with two workers {:.2}×",
            two / one
        );
        ratios.push(two / one);
    }
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    let median = (ratios[(n - 1) / 2] + ratios[n / 2]) / 2.0;
    println!(
        "  speed-up with two workers: {:.2}× (median of {}; lowest {:.2}×, highest {:.2}×)",
        median,
        ratios.len(),
        ratios[0],
        ratios[ratios.len() - 1]
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs/s of `workers` worker processes draining the backlog on a fresh database.
async fn measure(args: &WorkerArgs, workers: usize) -> anyhow::Result<f64> {
    let db = Database::fresh(
        &format!("workers{workers}"),
        Some(&args.database_url),
        Some(&args.redis_url),
    )
    .await?;
    let result = drain(args, &db, workers).await;
    db.drop_it().await?;
    let (rate, twice) = result?;
    println!(
        "  {workers} worker process{}: {rate:.0} runs/s, {twice} runs called the provider twice",
        if workers == 1 { "" } else { "es" }
    );
    if twice > 0 {
        bail!("{twice} runs were executed twice");
    }
    Ok(rate)
}

/// Fills the queue through an API-only server, then starts `workers` worker processes and
/// times them until every run has called the sink. Answers runs/s and repeated calls.
async fn drain(args: &WorkerArgs, db: &Database, workers: usize) -> anyhow::Result<(f64, usize)> {
    let sink = Sink::start().await?;
    let (_api_server, base) = db.serve(
        "api",
        args.concurrency,
        stepwise_engine::store::DEFAULT_CONNECTIONS,
    )?;
    let api = Api::new(base);
    api.setup(&[speed_to_lead(&sink.url)]).await?;
    send_all(&api, "lead.created", 0, args.events, 64, "backlog").await?;
    let concurrency = args.concurrency.to_string();
    let start = Instant::now();
    let mut processes = Vec::new();
    for _ in 0..workers {
        processes.push(db.spawn(&["worker", "--concurrency", &concurrency])?);
    }
    let progress = bar(args.events, "drained");
    if !sink
        .wait_for(args.events, Duration::from_secs(600), &progress)
        .await
    {
        bail!("the sink saw {} of {} calls", sink.count(), args.events);
    }
    let elapsed = seconds_since(start);
    progress.finish_and_clear();
    drop(processes);
    Ok((args.events as f64 / elapsed, repeated(&sink.arrivals())))
}
