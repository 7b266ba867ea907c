//! `stepwise bench flow`: the speed-to-lead shape end to end. A real `stepwise serve` process
//! on a fresh database receives lead events over HTTP; its flow renders a message and posts it
//! to a sink on 127.0.0.1 standing in for the SMS provider, then checks the answer and updates
//! the contact. Phases, in order:
//!
//! 1. the database's ceiling for the same writes ([`super::ceiling`]);
//! 2. a fixed rate (200 events/s by default): ingest → provider latency at the sink;
//! 3. as fast as it goes: events accepted, runs completed and durable transitions per second;
//! 4. memory: many runs left waiting a week, the server's resident memory as they pile up.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use sqlx::Row;
use stepwise_engine::store::SqlStore;

use super::process::{Api, Database, Process};
use super::sink::{Sink, latencies};
use super::{bar, ceiling, percentile, seconds_since};

#[derive(Debug, clap::Args)]
pub struct FlowArgs {
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
    /// Runs left waiting for the memory phase (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    waiting: usize,
    /// Runs the server advances at once (`stepwise serve --concurrency`).
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// PostgreSQL connections of the server (`stepwise serve --database-connections`).
    #[arg(long, default_value_t = stepwise_engine::store::DEFAULT_CONNECTIONS)]
    database_connections: u32,
    /// Seconds the ceiling is measured for.
    #[arg(long, default_value_t = 10)]
    ceiling_secs: u64,
    /// `http`: the flow's call is an `http` step to the sink; `twilio`: a `send_sms` through
    /// the Twilio connector to the sink standing in for Twilio's API (form-encoded, HTTP Basic,
    /// status callback), and a phase of signed inbound SMS webhooks at `--rate`.
    #[arg(long, default_value = "http", value_parser = ["http", "twilio"])]
    provider: String,
}

/// The benchmarked flow: one provider call with a rendered message, a condition on its
/// answer, a contact update.
pub(super) fn speed_to_lead(sink: &str) -> String {
    format!(
        "id: speed-to-lead\npurpose: transactional\ntrigger: {{ event: lead.created }}\nsteps:\n\
         \x20 - id: first_reply\n\
         \x20   http:\n\
         \x20     url: '{sink}'\n\
         \x20     body:\n\
         \x20       n: '{{{{event.data.n}}}}'\n\
         \x20       sent: '{{{{event.data.sent}}}}'\n\
         \x20       to: '{{{{contact.phone}}}}'\n\
         \x20       text: 'Hi {{{{contact.first_name}}}}, thanks for reaching out to {{{{tenant.name}}}}! Reply YES to book a time.'\n\
         \x20 - id: delivered\n\
         \x20   if: 'steps.first_reply.status == 200'\n\
         \x20   then:\n\
         \x20     - update_contact: {{ fields: {{ stage: contacted }} }}\n"
    )
}

/// The speed-to-lead shape with its reply as an SMS through the tenant's SMS provider; the
/// text carries `n` and `sent` for the sink.
fn speed_to_lead_sms() -> String {
    "id: speed-to-lead\npurpose: transactional\ntrigger: { event: lead.created }\nsteps:\n\
     \x20 - id: first_reply\n\
     \x20   send_sms: { body: 'Hi {{contact.first_name}}, thanks for reaching out to {{tenant.name}}! Reply YES to book. n={{event.data.n}} sent={{event.data.sent}}' }\n\
     \x20 - id: delivered\n\
     \x20   if: 'steps.first_reply.status == \"queued\"'\n\
     \x20   then:\n\
     \x20     - update_contact: { fields: { stage: contacted } }\n"
        .to_owned()
}

/// An inbound SMS starts a run that answers it: webhook → flow start → provider call.
fn reply_bot() -> String {
    "id: reply-bot\npurpose: transactional\ntrigger: { event: message.received }\nsteps:\n\
     \x20 - send_sms: { body: 'Thanks! We got: {{event.data.body}}' }\n"
        .to_owned()
}

/// Runs that wait a week before their one call: the memory phase's waiting runs.
fn reminder(sink: &str) -> String {
    format!(
        "id: reminder\npurpose: transactional\ntrigger: {{ event: appointment.booked }}\nsteps:\n\
         \x20 - wait: {{ for: 7d }}\n\
         \x20 - http: {{ url: '{sink}', body: {{ n: '{{{{event.data.n}}}}' }} }}\n"
    )
}

pub async fn run(args: FlowArgs) -> anyhow::Result<ExitCode> {
    let db = Database::fresh(
        "flow",
        args.database_url.as_deref(),
        args.redis_url.as_deref(),
    )
    .await?;
    let result = measure(&args, &db).await;
    db.drop_it().await?;
    result
}

