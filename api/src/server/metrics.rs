//! Prometheus metrics at `/metrics`: the engine's counters (events ingested, runs started,
//! completed, failed, cancelled), the step duration histogram, the queue depth, HTTP
//! requests by route and status, and each live campaign's counters. No tenant label:
//! tenants are unbounded in number; a live campaign's label is bounded by
//! [`MAX_SAMPLED_CAMPAIGNS`] and leaves the output a minute after the campaign ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;
use stepwise_engine::ports::CampaignStore;
use stepwise_engine::store::SqlStore;

/// The most campaigns whose counters are sampled (running and paused ones, by tenant and id).
pub const MAX_SAMPLED_CAMPAIGNS: u32 = 200;

/// How often live campaigns are sampled; a gauge not set for [`GAUGE_IDLE`] is dropped (an
/// ended campaign's, say).
const CAMPAIGN_EVERY: Duration = Duration::from_secs(15);
const GAUGE_IDLE: Duration = Duration::from_secs(60);

/// Histogram buckets (seconds) for step and request durations.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process-wide recorder; answers the handle that renders `/metrics`.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)?
        .idle_timeout(MetricKindMask::GAUGE, Some(GAUGE_IDLE))
        .install_recorder()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// Samples the queue depth (runs due and not yet advanced) every 5 s.
pub fn sample_queue_depth(store: Arc<SqlStore>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            match store.due_count(jiff::Timestamp::now()).await {
                Ok(depth) => metrics::gauge!("stepwise_queue_depth").set(depth as f64),
                Err(e) => tracing::warn!(error = %e, "queue depth not sampled"),
            }
        }
    });
}

/// Samples the counters of live campaigns every [`CAMPAIGN_EVERY`]:
/// `stepwise_campaign_contacts{campaign, state}` (enrolled, held, suppressed, not_started,
/// waiting) and `stepwise_campaign_messages{campaign, state}` (sent, delivered, failed,
/// replied, opted_out), `campaign` being `<tenant>/<campaign id>`.
pub fn sample_campaigns(store: Arc<SqlStore>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CAMPAIGN_EVERY);
        // A sample of many large campaigns that runs long is followed by a full pause, not
        // by a burst of catch-up samples.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = sample_campaigns_once(&store).await {
                tracing::warn!(error = %e, "campaign counters not sampled");
            }
        }
    });
}

async fn sample_campaigns_once(store: &SqlStore) -> Result<(), stepwise_engine::ports::StoreError> {
    for (tenant_id, id) in store.live_campaigns(MAX_SAMPLED_CAMPAIGNS).await? {
        let campaign = store.campaign(&tenant_id, &id).await?;
        let enrolled = store.campaign_enrolled(&tenant_id, &id).await?;
        let m = store.campaign_messages(&tenant_id, &id).await?;
        let label = format!("{tenant_id}/{id}");
        let c = &campaign.counts;
        for (state, n) in [
            ("enrolled", enrolled),
            ("held", c.held),
            ("suppressed", c.suppressed),
            ("not_started", c.not_started),
            ("waiting", m.waiting),
        ] {
            metrics::gauge!("stepwise_campaign_contacts", "campaign" => label.clone(), "state" => state)
                .set(n as f64);
        }
        for (state, n) in [
            ("sent", m.sent),
            ("delivered", m.delivered),
            ("failed", m.failed),
            ("replied", m.replied),
            ("opted_out", m.opted_out),
        ] {
            metrics::gauge!("stepwise_campaign_messages", "campaign" => label.clone(), "state" => state)
                .set(n as f64);
        }
    }
    Ok(())
}

/// Counts each request and times it, by route template (not the raw path, whose ids
/// would make a series per object).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let began = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("stepwise_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("stepwise_http_request_duration_seconds", "route" => route)
        .record(began.elapsed().as_secs_f64());
    response
}
