//! `stepwise bench campaign`: how closely a campaign holds its rate. A tenant whose contacts
//! are in their open hours (and a tenth of them in their quiet hours) gets a campaign at
//! `--rate` contacts a second from a pool of three numbers, run by `--workers` worker
//! processes (PostgreSQL + Redis) or one server (SQLite) for `--seconds`. From the outbox, it
//! reports the texts a second over the whole run and in each 10-second window, the most any
//! pool number sent within one second against its own rate, and how many texts went to
//! contacts in their quiet hours (none may).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sqlx::Row;

use super::process::{Api, Database};
use super::{bar, seconds_since};

#[derive(Debug, clap::Args)]
pub struct CampaignArgs {
    /// PostgreSQL server to make a fresh database on (default: a SQLite file).
    #[arg(long)]
    database_url: Option<String>,
    /// Redis for the queue (with PostgreSQL).
    #[arg(long)]
    redis_url: Option<String>,
    /// Contacts started a second.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// How long to measure.
    #[arg(long, default_value_t = 300)]
    seconds: u64,
    /// Worker processes (PostgreSQL + Redis only).
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

const PROMO: &str = "id: promo
trigger: {manual: true}
purpose: marketing
steps:
  - id: offer
    send_sms: {body: 'Spring cleaning is 20% off, {{contact.first_name}}. Reply STOP to opt out.'}
";

/// A POSIX zone where it is now `hour` o'clock.
fn zone_at(hour: i32) -> String {
    let utc = i32::from(
        jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .hour(),
    );
    let offset = (hour - utc + 36) % 24 - 12;
    match offset {
        0 => "Etc/GMT".to_owned(),
        n if n > 0 => format!("Etc/GMT-{n}"),
        n => format!("Etc/GMT+{}", -n),
    }
}

async fn call(
    api: &Api,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut request = api.request(method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await?;
    let status = answer.status();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{path}: {status} {body}");
    }
    Ok(body)
}

pub async fn run(args: CampaignArgs) -> anyhow::Result<ExitCode> {
    let db = Database::fresh(
        "campaign",
        args.database_url.as_deref(),
        args.redis_url.as_deref(),
    )
    .await?;
    let result = measure(&args, &db).await;
    db.drop_it().await?;
    result
}

async fn measure(args: &CampaignArgs, db: &Database) -> anyhow::Result<ExitCode> {
    let postgres = db.redis_url.is_some();
    let role = if postgres { "api" } else { "all" };
    let (_server, base) = db.serve(role, 64, stepwise_engine::store::DEFAULT_CONNECTIONS)?;
    let mut workers = Vec::new();
    if postgres {
        for _ in 0..args.workers {
            workers.push(db.spawn(&["worker", "--concurrency", "64"])?);
        }
    }
    let api = Api::new(base);
    api.setup(&[PROMO.to_owned()]).await?;
    let (day, night) = (zone_at(12), zone_at(2));
    let pool = json!([
        {"number": "+15125550201", "kind": "short_code", "per_second": 20},
        {"number": "+15125550202", "kind": "short_code", "per_second": 20},
        {"number": "+15125550203", "kind": "short_code", "per_second": 20}]);
    call(
        &api,
        reqwest::Method::PATCH,
        "/v1/settings",
        Some(json!({"timezone": day, "sender_pools": {"main": pool}})),
    )
    .await?;

    // Enough contacts that the campaign never runs out, a tenth of them at night.
    let contacts = (args.rate * args.seconds as f64 * 1.2) as usize + 100;
    let mut file = String::from("Name,Mobile,Timezone\n");
    for i in 0..contacts {
        let zone = if i % 10 == 9 { &night } else { &day };
        file.push_str(&format!("Guest{i},+1512{:07},{zone}\n", 2_000_000 + i));
    }
    let import: Value = api
        .request(reqwest::Method::POST, "/v1/imports?tags=bench")
        .header("content-type", "text/csv")
        .body(file)
        .send()
        .await?
        .json()
        .await?;
    let import_id = import["id"].as_str().context("the import's id")?.to_owned();
    loop {
        let now = call(
            &api,
            reqwest::Method::GET,
            &format!("/v1/imports/{import_id}"),
            None,
        )
        .await?;
        if now["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let campaign = call(&api, reqwest::Method::POST, "/v1/campaigns", Some(json!({"name": "Bench",
        "flow_id": "promo", "audience": {"tag": "bench"}, "per_second": args.rate, "pool": "main"}))).await?;
    let id = campaign["id"]
        .as_str()
        .context("the campaign's id")?
        .to_owned();
    call(
        &api,
        reqwest::Method::POST,
        &format!("/v1/campaigns/{id}/launch"),
        None,
    )
    .await?;
    let began = Instant::now();
    let progress = bar(args.seconds as usize, "seconds");
    while seconds_since(began) < args.seconds as f64 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        progress.set_position(seconds_since(began) as u64);
    }
    call(
        &api,
        reqwest::Method::POST,
        &format!("/v1/campaigns/{id}/cancel"),
        None,
    )
    .await?;
    progress.finish_and_clear();
    drop(workers);
    report(args, db, &id, &night).await?;
    Ok(ExitCode::SUCCESS)
}

