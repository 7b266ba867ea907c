//! Helpers shared by the end-to-end tests: the real binary, a provider sink on 127.0.0.1,
//! fresh PostgreSQL databases and Redis databases, and API calls.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use tokio::sync::watch;

pub mod audience;
pub mod client;
pub mod fake_openai;
pub mod fake_slack;
pub mod fake_smtp;
pub mod fake_stripe;
pub mod fake_twilio;
pub mod fixture;
pub mod place;
pub mod runs;
pub mod sse;

#[allow(unused_imports)] // each test binary uses a different part
pub use runs::{call, completed_run, lead, post_leads_through_kills, setup, two_call_flow};

/// The platform operator's key the test servers are started with.
pub const OPERATOR_KEY: &str = "swk_e2e-operator-key";
/// The key the test servers seal credentials with (64 hex characters).
pub const SECRET_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// The admin key of tenant `acme`, set by [`setup`].
static ADMIN_KEY: Mutex<String> = Mutex::new(String::new());

pub fn admin_key() -> String {
    ADMIN_KEY.lock().unwrap().clone()
}

/// Runs a test server advances at once: at most this many calls are in flight when it is
/// killed, which bounds the repeats a kill can cause.
pub const CONCURRENCY: usize = 32;
const CONCURRENCY_ARG: &str = "32";

/// The `stepwise` binary built beside this test.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .unwrap()
        .join("stepwise")
}

