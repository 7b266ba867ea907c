//! `stepwise bench inbox`: how fast the inbox answers for a busy tenant: a database seeded
//! with `--conversations` conversations (default 50,000) holding `--messages` sent messages
//! between them (default 1,000,000, from runs of four texts each), with a spread of statuses,
//! assignees, unread counts and contact tags. Each inbox request (`GET /v1/conversations`
//! with each filter, a tag one in ten contacts has and one no contact has, a second page,
//! and a thread) is timed `--requests` times through the store the API uses,
//! then again through HTTP against a `stepwise serve` on the same database (the answer as a
//! client gets it: routing, authentication, JSON); the ceiling is the issue's: p99 under
//! 50 ms.

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use stepwise_engine::ports::{
    Channel, ConversationFilter, ConversationStatus, ConversationStore, conversation_id,
};
use stepwise_engine::store::SqlStore;

use super::kpis::{Value, insert, open_seeded, text};
use super::process::Database;
use super::{bar, seconds_since};

#[derive(Debug, clap::Args)]
pub struct InboxArgs {
    /// Conversations in the tenant's inbox.
    #[arg(long, default_value_t = 50_000)]
    conversations: usize,
    /// Sent messages between them (four a run).
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// Times each request is timed.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// The database (default: a fresh SQLite file in a temporary folder).
    #[arg(long)]
    database_url: Option<String>,
    /// Redis for the server's queue in the HTTP phase (required with PostgreSQL).
    #[arg(long)]
    redis_url: Option<String>,
}

const TENANT: &str = "busy";
const CEILING_MS: f64 = 50.0;

/// Seeds the inbox; every conversation gets `messages / conversations` texts.
async fn seed(store: &SqlStore, conversations: usize, messages: usize) -> anyhow::Result<()> {
    let runs_each = (messages / conversations.max(1) / 4).max(1);
    let start = Timestamp::now() - SignedDuration::from_hours(24 * 90);
    let progress = bar(conversations, "seeding");
    let (mut conversation_rows, mut run_rows, mut message_rows, mut contact_rows) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for c in 0..conversations {
        let contact = format!("c{c}");
        // Spread over 90 days, a later contact writing later.
        let last = start.as_microsecond() + c as i64 * 155_000_000;
        let status = if c % 500 == 7 {
            "needs_human" // one in 500 waits for a person
        } else {
            ["open", "open", "open", "snoozed", "closed"][c % 5]
        };
        let assignee = (c % 3 != 0).then(|| format!("mem_{}", c % 10));
        // One contact in ten is a `vip`; no one is tagged `nobody` (a filter that matches
        // nothing reads the whole inbox: the worst case).
        let phone = format!("+1512{c:07}");
        let tag = if c % 10 == 0 { "vip" } else { "customer" };
        contact_rows.push(vec![
            text(TENANT),
            text(contact.as_str()),
            text(phone.as_str()),
            text(format!(
                r#"{{"id":"{contact}","phone":"{phone}","tags":["{tag}"]}}"#
            )),
            Value::Int(start.as_microsecond()),
        ]);
        conversation_rows.push(vec![
            text(TENANT),
            text(conversation_id(&contact, Channel::Sms)),
            text(contact.as_str()),
            text("sms"),
            text(status),
            assignee.map_or(Value::NullText, text),
            if status == "snoozed" {
                Value::Int(last + 86_400_000_000 * 365)
            } else {
                Value::NullInt
            },
            Value::Int((c % 4) as i64),
            Value::Int(last),
            text(if c % 2 == 0 { "inbound" } else { "outbound" }),
            Value::Int(start.as_microsecond()),
        ]);
        for r in 0..runs_each {
            let run = format!("r{c}-{r}");
            let at = last - (runs_each - r) as i64 * 3_600_000_000;
            run_rows.push(vec![
                text(TENANT),
                text(run.as_str()),
                text("promo"),
                Value::Int(1),
                text(contact.as_str()),
                text("completed"),
                Value::Int(1),
                Value::Int(1),
                text("{}"),
                Value::Int(at),
                Value::Int(at),
            ]);
            for m in 0..4 {
                message_rows.push(vec![
                    text(TENANT),
                    text(format!("{run}:{m}")),
                    text(run.as_str()),
                    text("s"),
                    text("sms"),
                    text("+15125550100"),
                    text("Spring hours: we open at 8 on Saturdays now."),
                    text("sent"),
                    Value::Int(at + m),
                    Value::Int(at + m),
                ]);
            }
        }
        if message_rows.len() >= 20_000 || c + 1 == conversations {
            insert(
                store,
                "contacts",
                "tenant_id, id, phone, doc, updated_at",
                std::mem::take(&mut contact_rows),
            )
            .await?;
            insert(store, "conversations", "tenant_id, id, contact_id, channel, status, assignee, snoozed_until, unread, last_message_at, last_direction, created_at", std::mem::take(&mut conversation_rows)).await?;
            insert(store, "runs", "tenant_id, id, flow_id, flow_version, contact_id, status, seq, format, state, created_at, updated_at", std::mem::take(&mut run_rows)).await?;
            insert(store, "messages", "tenant_id, id, run_id, step, channel, to_address, body, status, created_at, updated_at", std::mem::take(&mut message_rows)).await?;
            progress.set_position(c as u64 + 1);
        }
    }
    progress.finish_and_clear();
    Ok(())
}