async fn report(args: &CampaignArgs, db: &Database, id: &str, night: &str) -> anyhow::Result<()> {
    let store = db.store().await?;
    let rows = sqlx::query(
        "SELECT m.created_at AS at, s.number AS number, k.doc AS doc FROM campaign_runs c \
         JOIN messages m ON m.tenant_id = c.tenant_id AND m.run_id = c.run_id \
         JOIN contacts k ON k.tenant_id = c.tenant_id AND k.id = c.contact_id \
         LEFT JOIN sender_assignments s ON s.tenant_id = c.tenant_id AND s.pool = 'main' AND s.contact_id = c.contact_id \
         WHERE c.tenant_id = 'bench' AND c.campaign_id = $1 ORDER BY m.created_at",
    )
    .bind(id)
    .fetch_all(store.pool())
    .await?;
    let mut starts = Vec::new();
    let mut per_number: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    let mut at_night = 0;
    let night = format!("\"{night}\"");
    for row in &rows {
        let at: i64 = row.try_get("at")?;
        let number: Option<String> = row.try_get("number")?;
        let doc: String = row.try_get("doc")?;
        if doc.contains(&night) {
            at_night += 1;
        }
        starts.push(at);
        per_number
            .entry(number.unwrap_or_default())
            .or_default()
            .push(at);
    }
    let (Some(first), Some(last)) = (starts.first(), starts.last()) else {
        bail!("the campaign sent no text");
    };
    let span = (last - first) as f64 / 1e6;
    let overall = (starts.len() - 1) as f64 / span.max(1e-9);
    let mut windows = Vec::new();
    let mut from = *first;
    while from + 10_000_000 <= *last {
        let n = starts
            .iter()
            .filter(|t| **t >= from && **t < from + 10_000_000)
            .count();
        windows.push(n as f64 / 10.0);
        from += 10_000_000;
    }
    windows.sort_by(f64::total_cmp);
    println!(
        "bench campaign ({}, {} worker process{}): {} texts sent in {span:.0} s",
        db.backend(),
        if db.redis_url.is_some() {
            args.workers
        } else {
            1
        },
        if db.redis_url.is_some() && args.workers != 1 {
            "es"
        } else {
            ""
        },
        starts.len()
    );
    println!(
        "  rate: {overall:.2}/s against {:.2}/s asked ({:+.2} %)",
        args.rate,
        (overall / args.rate - 1.0) * 100.0
    );
    if let (Some(low), Some(high)) = (windows.first(), windows.last()) {
        println!(
            "  10-second windows ({}): lowest {low:.1}/s ({:+.1} %), highest {high:.1}/s ({:+.1} %)",
            windows.len(),
            (low / args.rate - 1.0) * 100.0,
            (high / args.rate - 1.0) * 100.0
        );
    }
    for (number, at) in &per_number {
        let most = at
            .iter()
            .enumerate()
            .map(|(i, t)| at[i..].iter().take_while(|u| **u - t < 1_000_000).count())
            .max()
            .unwrap_or(0);
        println!(
            "  {number}: {} texts, at most {most} within one second (its rate: 20/s)",
            at.len()
        );
    }
    println!("  texts to contacts in their quiet hours: {at_night}");
    Ok(())
}