async fn measure(args: &FlowArgs, db: &Database) -> anyhow::Result<ExitCode> {
    let store = db.store().await?;
    println!(
        "bench flow: speed-to-lead ({}) on {}",
        args.provider,
        db.backend()
    );
    let ceiling = ceiling::report(&store, &db.url, args.ceiling_secs).await?;
    let sink = Sink::start().await?;
    let twilio = args.provider == "twilio";
    let env = [("STEPWISE_PROVIDER_URLS", format!("twilio={}", sink.base))];
    let (server, base) = db.serve_with("all", args.concurrency, args.database_connections, &env)?;
    let api = Api::new(base);
    let first = if twilio {
        speed_to_lead_sms()
    } else {
        speed_to_lead(&sink.url)
    };
    api.setup(&[first, reminder(&sink.url)]).await?;
    let hook_token = if twilio {
        Some(api.use_twilio().await?)
    } else {
        None
    };

    let fixed = fixed_rate(args, &api, &sink).await?;
    let ms = latencies(&sink.take());
    println!(
        "  at {} events/s for {} s: ingest → provider call ms p50 {:.1}  p99 {:.1}  max {:.1}",
        args.rate,
        args.rate_secs,
        percentile(&ms, 50.0),
        percentile(&ms, 99.0),
        percentile(&ms, 100.0)
    );

    wait_completed(&store, fixed).await?;
    let before = counts(&store).await?;
    let start = Instant::now();
    let sent = send_all(
        &api,
        "lead.created",
        fixed,
        args.events,
        args.clients,
        "sending",
    )
    .await?;
    let accepted = args.events as f64 / sent;
    let target = fixed + args.events;
    if !sink
        .wait_for(target, Duration::from_secs(600), &bar(target, "called"))
        .await
    {
        bail!("the provider sink saw {} of {target} calls", sink.count());
    }
    let completed = wait_completed(&store, target).await?;
    let elapsed = seconds_since(start);
    let after = counts(&store).await?;
    let ms = latencies(&sink.take());
    println!(
        "  as fast as possible ({} events, {} clients, concurrency {}):",
        args.events, args.clients, args.concurrency
    );
    println!("    events accepted: {accepted:.0}/s");
    println!(
        "    runs completed: {:.0}/s ({} completed in {elapsed:.1} s)",
        args.events as f64 / elapsed,
        completed - before.completed
    );
    let transitions = (after.transitions - before.transitions) as f64 / elapsed;
    println!(
        "    durable transitions: {transitions:.0}/s = {:.0} % of the ceiling",
        100.0 * transitions / ceiling
    );
    println!(
        "    ingest → provider call ms p50 {:.1}  p99 {:.1}",
        percentile(&ms, 50.0),
        percentile(&ms, 99.0)
    );
    println!(
        "    calls put off for the tenant's share (--tenant-calls): {}",
        calls_deferred(&api).await?
    );
    if let Some(token) = &hook_token {
        inbound(args, &api, &sink, &store, token, target).await?;
    }
    if args.waiting > 0 {
        memory(args, &api, &store, &server).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The server's `stepwise_calls_deferred_total` so far.
async fn calls_deferred(api: &Api) -> anyhow::Result<u64> {
    let metrics = api.request(reqwest::Method::GET, "/metrics").send().await?;
    let text = metrics.error_for_status()?.text().await?;
    let counted = text
        .lines()
        .filter(|l| l.starts_with("stepwise_calls_deferred_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    Ok(counted as u64)
}

/// Signed inbound SMS at `--rate` for `--rate-secs`, each starting a run that texts back:
/// webhook received → flow started → provider call, measured at the sink.
async fn inbound(
    args: &FlowArgs,
    api: &Api,
    sink: &Sink,
    store: &SqlStore,
    token: &str,
    before: usize,
) -> anyhow::Result<()> {
    api.publish(&reply_bot()).await?;
    let total = args.rate as usize * args.rate_secs as usize;
    let progress = bar(total, "inbound SMS");
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut posts = tokio::task::JoinSet::new();
    let first = 20_000_000; // numbers apart from the lead events'
    for n in first..first + total {
        tick.tick().await;
        let (api, token) = (api.clone(), token.to_owned());
        posts.spawn(async move { api.inbound_sms(&token, n).await });
    }
    while let Some(posted) = posts.join_next().await {
        posted??;
    }
    if !sink
        .wait_for(before + total, Duration::from_secs(120), &progress)
        .await
    {
        bail!(
            "the provider sink saw {} of {} calls",
            sink.count(),
            before + total
        );
    }
    progress.finish_and_clear();
    wait_completed(store, before + total).await?;
    let ms = latencies(&sink.take());
    println!(
        "  signed inbound SMS at {} webhooks/s for {} s: webhook → reply's provider call ms p50 {:.1}  p99 {:.1}  max {:.1}",
        args.rate,
        args.rate_secs,
        percentile(&ms, 50.0),
        percentile(&ms, 99.0),
        percentile(&ms, 100.0)
    );
    Ok(())
}

/// Sends `rate × rate_secs` events at a fixed rate and waits for their calls; answers how
/// many were sent.
async fn fixed_rate(args: &FlowArgs, api: &Api, sink: &Sink) -> anyhow::Result<usize> {
    let total = args.rate as usize * args.rate_secs as usize;
    let progress = bar(total, "fixed rate");
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
    // After a stall, keep the pace rather than catching up in a burst.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..total {
        tick.tick().await;
        let api = api.clone();
        sends.spawn(async move { api.event("lead.created", n).await });
    }
    while let Some(sent) = sends.join_next().await {
        sent??;
    }
    if !sink
        .wait_for(total, Duration::from_secs(120), &progress)
        .await
    {
        bail!("the provider sink saw {} of {total} calls", sink.count());
    }
    progress.finish_and_clear();
    Ok(total)
}

/// Sends events `first..first + count` from `clients` concurrent senders; answers the
/// seconds it took.
pub(super) async fn send_all(
    api: &Api,
    event_type: &'static str,
    first: usize,
    count: usize,
    clients: usize,
    label: &'static str,
) -> anyhow::Result<f64> {
    let progress = bar(count, label);
    let next = Arc::new(AtomicUsize::new(first));
    let start = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (api, next, progress) = (api.clone(), next.clone(), progress.clone());
        senders.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= first + count {
                    return anyhow::Ok(());
                }
                api.event(event_type, n).await?;
                progress.inc(1);
            }
        });
    }
    while let Some(sender) = senders.join_next().await {
        sender??;
    }
    progress.finish_and_clear();
    Ok(seconds_since(start))
}

