//! Real `stepwise` processes for the benchmarks: a fresh database (a SQLite file in the
//! temporary directory, or a new PostgreSQL database beside the one given), child processes of
//! this same binary on it, their memory use, and an API client for them.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};
use stepwise_engine::store::SqlStore;

/// The operator key benchmarked servers start with.
pub const OPERATOR_KEY: &str = "swk_stepwise-bench-operator";
/// The credential-sealing key benchmarked servers start with (the benchmark stores none).
const SECRET_KEY: &str = "62656e6368000000000000000000000000000000000000000000000000000000";

/// A database made for one benchmark run, removed on [`Database::drop_it`].
#[derive(Debug)]
pub struct Database {
    pub url: String,
    pub redis_url: Option<String>,
    /// The queue name, unique to this run (the Redis keys of other runs are left alone).
    pub queue: String,
    admin: Option<(SqlStore, String)>,
    file: Option<PathBuf>,
}

impl Database {
    /// A fresh database: a new SQLite file, or a new database on the PostgreSQL server of
    /// `postgres_url`.
    pub async fn fresh(
        label: &str,
        postgres_url: Option<&str>,
        redis_url: Option<&str>,
    ) -> anyhow::Result<Database> {
        let name = format!("stepwise_bench_{label}_{}", std::process::id());
        let queue = name.replace('_', "-");
        let redis_url = redis_url.map(str::to_owned);
        let Some(postgres_url) = postgres_url else {
            let file = std::env::temp_dir().join(format!("{name}.db"));
            remove_sqlite(&file);
            return Ok(Database {
                url: format!("sqlite://{}", file.display()),
                redis_url,
                queue,
                admin: None,
                file: Some(file),
            });
        };
        if redis_url.is_none() {
            bail!("with PostgreSQL, give --redis-url for the queue");
        }
        let admin = SqlStore::connect(postgres_url)
            .await
            .with_context(|| format!("connect to {postgres_url}"))?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(admin.pool())
            .await
            .context("create the benchmark database")?;
        let base = postgres_url
            .rsplit_once('/')
            .map_or(postgres_url, |(base, _)| base);
        Ok(Database {
            url: format!("{base}/{name}"),
            redis_url,
            queue,
            admin: Some((admin, name)),
            file: None,
        })
    }

    /// A database a benchmark seeded itself, to serve (nothing is dropped with it).
    pub fn existing(url: &str, redis_url: Option<&str>, label: &str) -> Database {
        Database {
            url: url.to_owned(),
            redis_url: redis_url.map(str::to_owned),
            queue: format!("stepwise-bench-{label}-{}", std::process::id()),
            admin: None,
            file: None,
        }
    }

    pub fn backend(&self) -> &'static str {
        if self.file.is_some() {
            "SQLite"
        } else {
            "PostgreSQL + Redis"
        }
    }

    /// Starts `stepwise <args>` on this database and waits for its first line of output.
    pub fn spawn(&self, args: &[&str]) -> anyhow::Result<Process> {
        self.spawn_with(args, &[])
    }

    /// [`Database::spawn`] with extra environment variables.
    pub fn spawn_with(&self, args: &[&str], env: &[(&str, String)]) -> anyhow::Result<Process> {
        let exe = std::env::current_exe().context("find the stepwise binary")?;
        let mut command = Command::new(exe);
        command
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("STEPWISE_OPERATOR_KEY", OPERATOR_KEY)
            .env("STEPWISE_SECRET_KEY", SECRET_KEY)
            // The benchmark measures the engine, not the per-tenant rate limit.
            .env("STEPWISE_RATE_LIMIT", "1000000")
            .env("STEPWISE_QUEUE", &self.queue)
            // The provider stand-ins listen on 127.0.0.1, which flows may not reach otherwise.
            .env("STEPWISE_ALLOW_PRIVATE", "127.0.0.0/8")
            // What the benchmark signs its webhooks over.
            .env("STEPWISE_PUBLIC_URL", BENCH_PUBLIC_URL)
            // Quiet unless `STEPWISE_BENCH_LOG` asks for more (to find where time goes).
            .env(
                "STEPWISE_LOG",
                std::env::var("STEPWISE_BENCH_LOG").unwrap_or_else(|_| "error".into()),
            )
            .env_remove("REDIS_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        if let Some(redis) = &self.redis_url {
            command.env("REDIS_URL", redis);
        }
        let mut child = command.spawn().context("start stepwise")?;
        let mut first_line = String::new();
        if let Some(stdout) = child.stdout.take() {
            BufReader::new(stdout).read_line(&mut first_line)?;
        }
        Ok(Process {
            child,
            first_line: first_line.trim().to_owned(),
        })
    }

    /// Starts `stepwise serve` (all roles unless `role` says otherwise) on a free port and
    /// answers it with its base URL.
    pub fn serve(
        &self,
        role: &str,
        concurrency: usize,
        connections: u32,
    ) -> anyhow::Result<(Process, String)> {
        self.serve_with(role, concurrency, connections, &[])
    }

    /// [`Database::serve`] with extra environment variables.
    pub fn serve_with(
        &self,
        role: &str,
        concurrency: usize,
        connections: u32,
        extra: &[(&str, String)],
    ) -> anyhow::Result<(Process, String)> {
        let concurrency = concurrency.to_string();
        let mut env = vec![("STEPWISE_DATABASE_CONNECTIONS", connections.to_string())];
        env.extend(extra.iter().cloned());
        let process = self.spawn_with(
            &[
                "serve",
                "--role",
                role,
                "--listen",
                "127.0.0.1:0",
                "--concurrency",
                &concurrency,
            ],
            &env,
        )?;
        let Some(base) = process.first_line.strip_prefix("stepwise listening on ") else {
            bail!("stepwise serve did not start: {:?}", process.first_line);
        };
        let base = base.to_owned();
        Ok((process, base))
    }

    /// A connection of the benchmark's own, to count what the processes did.
    pub async fn store(&self) -> anyhow::Result<SqlStore> {
        Ok(SqlStore::connect(&self.url).await?)
    }

    pub async fn drop_it(self) -> anyhow::Result<()> {
        if let Some(file) = &self.file {
            remove_sqlite(file);
            let queue = stepwise_engine::queue::queue_url(&self.url);
            remove_sqlite(&PathBuf::from(queue.trim_start_matches("sqlite://")));
        }
        if let Some(redis) = &self.redis_url {
            stepwise_engine::queue::delete_redis_queue(redis, &self.queue).await?;
        }
        if let Some((admin, name)) = self.admin {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE {name} WITH (FORCE)"
            )))
            .execute(admin.pool())
            .await?;
        }
        Ok(())
    }
}

