//! Crash safety: the real `stepwise serve` is killed with SIGKILL at 20 points while 1,000
//! runs of a 4-step flow with a wait go through it, and restarted each time. Afterwards every
//! run has completed, every step's transition was recorded exactly once, and every provider
//! call was made at least once with one idempotency key per step (repeats of a key are the
//! at-least-once window the provider de-duplicates).
//!
//! Kills are timed by progress (the sink's request count), not by sleeping. The same scenario
//! runs on SQLite (always) and on PostgreSQL + Redis (when `STEPWISE_TEST_DATABASE_URL` and
//! `STEPWISE_TEST_REDIS_URL` are set, as `.ci/run` does), where Redis is also flushed halfway,
//! losing every queued timer: the reconciler brings the runs back from the database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};
use stepwise_engine::runtime::run_id_for;
use tokio::sync::watch;

const RUNS: usize = 1_000;
const KILLS: usize = 20;
const TOKEN: &str = "crash-test-token";

fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .unwrap()
        .join("stepwise")
}

/// A provider stand-in: records each request's path and idempotency key.
#[derive(Default)]
struct Sink {
    seen: Mutex<Vec<(String, String)>>,
    count: Option<watch::Sender<usize>>,
}

async fn start_sink() -> (String, Arc<Sink>, watch::Receiver<usize>) {
    let (tx, rx) = watch::channel(0);
    let sink = Arc::new(Sink {
        seen: Mutex::default(),
        count: Some(tx),
    });
    let recorder = sink.clone();
    let app = Router::new().route(
        "/{step}",
        post(
            move |axum::extract::Path(step): axum::extract::Path<String>, headers: HeaderMap| {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let mut seen = recorder.seen.lock().unwrap();
                seen.push((step, key));
                if let Some(count) = &recorder.count {
                    count.send_replace(seen.len());
                }
                async { "{\"ok\":true}" }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), sink, rx)
}

struct Server {
    child: Child,
    base: String,
}

/// Where the server keeps its state.
#[derive(Clone)]
struct Backend {
    database_url: String,
    /// Redis URL, queue name and database index (flushed by the Redis scenario).
    redis: Option<(String, String, u8)>,
}

fn start_server(dir: &Path, backend: &Backend) -> Server {
    let mut command = Command::new(binary());
    command
        .current_dir(dir)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--reconcile-every",
            "1",
            "--call-lease",
            "3",
        ])
        .env("STEPWISE_API_TOKEN", TOKEN)
        .env("DATABASE_URL", &backend.database_url)
        .env_remove("REDIS_URL");
    if let Some((url, queue, db)) = &backend.redis {
        command
            .env("REDIS_URL", format!("{url}/{db}"))
            .env("STEPWISE_QUEUE", queue);
    }
    let mut child = command
        .env("STEPWISE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stepwise");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("stepwise listening on ")
        .unwrap_or_else(|| panic!("unexpected: {line}"))
        .to_owned();
    Server { child, base }
}