struct Counts {
    completed: i64,
    sleeping: i64,
    /// Run rows created plus seq-guarded updates applied: every durable state change.
    transitions: i64,
}

async fn counts(store: &SqlStore) -> anyhow::Result<Counts> {
    let row = sqlx::query(
        // CAST: PostgreSQL sums bigints as numeric, which sqlx's Any driver does not decode.
        "SELECT COUNT(*) AS runs, CAST(COALESCE(SUM(seq), 0) AS BIGINT) AS updates, \
         CAST(COALESCE(SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS completed, \
         CAST(COALESCE(SUM(CASE WHEN status = 'sleeping' THEN 1 ELSE 0 END), 0) AS BIGINT) AS sleeping \
         FROM runs",
    )
    .fetch_one(store.pool())
    .await?;
    let number = |column: &str| -> anyhow::Result<i64> { Ok(row.try_get(column)?) };
    Ok(Counts {
        completed: number("completed")?,
        sleeping: number("sleeping")?,
        transitions: number("runs")? + number("updates")?,
    })
}

/// Polls until `target` runs completed (a benchmark may poll; tests wait on events).
async fn wait_completed(store: &SqlStore, target: usize) -> anyhow::Result<i64> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let completed = counts(store).await?.completed;
        if completed >= target as i64 {
            return Ok(completed);
        }
        if Instant::now() > deadline {
            bail!("{completed} of {target} runs completed after 600 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Leaves `args.waiting` runs waiting and reports the server's memory as they pile up.
async fn memory(
    args: &FlowArgs,
    api: &Api,
    store: &SqlStore,
    server: &Process,
) -> anyhow::Result<()> {
    let rss = || server.memory_mib().map_or((f64::NAN, f64::NAN), |m| m);
    let mut samples = vec![(0usize, rss().0)];
    let tenth = args.waiting.div_ceil(10);
    let first = 10_000_000; // event numbers apart from the lead events'
    let start = Instant::now();
    for part in 0..10 {
        let count = tenth.min(args.waiting.saturating_sub(part * tenth));
        if count == 0 {
            break;
        }
        send_all(
            api,
            "appointment.booked",
            first + part * tenth,
            count,
            args.clients,
            "waiting",
        )
        .await?;
        let target = part * tenth + count;
        while counts(store).await?.sleeping < target as i64 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        samples.push((target, rss().0));
    }
    let elapsed = seconds_since(start);
    println!(
        "  memory with waiting runs ({} started in {elapsed:.0} s, {:.0}/s):",
        args.waiting,
        args.waiting as f64 / elapsed
    );
    let line: Vec<String> = samples
        .iter()
        .map(|(n, mib)| format!("{n}: {mib:.0} MiB"))
        .collect();
    println!("    resident: {}", line.join(", "));
    println!("    peak resident: {:.0} MiB", rss().1);
    Ok(())
}
