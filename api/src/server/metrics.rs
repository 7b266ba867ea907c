//! Prometheus metrics at `/metrics`: the engine's counters (events ingested, runs started,
//! completed, failed, cancelled), the step duration histogram, the queue depth, and HTTP
//! requests by route and status. No tenant label: tenants are unbounded in number.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use stepwise_engine::store::SqlStore;

/// Histogram buckets (seconds) for step and request durations.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process-wide recorder; answers the handle that renders `/metrics`.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)?
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