fn remove_sqlite(file: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}

/// A child `stepwise` process, killed when dropped.
#[derive(Debug)]
pub struct Process {
    pub child: Child,
    pub first_line: String,
}

impl Process {
    /// Resident memory now and at its peak, in MiB (Linux `/proc`).
    pub fn memory_mib(&self) -> Option<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        };
        Some((kib("VmRSS:")? / 1024.0, kib("VmHWM:")? / 1024.0))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls to a benchmarked server, as tenant `bench`.
#[derive(Debug, Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    /// Tenant `bench`'s admin key, set by [`Api::setup`].
    key: std::sync::Arc<std::sync::OnceLock<String>>,
}

impl Api {
    pub fn new(base: String) -> Api {
        Api {
            base,
            client: {
                stepwise_connectors::outbound::install_crypto_provider();
                reqwest::Client::new()
            },
            key: Default::default(),
        }
    }

    pub(super) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let key = self.key.get().map(String::as_str).unwrap_or_default();
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key)
    }

    /// Publishes one more flow (YAML) for the bench tenant.
    pub async fn publish(&self, flow: &str) -> anyhow::Result<()> {
        let answer = self
            .request(reqwest::Method::POST, "/v1/flows")
            .header("content-type", "application/yaml")
            .body(flow.to_owned())
            .send()
            .await?;
        if !answer.status().is_success() {
            bail!("publishing a flow: {}", answer.text().await?);
        }
        Ok(())
    }

    /// Creates tenant `bench` (as the operator) and publishes `flow` (YAML) for it.
    pub async fn setup(&self, flows: &[String]) -> anyhow::Result<()> {
        let tenant = serde_json::json!({"id": "bench", "name": "Bench Dental", "timezone": "America/Chicago"});
        let answer = self
            .client
            .post(format!("{}/v1/tenants", self.base))
            .bearer_auth(OPERATOR_KEY)
            .json(&tenant)
            .send()
            .await?;
        if !answer.status().is_success() {
            bail!("creating the tenant: {}", answer.text().await?);
        }
        let created: serde_json::Value = answer.json().await?;
        let key = created["admin_key"]["key"]
            .as_str()
            .context("the tenant's admin key")?;
        let _ = self.key.set(key.to_owned());
        for flow in flows {
            let answer = self
                .request(reqwest::Method::POST, "/v1/flows")
                .header("content-type", "application/yaml")
                .body(flow.clone())
                .send()
                .await?;
            if !answer.status().is_success() {
                bail!("publishing a flow: {}", answer.text().await?);
            }
        }
        Ok(())
    }

    /// Chooses Twilio for the bench tenant's SMS (the sink stands in for it, by the server's
    /// `STEPWISE_PROVIDER_URLS`); answers the tenant's webhook token.
    pub async fn use_twilio(&self) -> anyhow::Result<String> {
        let settings = serde_json::json!({"providers": {"sms": {"provider": "twilio",
            "account_sid": BENCH_TWILIO_ACCOUNT, "from": "+15125550100"}}});
        let patched = self
            .request(reqwest::Method::PATCH, "/v1/settings")
            .json(&settings)
            .send()
            .await?;
        if !patched.status().is_success() {
            bail!("choosing Twilio: {}", patched.text().await?);
        }
        let credential = serde_json::json!({"value": BENCH_TWILIO_TOKEN});
        let stored = self
            .request(
                reqwest::Method::PUT,
                "/v1/settings/credentials/twilio_auth_token",
            )
            .json(&credential)
            .send()
            .await?;
        if !stored.status().is_success() {
            bail!("storing the Auth Token: {}", stored.text().await?);
        }
        let shown: serde_json::Value = self
            .request(reqwest::Method::GET, "/v1/settings")
            .send()
            .await?
            .json()
            .await?;
        Ok(shown["hook_token"]
            .as_str()
            .context("the hook token")?
            .to_owned())
    }

    /// Posts a signed inbound SMS from lead `n` (a new number) whose text carries `n` and the
    /// time sent, as Twilio would.
    pub async fn inbound_sms(&self, hook_token: &str, n: usize) -> anyhow::Result<()> {
        let sent = jiff::Timestamp::now().as_microsecond();
        let path = format!("/hooks/{hook_token}/twilio");
        let params: Vec<(String, String)> = vec![
            ("MessageSid".into(), format!("SMin{n:030}")),
            ("AccountSid".into(), BENCH_TWILIO_ACCOUNT.into()),
            ("From".into(), lead_phone(n)),
            ("To".into(), "+15125550100".into()),
            ("Body".into(), format!("n={n} sent={sent}")),
        ];
        let signature = stepwise_connectors::twilio::signature::sign(
            BENCH_TWILIO_TOKEN,
            &format!("{BENCH_PUBLIC_URL}{path}"),
            &params,
        );
        let answer = self
            .client
            .post(format!("{}{path}", self.base))
            .header("x-twilio-signature", signature)
            .form(&params)
            .send()
            .await?;
        if !answer.status().is_success() {
            bail!("inbound {n}: {} {}", answer.status(), answer.text().await?);
        }
        Ok(())
    }

    /// Posts one event of `event_type` for contact `c<n>`, carrying `n` and the time sent.
    pub async fn event(&self, event_type: &str, n: usize) -> anyhow::Result<()> {
        let sent = jiff::Timestamp::now().as_microsecond();
        let body = serde_json::json!({
            "type": event_type,
            "external_id": format!("{event_type}-{n}"),
            "data": { "n": n.to_string(), "sent": sent.to_string() },
            "contact": { "id": format!("c{n}"), "phone": lead_phone(n), "first_name": "Ana" },
        });
        let answer = self
            .request(reqwest::Method::POST, "/v1/events")
            .json(&body)
            .send()
            .await?;
        if !answer.status().is_success() {
            bail!("event {n}: {} {}", answer.status(), answer.text().await?);
        }
        Ok(())
    }
}

