//! `stepwise serve` (API, workers and reconciler in one process) and `stepwise worker`
//! (workers and reconciler only). With no configuration: `./stepwise.db` (SQLite, store and
//! queue in one file), 127.0.0.1:8080, sandbox connectors. With `DATABASE_URL=postgres://…`
//! and `REDIS_URL=redis://…`: PostgreSQL and Redis, and many processes may share the work.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use stepwise_connectors::Connectors;
use stepwise_engine::audience::campaign::dispatch::run_campaigns;
use stepwise_engine::audience::import::worker::run_imports;
use stepwise_engine::ports::{AudienceStore, CampaignStore, SystemClock};
use stepwise_engine::queue::{ApalisQueue, QueueBackend, QueueSettings, run_workers};
use stepwise_engine::runtime::reconcile::{run_reconciler, run_schedules, run_timers};
use stepwise_engine::runtime::{Engine, TimerMode};
use stepwise_engine::store::SqlStore;
use tokio::sync::{Notify, watch};

use stepwise_engine::secrets::SecretBox;

use super::key_files::secret;
use crate::server::{ApiConfig, AppState, app};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://stepwise.db")]
    database_url: String,
    /// PostgreSQL connections of this process. More let more runs advance at once (each
    /// advance reads its run and contact); keep the sum over all processes under the
    /// server's `max_connections`.
    #[arg(long, env = "STEPWISE_DATABASE_CONNECTIONS", default_value_t = stepwise_engine::store::DEFAULT_CONNECTIONS)]
    database_connections: u32,
    /// Redis URL for the queue (required with PostgreSQL; default: the SQLite file).
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// The queue's name (processes that share work use the same one).
    #[arg(long, env = "STEPWISE_QUEUE", default_value = stepwise_engine::queue::QUEUE)]
    queue: String,
    /// Runs advanced at once by this process. An advance mostly waits (for a commit or a
    /// provider), so this is far above the core count: `stepwise bench flow` measured 32 →
    /// 128 as 407 → 620 runs/s on PostgreSQL.
    #[arg(long, env = "STEPWISE_CONCURRENCY", default_value_t = 128)]
    concurrency: usize,
    /// Provider calls one tenant may have in flight at once in this process (default: a
    /// quarter of --concurrency; 0: no limit): a tenant whose calls hang (a URL that never
    /// answers) holds no more than this of the process's places, and all tenants together
    /// three quarters of them; other runs wait a moment, then sleep and ask again.
    #[arg(long, env = "STEPWISE_TENANT_CALLS")]
    tenant_calls: Option<usize>,
    /// Seconds between reconciler passes.
    #[arg(long, default_value_t = 5)]
    reconcile_every: u64,
    /// Seconds a started call may take before a crash is assumed and the run is recovered
    /// (longer than any connector timeout).
    #[arg(long, default_value_t = 120)]
    call_lease: u64,
    /// Where the key that seals provider credentials is kept when STEPWISE_SECRET_KEY is not
    /// set (created on first start in the embedded default). Workers open credentials with it.
    #[arg(long, default_value = "stepwise.secret-key")]
    secret_key_file: PathBuf,
    /// The operator's plans (a YAML file: `default` and `plans` with their monthly caps, see
    /// docs/usage.md); without it no plan limits anything.
    #[arg(long, env = "STEPWISE_PLANS")]
    plans: Option<PathBuf>,
    #[command(flatten)]
    edge: super::edge::EdgeArgs,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    common: Args,
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, env = "STEPWISE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// `all` (default): API, workers and reconciler; `api`: the API only (run `stepwise worker`
    /// processes beside it).
    #[arg(long, env = "STEPWISE_ROLE", default_value = "all", value_parser = ["all", "api"])]
    role: String,
    /// Where the operator key is kept when STEPWISE_OPERATOR_KEY is not set (created on
    /// first start in the embedded default).
    #[arg(long, default_value = "stepwise.operator-key")]
    operator_key_file: PathBuf,
    /// API requests per second per tenant (bursts of twice that); more are answered 429.
    #[arg(long, env = "STEPWISE_RATE_LIMIT", default_value = "1000")]
    rate_limit: NonZeroU32,
    /// A folder of the operator's own modules and packs (`modules/<id>/module.yaml`,
    /// `packs/<id>.yaml`), over the built-in ones: a module there replaces the built-in of the
    /// same id (a newer version tenants can upgrade to).
    #[arg(long, env = "STEPWISE_MODULES_DIR")]
    modules_dir: Option<PathBuf>,
    /// Webhooks (`/hooks/…`) per second per tenant (bursts of twice that); more are answered
    /// 429. Apart from the API's limit: a flooded web form never locks the admins out.
    #[arg(long, env = "STEPWISE_HOOK_RATE_LIMIT", default_value = "500")]
    hook_rate_limit: NonZeroU32,
}