fn flow(sink: &str) -> String {
    format!(
        "id: crashy\npurpose: transactional\ntrigger: {{event: lead.created}}\nsteps:\n\
         \x20 - id: first\n    http: {{url: '{sink}/first', body: {{n: '{{{{event.data.n}}}}'}}}}\n\
         \x20 - id: pause\n    wait: {{for: 1s}}\n\
         \x20 - id: note\n    set: {{done: 'true'}}\n\
         \x20 - id: second\n    http: {{url: '{sink}/second', body: {{n: '{{{{event.data.n}}}}'}}}}\n"
    )
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: String,
) -> reqwest::Result<Value> {
    client
        .request(method, url)
        .bearer_auth(TOKEN)
        .header("stepwise-tenant", "acme")
        .body(body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
}

/// Deletes everything in one Redis database, speaking RESP directly.
fn flush_redis(url: &str, db: u8) {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("redis://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("connect to Redis");
    let db = db.to_string();
    let select = format!("*2\r\n$6\r\nSELECT\r\n${}\r\n{db}\r\n", db.len());
    stream.write_all(select.as_bytes()).unwrap();
    stream.write_all(b"*1\r\n$7\r\nFLUSHDB\r\n").unwrap();
    let mut reply = [0u8; 10];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+OK\r\n+OK\r\n", "SELECT and FLUSHDB answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_survive_sigkill_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("stepwise-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let backend = Backend {
        database_url: format!("sqlite://{}/stepwise.db", dir.display()),
        redis: None,
    };
    scenario(&dir, &backend).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_survive_sigkill_and_a_redis_flush_on_postgres() {
    let (Ok(pg), Ok(redis)) = (
        std::env::var("STEPWISE_TEST_DATABASE_URL"),
        std::env::var("STEPWISE_TEST_REDIS_URL"),
    ) else {
        eprintln!(
            "STEPWISE_TEST_DATABASE_URL / STEPWISE_TEST_REDIS_URL not set: PostgreSQL + Redis not tested here (CI sets them)"
        );
        return;
    };
    let admin = stepwise_engine::store::SqlStore::connect(&pg)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {pg}: {e}"));
    let name = format!("stepwise_crash_{}", std::process::id());
    let create = format!("CREATE DATABASE {name}");
    sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(admin.pool())
        .await
        .expect("create database");
    let base = pg.rsplit_once('/').map_or(pg.as_str(), |(base, _)| base);
    let db = u8::try_from(1 + std::process::id() % 15).unwrap();
    let queue = format!("stepwise-crash-{}", std::process::id());
    let backend = Backend {
        database_url: format!("{base}/{name}"),
        redis: Some((redis.clone(), queue, db)),
    };
    let dir = std::env::temp_dir().join(format!("stepwise-crash-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let outcome = tokio::spawn({
        let dir = dir.clone();
        async move { scenario(&dir, &backend).await }
    })
    .await;
    let drop = format!("DROP DATABASE {name} WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(admin.pool())
        .await
        .expect("drop database");
    flush_redis(&redis, db);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

async fn scenario(dir: &Path, backend: &Backend) {
    let (sink_url, sink, mut progress) = start_sink().await;
    let server = start_server(dir, backend);
    let client = reqwest::Client::new();
    let tenant = json!({"name": "Acme", "timezone": "America/Chicago"}).to_string();
    call(
        &client,
        reqwest::Method::PUT,
        format!("{}/v1/tenants/acme", server.base),
        tenant,
    )
    .await
    .unwrap();
    call(
        &client,
        reqwest::Method::POST,
        format!("{}/v1/flows", server.base),
        flow(&sink_url),
    )
    .await
    .unwrap();

    let (base_tx, base_rx) = watch::channel(server.base.clone());
    let poster = tokio::spawn({
        let client = client.clone();
        let mut base_rx = base_rx.clone();
        async move {
            for n in 0..RUNS {
                let body = json!({"type": "lead.created", "external_id": format!("lead-{n}"), "data": {"n": n},
                                  "contact": {"id": format!("c{n}"), "phone": "+15125550100"}})
                .to_string();
                loop {
                    let base = base_rx.borrow_and_update().clone();
                    match call(
                        &client,
                        reqwest::Method::POST,
                        format!("{base}/v1/events"),
                        body.clone(),
                    )
                    .await
                    {
                        Ok(_) => break,
                        // The server was killed: wait for its replacement, then send the same event again.
                        Err(_) if *base_rx.borrow() == base => base_rx.changed().await.unwrap(),
                        Err(_) => {}
                    }
                }
            }
        }
    });

    let mut server = server;
    for kill in 1..=KILLS {
        let threshold = kill * 2 * RUNS / (KILLS + 1);
        progress.wait_for(|seen| *seen >= threshold).await.unwrap();
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        if let (Some((url, _, db)), true) = (&backend.redis, kill == KILLS / 2) {
            flush_redis(url, *db); // every queued task is gone; the database still knows
        }
        server = start_server(dir, backend);
        base_tx.send_replace(server.base.clone());
    }
    poster.await.unwrap();

    // Every run finishes: wait until the sink has each run's two keys, then for the run rows.
    let everything = |seen: &Vec<(String, String)>| {
        seen.iter().map(|(_, k)| k).collect::<HashSet<_>>().len() >= 2 * RUNS
    };
    tokio::time::timeout(Duration::from_secs(300), async {
        loop {
            if everything(&sink.seen.lock().unwrap()) {
                break;
            }
            progress.changed().await.unwrap();
        }
    })
    .await
    .expect("every provider call arrives");

    let mut statuses = BTreeMap::new();
    let mut deadline = tokio::time::interval(Duration::from_millis(200));
    for attempt in 0.. {
        statuses.clear();
        for n in 0..RUNS {
            let run_id = run_id_for("api", &format!("lead-{n}"), "crashy");
            let run = call(
                &client,
                reqwest::Method::GET,
                format!("{}/v1/runs/{run_id}", server.base),
                String::new(),
            )
            .await
            .unwrap();
            let status = run["run"]["status"].as_str().unwrap().to_owned();
            let called: Vec<&str> = run["history"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["kind"] == "called")
                .map(|r| r["step"].as_str().unwrap())
                .collect();
            if status == "completed" {
                assert_eq!(
                    called,
                    ["first", "second"],
                    "run {n}: each step's transition recorded once"
                );
            }
            *statuses.entry(status).or_insert(0) += 1;
        }
        if statuses.get("completed") == Some(&RUNS) || attempt > 150 {
            break;
        }
        deadline.tick().await;
    }
    assert_eq!(
        statuses.get("completed"),
        Some(&RUNS),
        "every run completed: {statuses:?}"
    );

    let seen = sink.seen.lock().unwrap().clone();
    let keys: HashSet<&String> = seen.iter().map(|(_, k)| k).collect();
    for n in 0..RUNS {
        let run_id = run_id_for("api", &format!("lead-{n}"), "crashy");
        for step in ["first", "second"] {
            assert!(
                keys.contains(&format!("{run_id}:{step}:1")),
                "run {n}: {step} reached the provider with attempt 1's key"
            );
        }
    }
    assert_eq!(keys.len(), 2 * RUNS, "one idempotency key per step and run");
    let repeats = seen.len() - keys.len();
    eprintln!(
        "{RUNS} runs, {KILLS} kills: {} provider requests, {repeats} repeats of a key",
        seen.len()
    );
    assert!(
        repeats <= KILLS * 16,
        "repeats are bounded by the calls in flight at each kill"
    );

    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