/// Times `request` `n` times (its argument: the round), adds a row to `report`, and
/// answers the p99 (ms).
async fn timed<F, Fut>(
    report: &mut String,
    name: &str,
    n: usize,
    mut request: F,
) -> anyhow::Result<f64>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let began = Instant::now();
        request(i).await?;
        times.push(seconds_since(began) * 1000.0);
    }
    let (p50, p99, max) = spread(times);
    report.push_str(&format!("{name:<40} {p50:>8.2} {p99:>8.2} {max:>8.2}\n"));
    Ok(p99)
}

/// p50, p99 and max of `times` (ms).
fn spread(mut times: Vec<f64>) -> (f64, f64, f64) {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    (at(0.5), at(0.99), times.last().copied().unwrap_or_default())
}

/// The same requests through a server on the seeded database: the tenant gets an admin key,
/// `stepwise serve --role api` answers, and each request is timed as a client sees it.
async fn through_http(store: &SqlStore, url: &str, args: &InboxArgs) -> anyhow::Result<String> {
    let tenant = stepwise_engine::model::Tenant {
        id: TENANT.into(),
        name: "Busy Salon".into(),
        timezone: "America/Chicago".into(),
        ..Default::default()
    };
    let (tenant, key, _) = crate::access::create_tenant(store, tenant)
        .await
        .map_err(|e| anyhow::anyhow!("the benchmark's tenant: {e}"))?;
    anyhow::ensure!(tenant.id == TENANT, "the tenant is {}", tenant.id);
    let db = Database::existing(url, args.redis_url.as_deref(), "inbox");
    let (_server, base) =
        db.serve_with("api", 8, stepwise_engine::store::DEFAULT_CONNECTIONS, &[])?;
    stepwise_connectors::outbound::install_crypto_provider();
    let http = reqwest::Client::new();
    let get = |path: String| {
        let request = http.get(format!("{base}{path}")).bearer_auth(&key);
        async move {
            let answer = request.send().await?.error_for_status()?;
            anyhow::Ok(answer.json::<serde_json::Value>().await?)
        }
    };
    let first = get("/v1/conversations?limit=50".into()).await?;
    let cursor = first["next_cursor"].as_str().unwrap_or_default().to_owned();
    let mut requests: Vec<(&str, String)> = [
        ("the inbox", ""),
        ("status=open", "&status=open"),
        ("unassigned=true", "&unassigned=true"),
        ("assignee=mem_7", "&assignee=mem_7"),
        (
            "has_unread=true&channel=sms",
            "&has_unread=true&channel=sms",
        ),
        ("status=closed", "&status=closed"),
        ("status=needs_human", "&status=needs_human"),
        ("tag=vip (one in ten)", "&tag=vip"),
        ("tag=nobody (matches none)", "&tag=nobody"),
    ]
    .into_iter()
    .map(|(name, query)| (name, format!("/v1/conversations?limit=50{query}")))
    .collect();
    requests.push((
        "the second page",
        format!("/v1/conversations?limit=50&cursor={cursor}"),
    ));
    let mut report = format!(
        "\nthrough HTTP (stepwise serve --role api, one client)\n{:<40} {:>8} {:>8} {:>8}\n",
        "request (limit 50)", "p50 ms", "p99 ms", "max ms"
    );
    let mut worst: f64 = 0.0;
    for (name, path) in &requests {
        let p99 = timed(&mut report, name, args.requests, |_| async {
            get(path.clone()).await.map(drop)
        })
        .await?;
        worst = worst.max(p99);
    }
    let thread = |i: usize| {
        let contact = format!("c{}", (i * 7919) % args.conversations.max(1));
        get(format!(
            "/v1/conversations/{}",
            conversation_id(&contact, Channel::Sms)
        ))
    };
    let name = "a thread (GET /v1/conversations/ID)";
    let p99 = timed(&mut report, name, args.requests, |i| async move {
        thread(i).await.map(drop)
    })
    .await?;
    worst = worst.max(p99);
    report.push_str(&format!(
        "\nthrough HTTP: worst p99 {worst:.2} ms against the {CEILING_MS} ms ceiling\n"
    ));
    Ok(report)
}

