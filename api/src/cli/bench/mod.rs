//! `stepwise bench`: measurements of the real engine on this machine, each with a progress
//! display on a terminal and a plain report on stdout.
//!
//! - `timers`: how late 10,000 timers fire (in-process engine).
//! - `flow`: the speed-to-lead shape against a real `stepwise serve` process over HTTP: runs
//!   and durable transitions per second, ingest → provider latency, the database's own
//!   ceiling for the same writes, and memory with many waiting runs.
//! - `api`: events accepted durably per second by the REST API, and request latency at a
//!   steady 200 events/s, against the same ceiling.
//! - `kpis`: each module KPI over a busy tenant's year (1,000,000 messages), against one pass
//!   over the tenant's messages.
//! - `workers`: how much faster two `stepwise worker` processes drain a backlog than one.
//! - `campaign`: how closely a campaign holds its rate across worker processes, per pool
//!   number, with none of its contacts texted in their quiet hours.
//! - `inbox`: the inbox's list and thread requests over 50,000 conversations and 1,000,000
//!   messages, against a 50 ms p99.

mod api;
mod campaign;
mod ceiling;
mod flow;
mod inbox;
mod kpis;
mod process;
mod sink;
mod timers;
mod workers;

use std::io::IsTerminal;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Timer lateness: many runs waiting, all due within a short burst.
    Timers(timers::TimerArgs),
    /// The speed-to-lead shape over HTTP, with the database's ceiling and memory use.
    Flow(flow::FlowArgs),
    /// Events accepted per second by the REST API, with latency at a fixed rate and the ceiling.
    Api(api::ApiArgs),
    /// Module KPIs over a busy tenant's year of data, against one pass over its messages.
    Kpis(kpis::KpiArgs),
    /// One `stepwise worker` process against two on the same backlog (PostgreSQL + Redis).
    Workers(workers::WorkerArgs),
    /// A campaign's rate held over minutes, per pool number, across worker processes.
    Campaign(campaign::CampaignArgs),
    /// The inbox's requests over 50,000 conversations and 1,000,000 messages.
    Inbox(inbox::InboxArgs),
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.what {
        What::Timers(args) => runtime.block_on(timers::run(args)),
        What::Flow(args) => runtime.block_on(flow::run(args)),
        What::Workers(args) => runtime.block_on(workers::run(args)),
        What::Api(args) => runtime.block_on(api::run(args)),
        What::Kpis(args) => runtime.block_on(kpis::run(args)),
        What::Campaign(args) => runtime.block_on(campaign::run(args)),
        What::Inbox(args) => runtime.block_on(inbox::run(args)),
    }
}

/// A progress bar on stderr when it is a terminal, else nothing.
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

/// The `p`th percentile (0–100) of sorted values, nearest rank.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Seconds since `start`.
fn seconds_since(start: std::time::Instant) -> f64 {
    start.elapsed().as_secs_f64()
}