/// The public URL the benchmark's server is told it has (webhooks are signed over it).
pub const BENCH_PUBLIC_URL: &str = "http://bench.test";
/// The bench tenant's Twilio account and Auth Token (the sink does not check them).
pub const BENCH_TWILIO_ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
pub const BENCH_TWILIO_TOKEN: &str = "bench-twilio-auth-token";

/// Lead `n`'s phone: a valid US number of its own (a phone names one contact of a tenant).
/// The 8,000,000 local numbers from 512-200-0000 on take `n` modulo their count, so that the
/// memory phase's leads (numbered from 10,000,000) have valid numbers too.
pub fn lead_phone(n: usize) -> String {
    format!("+1512{}", 2_000_000 + n % 8_000_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_phase_gets_valid_distinct_phones() {
        let numbers = [0, 19_999, 10_000_000, 10_099_999];
        let phones: Vec<String> = numbers.iter().map(|&n| super::lead_phone(n)).collect();
        for phone in &phones {
            let mut contact = stepwise_engine::model::Contact {
                phone: Some(phone.clone()),
                ..Default::default()
            };
            assert_eq!(contact.normalise("US"), Ok(()), "{phone}");
            assert_eq!(contact.phone.as_ref(), Some(phone));
        }
        let distinct: std::collections::HashSet<&String> = phones.iter().collect();
        assert_eq!(distinct.len(), phones.len(), "{phones:?}");
    }
}