pub async fn run(args: InboxArgs) -> anyhow::Result<std::process::ExitCode> {
    let (store, url, dir) = open_seeded("inbox", args.database_url.as_deref()).await?;
    let began = Instant::now();
    seed(&store, args.conversations, args.messages).await?;
    let seeded = seconds_since(began);
    if url.starts_with("postgres") {
        for table in ["contacts", "conversations", "runs", "messages"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
                .execute(store.pool())
                .await?;
        }
    }
    let backend = if url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let mut report = format!(
        "bench inbox ({backend})\nseeded {} conversations, {} messages in {seeded:.1} s\nceiling: p99 {CEILING_MS} ms a request\n\n{:<40} {:>8} {:>8} {:>8}\n",
        args.conversations, args.messages, "request (limit 50)", "p50 ms", "p99 ms", "max ms"
    );
    let first = store
        .conversations(TENANT, &ConversationFilter::default(), 51)
        .await?;
    let second_page = first.get(49).map(|c| (c.last_message_at, c.id.clone()));
    let filters: Vec<(&str, ConversationFilter)> = vec![
        ("the inbox", ConversationFilter::default()),
        (
            "status=open",
            ConversationFilter {
                status: Some(ConversationStatus::Open),
                ..Default::default()
            },
        ),
        (
            "unassigned=true",
            ConversationFilter {
                unassigned: true,
                ..Default::default()
            },
        ),
        (
            "assignee=mem_7",
            ConversationFilter {
                assignee: Some("mem_7".into()),
                ..Default::default()
            },
        ),
        (
            "has_unread=true&channel=sms",
            ConversationFilter {
                has_unread: true,
                channel: Some(Channel::Sms),
                ..Default::default()
            },
        ),
        (
            "status=closed",
            ConversationFilter {
                status: Some(ConversationStatus::Closed),
                ..Default::default()
            },
        ),
        (
            "status=needs_human",
            ConversationFilter {
                status: Some(ConversationStatus::NeedsHuman),
                ..Default::default()
            },
        ),
        (
            "the second page",
            ConversationFilter {
                before: second_page,
                ..Default::default()
            },
        ),
        (
            "tag=vip (one in ten)",
            ConversationFilter {
                tag: Some("vip".into()),
                ..Default::default()
            },
        ),
        (
            "tag=nobody (matches none)",
            ConversationFilter {
                tag: Some("nobody".into()),
                ..Default::default()
            },
        ),
    ];
    let mut worst: f64 = 0.0;
    for (name, filter) in &filters {
        let p99 = timed(&mut report, name, args.requests, |_| async {
            store.conversations(TENANT, filter, 51).await.map(drop)?;
            Ok(())
        })
        .await?;
        worst = worst.max(p99);
    }
    let p99 = timed(&mut report, "a thread (100 messages)", args.requests, |i| {
        let store = &store;
        let contact = format!("c{}", (i * 7919) % args.conversations.max(1));
        async move {
            let id = conversation_id(&contact, Channel::Sms);
            let conversation = store.conversation(TENANT, &id).await?;
            store.thread(TENANT, &conversation, None, 100).await?;
            Ok(())
        }
    })
    .await?;
    worst = worst.max(p99);
    report.push_str(&format!(
        "\nworst p99 {worst:.2} ms against the {CEILING_MS} ms ceiling\n"
    ));
    if url.starts_with("postgres") && args.redis_url.is_none() {
        report.push_str("\nthrough HTTP: skipped (give --redis-url for the server's queue)\n");
    } else {
        report.push_str(&through_http(&store, &url, &args).await?);
    }
    print!("{report}");
    drop(store);
    if args.database_url.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(std::process::ExitCode::SUCCESS)
}