/// Runs the binary with `args` in `dir`: whether it succeeded, and what it printed (standard
/// output, then standard error).
pub fn run_binary(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(binary())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

/// A provider stand-in: records each request's path and idempotency key.
pub struct Sink {
    pub url: String,
    pub seen: Mutex<Vec<(String, String)>>,
    count: watch::Sender<usize>,
}

impl Sink {
    pub async fn start() -> (Arc<Sink>, watch::Receiver<usize>) {
        let (count, progress) = watch::channel(0);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let sink = Arc::new(Sink {
            url,
            seen: Mutex::default(),
            count,
        });
        let recorder = sink.clone();
        let app = Router::new().route(
            "/{step}",
            post(
                move |axum::extract::Path(step): axum::extract::Path<String>,
                      headers: HeaderMap| {
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let mut seen = recorder.seen.lock().unwrap();
                    seen.push((step, key));
                    recorder.count.send_replace(seen.len());
                    async { "{\"ok\":true}" }
                },
            ),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (sink, progress)
    }

    pub fn distinct_keys(&self) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .map(|(_, k)| k)
            .collect::<std::collections::HashSet<_>>()
            .len()
    }
}

/// Where the processes keep their state.
#[derive(Clone)]
pub struct Backend {
    pub database_url: String,
    /// Redis URL, queue name and database index.
    pub redis: Option<(String, String, u8)>,
}

/// A running `stepwise` process and the first line it printed.
pub struct Process {
    pub child: Child,
    pub first_line: String,
}

/// A test that fails stops its server too: no process outlives its test.
impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `stepwise <args>` on `backend` and waits for its first line of output.
pub fn spawn(dir: &Path, backend: &Backend, args: &[&str]) -> Process {
    spawn_with(dir, backend, args, &[])
}

/// [`spawn`] with extra environment variables.
pub fn spawn_with(dir: &Path, backend: &Backend, args: &[&str], env: &[(&str, &str)]) -> Process {
    let mut command = Command::new(binary());
    command
        .current_dir(dir)
        .args(args)
        .env("STEPWISE_OPERATOR_KEY", OPERATOR_KEY)
        .env("STEPWISE_SECRET_KEY", SECRET_KEY)
        .env("DATABASE_URL", &backend.database_url)
        .env_remove("REDIS_URL")
        .env("STEPWISE_LOG", "warn")
        // The sinks and fake providers of these tests listen on 127.0.0.1.
        .env("STEPWISE_ALLOW_PRIVATE", "127.0.0.0/8")
        .envs(env.iter().copied());
    if let Some((url, queue, db)) = &backend.redis {
        command
            .env("REDIS_URL", format!("{url}/{db}"))
            .env("STEPWISE_QUEUE", queue);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stepwise");
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    Process {
        child,
        first_line: first_line.trim().to_owned(),
    }
}

/// A server (`serve` with fast reconciling) and its base URL.
pub fn start_server(dir: &Path, backend: &Backend, role: &str) -> (Process, String) {
    start_server_with(dir, backend, role, &[])
}

/// [`start_server`] with extra environment variables.
pub fn start_server_with(
    dir: &Path,
    backend: &Backend,
    role: &str,
    env: &[(&str, &str)],
) -> (Process, String) {
    let args = [
        "serve",
        "--role",
        role,
        "--listen",
        "127.0.0.1:0",
        "--reconcile-every",
        "1",
        "--call-lease",
        "3",
        "--concurrency",
        CONCURRENCY_ARG,
    ];
    let process = spawn_with(dir, backend, &args, env);
    let base = process
        .first_line
        .strip_prefix("stepwise listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {}", process.first_line))
        .to_owned();
    (process, base)
}

/// A fresh PostgreSQL database and Redis database index when the test URLs are set.
pub async fn postgres_and_redis(label: &str) -> Option<(Backend, Cleanup)> {
    let given = |name: &str| std::env::var(name).ok().filter(|v| v != "skip");
    let (Some(pg), Some(redis)) = (
        given("STEPWISE_TEST_DATABASE_URL"),
        given("STEPWISE_TEST_REDIS_URL"),
    ) else {
        eprintln!(
            "SKIPPED: STEPWISE_TEST_DATABASE_URL / STEPWISE_TEST_REDIS_URL unset or `skip`: PostgreSQL + Redis not tested"
        );
        return None;
    };
    let admin = stepwise_engine::store::SqlStore::connect(&pg)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {pg}: {e}"));
    let name = format!("stepwise_{label}_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin.pool())
        .await
        .expect("create database");
    let base = pg
        .rsplit_once('/')
        .map_or(pg.as_str(), |(base, _)| base)
        .to_owned();
    let db = u8::try_from(1 + (std::process::id() + label.len() as u32) % 15).unwrap();
    let queue = format!("stepwise-{label}-{}", std::process::id());
    let backend = Backend {
        database_url: format!("{base}/{name}"),
        redis: Some((redis.clone(), queue.clone(), db)),
    };
    Some((
        backend,
        Cleanup {
            admin,
            name,
            redis,
            db,
            queue,
        },
    ))
}

/// Drops what [`postgres_and_redis`] made.
pub struct Cleanup {
    admin: stepwise_engine::store::SqlStore,
    name: String,
    redis: String,
    db: u8,
    queue: String,
}

impl Cleanup {
    pub async fn run(self) {
        let drop = format!("DROP DATABASE {} WITH (FORCE)", self.name);
        sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(self.admin.pool())
            .await
            .expect("drop database");
        forget_queue(&self.redis, self.db, &self.queue);
    }
}

/// Deletes every key of `queue` in one Redis database, as a Redis restart without
/// persistence would, speaking RESP directly. Only that queue's keys: tests run side by side
/// and may share a database index.
pub fn forget_queue(url: &str, db: u8, queue: &str) {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("redis://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("connect to Redis");
    let bulk = |s: &str| format!("${}\r\n{s}\r\n", s.len());
    let db = db.to_string();
    let script =
        "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 1";
    let pattern = format!("{queue}:*");
    let commands = format!(
        "*2\r\n{}{}*4\r\n{}{}{}{}",
        bulk("SELECT"),
        bulk(&db),
        bulk("EVAL"),
        bulk(script),
        bulk("0"),
        bulk(&pattern)
    );
    stream.write_all(commands.as_bytes()).unwrap();
    let mut reply = [0u8; 9];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+OK\r\n:1\r\n", "SELECT and EVAL answered");
}

/// An HTTP client for talking to the server (reqwest needs a TLS provider installed first).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// `body` signed as Cal.com signs its webhooks (`X-Cal-Signature-256`: hex HMAC-SHA256).
pub fn calcom_signature(secret: &str, body: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}