/// A signal every part of the process watches to stop: SIGTERM or Ctrl-C.
fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("shutting down: finishing in-flight steps");
        let _ = tx.send(true);
    });
    rx
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// How long a starting process keeps trying to reach its database and queue: in the
/// production shape they may still be starting (a compose restart, a rolling deploy).
const FIRST_CONNECT_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// `connect` until it succeeds, waiting 0.25 s, 0.5 s, ... up to 5 s between tries, for at
/// most [`FIRST_CONNECT_FOR`]; each failure is logged (without secrets in the URL).
async fn with_backoff<T, E: std::fmt::Display, F: std::future::Future<Output = Result<T, E>>>(
    what: &str,
    mut connect: impl FnMut() -> F,
) -> Result<T, E> {
    let began = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(250);
    loop {
        match connect().await {
            Ok(value) => return Ok(value),
            Err(e) if began.elapsed() + pause < FIRST_CONNECT_FOR => {
                tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "cannot reach the {what} yet");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// What one process runs on.
struct Parts {
    engine: Arc<Engine>,
    store: Arc<SqlStore>,
    backend: QueueBackend,
    connectors: Arc<Connectors>,
}

/// The operator's plans file, read and checked.
fn read_plans(path: Option<&PathBuf>) -> anyhow::Result<stepwise_engine::usage::Plans> {
    let Some(path) = path else {
        return Ok(stepwise_engine::usage::Plans::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the plans file {}", path.display()))?;
    stepwise_engine::usage::Plans::parse(&text)
        .map_err(|e| anyhow::anyhow!("the plans file {}: {e}", path.display()))
}

async fn engine(args: &Args, secret_key: Option<&str>) -> anyhow::Result<Parts> {
    let plans = read_plans(args.plans.as_ref())?;
    let store = with_backoff("database", || {
        SqlStore::connect_with(&args.database_url, args.database_connections)
    })
    .await
    .with_context(|| {
        format!(
            "cannot open the database {}",
            super::migrate::redact(&args.database_url)
        )
    })?;
    store.migrate().await?;
    let settings = QueueSettings {
        name: args.queue.clone(),
        // No more than the concurrency, or a worker fetches more than it runs and starves its
        // siblings. (Smaller batches measured slower: 32 with concurrency 128 took PostgreSQL
        // + Redis from 620 to 373 runs/s in `stepwise bench flow`.)
        batch_size: args.concurrency,
    };
    let backend = match (&args.redis_url, args.database_url.starts_with("sqlite:")) {
        (Some(url), _) => with_backoff("queue", || QueueBackend::redis(url, &settings)).await?,
        (None, true) => QueueBackend::sqlite(&args.database_url, &settings).await?,
        (None, false) => bail!("with PostgreSQL, set REDIS_URL for the queue"),
    };
    let queue = Arc::new(ApalisQueue::new(backend.clone()));
    let lease = jiff::SignedDuration::from_secs(i64::try_from(args.call_lease).unwrap_or(120));
    let store = Arc::new(store);
    let connectors = Arc::new(args.edge.connectors(store.clone(), secret_key)?);
    let mut engine = Engine::new(
        store.clone(),
        queue,
        Arc::new(SystemClock),
        connectors.clone(),
    )
    .with_call_lease(lease)
    .with_timer_mode(TimerMode::Database)
    .with_audiences(store.clone())
    .with_library(store.clone())
    .with_pacing(store.clone())
    .with_staff_alerts()
    .with_usage(store.clone(), plans);
    let per_tenant = args.tenant_calls.unwrap_or(args.concurrency / 4);
    engine = engine.with_tenant_call_share(per_tenant, args.concurrency);
    if let Some(public_url) = &args.edge.public_url {
        engine = engine.with_public_url(public_url);
    }
    Ok(Parts {
        engine: Arc::new(engine),
        store,
        backend,
        connectors,
    })
}

/// The key that seals credentials: from STEPWISE_SECRET_KEY, else the key file (made in the
/// embedded default).
fn secret_key(args: &Args) -> anyhow::Result<Option<String>> {
    let embedded = args.database_url.starts_with("sqlite:");
    let key = secret(
        "STEPWISE_SECRET_KEY",
        &args.secret_key_file,
        embedded,
        SecretBox::generate_key,
    )?;
    if let Some(key) = &key {
        SecretBox::from_hex(key).context("STEPWISE_SECRET_KEY")?;
    }
    Ok(key)
}

fn operator_key() -> String {
    crate::access::new_key("operator", "operator", stepwise_engine::ports::Role::Admin).0
}

fn api_config(args: &ServeArgs) -> anyhow::Result<ApiConfig> {
    let embedded = args.common.database_url.starts_with("sqlite:");
    let operator_key = secret(
        "STEPWISE_OPERATOR_KEY",
        &args.operator_key_file,
        embedded,
        operator_key,
    )?;
    if operator_key.is_none() {
        tracing::warn!("no operator key (STEPWISE_OPERATOR_KEY): POST /v1/tenants is off");
    }
    let secret_key = secret_key(&args.common)?
        .context("set STEPWISE_SECRET_KEY (64 hex characters, e.g. from `openssl rand -hex 32`): provider credentials are sealed with it")?;
    let secret_key = SecretBox::from_hex(&secret_key).context("STEPWISE_SECRET_KEY")?;
    Ok(ApiConfig {
        operator_key,
        secret_key,
        rate_limit: args.rate_limit,
        hook_rate_limit: args.hook_rate_limit,
        catalog: std::sync::Arc::new(
            stepwise_engine::catalog::Catalog::load(args.modules_dir.as_deref())
                .context("the modules and packs (STEPWISE_MODULES_DIR)")?,
        ),
        metrics: None,
    })
}

fn background(
    engine: &Arc<Engine>,
    backend: QueueBackend,
    args: &Args,
    stop: &watch::Receiver<bool>,
    imports: (Arc<dyn AudienceStore>, Arc<dyn CampaignStore>, Arc<Notify>),
) -> tokio::task::JoinHandle<()> {
    // An import stopped with the process resumes from its last batch in another (or the
    // restarted) process once its lease lapses.
    let (audiences, campaigns, queued) = imports;
    tokio::spawn(run_imports(audiences.clone(), engine.store.clone(), queued));
    tokio::spawn(run_campaigns(engine.clone(), audiences, campaigns));
    let reconciler = tokio::spawn(run_reconciler(
        engine.clone(),
        Duration::from_secs(args.reconcile_every),
        stopped(stop.clone()),
    ));
    let timers = tokio::spawn(run_timers(engine.clone(), stopped(stop.clone())));
    let schedules = tokio::spawn(run_schedules(engine.clone(), stopped(stop.clone())));
    let workers = run_workers(
        engine.clone(),
        backend,
        args.concurrency,
        stopped(stop.clone()),
    );
    tokio::spawn(async move {
        if let Err(e) = workers.await {
            tracing::error!(error = %e, "workers stopped");
        }
        let _ = reconciler.await;
        let _ = timers.await;
        let _ = schedules.await;
    })
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let stop = shutdown_signal();
        let mut config = api_config(&args)?;
        config.metrics = Some(crate::server::metrics::install()?);
        let Parts {
            engine,
            store,
            backend,
            connectors,
        } = engine(&args.common, secret_key(&args.common)?.as_deref()).await?;
        crate::server::metrics::sample_queue_depth(store.clone());
        crate::server::metrics::sample_campaigns(store.clone());
        tokio::task::spawn_blocking(stepwise_engine::model::load_phone_metadata).await?;
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        println!("stepwise listening on http://{}", listener.local_addr()?);
        let state = AppState::new(engine.clone(), store.clone(), connectors, config);
        let imports = (
            state.audiences.clone(),
            state.campaigns.clone(),
            state.import_queued.clone(),
        );
        let background = (args.role == "all")
            .then(|| background(&engine, backend, &args.common, &stop, imports));
        axum::serve(listener, app(state))
            .with_graceful_shutdown(stopped(stop))
            .await?;
        if let Some(background) = background {
            background.await?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    common: Args,
    /// Serve Prometheus metrics at http://ADDR/metrics (workers have no API).
    #[arg(long, env = "STEPWISE_METRICS_LISTEN")]
    metrics_listen: Option<String>,
}

/// `/metrics` alone, for a worker process.
async fn serve_metrics(listen: &str, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let handle = crate::server::metrics::install()?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || std::future::ready(handle.render())),
    );
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stopped(stop))
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "metrics endpoint stopped");
        }
    });
    Ok(())
}

pub fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let stop = shutdown_signal();
        let key = secret_key(&args.common)?;
        if key.is_none() {
            tracing::warn!(
                "no STEPWISE_SECRET_KEY: providers needing a credential fail their steps"
            );
        }
        let Parts {
            engine,
            store,
            backend,
            ..
        } = engine(&args.common, key.as_deref()).await?;
        if let Some(listen) = &args.metrics_listen {
            serve_metrics(listen, stop.clone()).await?;
            crate::server::metrics::sample_queue_depth(store.clone());
        }
        println!("stepwise worker started (pid {})", std::process::id());
        let imports: Arc<dyn AudienceStore> = store.clone();
        let campaigns: Arc<dyn CampaignStore> = store;
        let queued = Arc::new(Notify::new());
        background(
            &engine,
            backend,
            &args.common,
            &stop,
            (imports, campaigns, queued),
        )
        .await?;
        Ok(ExitCode::SUCCESS)
    })
}
