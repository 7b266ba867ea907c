//! The REST API (`/v1`): tenants and keys, settings, flows, contacts, events, runs, the
//! outbox, the suppression list and the audit log, plus `/healthz` and `/readyz`. Every route but the health
//! checks needs a key; see `docs/api.md` for the role each route needs.

mod auth;
mod code;
mod error;
mod extract;
pub mod metrics;
mod openapi;
mod page;
mod routes;

use std::num::NonZeroU32;
use std::sync::Arc;

use stepwise_connectors::Connectors;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use stepwise_engine::catalog::Catalog;
use stepwise_engine::inbound::Inbound;
use stepwise_engine::install::Installer;
use stepwise_engine::ports::{
    AccessStore, AudienceStore, CampaignStore, EdgeStore, Listings, MetricsStore, Suppressions,
};
use stepwise_engine::runtime::Engine;
use stepwise_engine::secrets::SecretBox;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

pub use auth::{Admin, Agent, Authenticator, Caller, Editor, Operator};
pub use error::{ApiError, Code};

/// Largest request body: a batch of 1,000 events fits.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    /// Acts on what verified webhooks tell us.
    pub inbound: Inbound,
    /// Installs modules and packs.
    pub installer: Installer,
    pub edge: Arc<dyn EdgeStore>,
    pub access: Arc<dyn AccessStore>,
    /// The team members.
    pub members: Arc<dyn stepwise_engine::ports::MemberStore>,
    /// The inbox.
    pub conversations: Arc<dyn stepwise_engine::ports::ConversationStore>,
    /// The template library.
    pub templates: Arc<dyn stepwise_engine::ports::TemplateStore>,
    /// The inbox streams open, per tenant.
    pub inbox_streams: Arc<routes::conversation_stream::StreamSlots>,
    pub listings: Arc<dyn Listings>,
    /// What module KPIs are computed from.
    pub kpi_store: Arc<dyn MetricsStore>,
    pub suppressions: Arc<dyn Suppressions>,
    /// Imports and segments.
    pub audiences: Arc<dyn AudienceStore>,
    pub campaigns: Arc<dyn CampaignStore>,
    /// Segment counts, one at a time per tenant.
    pub segment_counts: Arc<stepwise_engine::audience::members::Counting>,
    /// Campaign counters, one count at a time per tenant, shared by those who ask together.
    pub campaign_counts: Arc<stepwise_engine::audience::campaign::CampaignCounting>,
    /// Wakes this process's import worker when an upload is queued.
    pub import_queued: Arc<tokio::sync::Notify>,
    /// Seals provider credentials.
    pub secrets: SecretBox,
    /// The providers and webhook sources (settings checks, `/hooks`).
    pub connectors: Arc<Connectors>,
    pub auth: Arc<Authenticator>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

/// How the API is set up, beyond its stores.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The platform operator's key (tenant creation); `None` turns the operator routes off.
    pub operator_key: Option<String>,
    pub secret_key: SecretBox,
    /// Requests per second per tenant (bursts of twice that).
    pub rate_limit: NonZeroU32,
    /// Webhooks per second per tenant (bursts of twice that).
    pub hook_rate_limit: NonZeroU32,
    /// The modules and packs tenants may install.
    pub catalog: Arc<Catalog>,
    /// Renders `/metrics`; `None` leaves the route out.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl AppState {
    pub fn new<S>(
        engine: Arc<Engine>,
        store: Arc<S>,
        connectors: Arc<Connectors>,
        config: ApiConfig,
    ) -> Self
    where
        S: AccessStore
            + Listings
            + Suppressions
            + EdgeStore
            + MetricsStore
            + AudienceStore
            + CampaignStore
            + stepwise_engine::ports::MemberStore
            + stepwise_engine::ports::ConversationStore
            + stepwise_engine::ports::TemplateStore
            + 'static,
    {
        let auth = Arc::new(Authenticator::new(
            config.operator_key.as_deref(),
            config.rate_limit,
            config.hook_rate_limit,
        ));
        auth::spawn_upkeep(auth.clone());
        routes::conversation_stream::spawn_prune(store.clone());
        let inbound = Inbound {
            engine: engine.clone(),
            edge: store.clone(),
            listings: store.clone(),
        };
        let installer = Installer {
            engine: engine.clone(),
            listings: store.clone(),
            catalog: config.catalog,
        };
        Self {
            engine,
            inbound,
            installer,
            edge: store.clone(),
            access: store.clone(),
            members: store.clone(),
            conversations: store.clone(),
            inbox_streams: Arc::default(),
            templates: store.clone(),
            listings: store.clone(),
            kpi_store: store.clone(),
            audiences: store.clone(),
            campaigns: store.clone(),
            segment_counts: Arc::default(),
            campaign_counts: Arc::default(),
            import_queued: Arc::new(tokio::sync::Notify::new()),
            suppressions: store,
            secrets: config.secret_key,
            connectors,
            auth,
            metrics: config.metrics,
        }
    }
}

/// The router of the whole API, with request ids (`x-request-id`, made if absent, echoed
/// in the answer and carried by the request's log span) and the body limit.
pub fn app(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<_>| {
            let id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            // At error level so that it is on at the default log level: every error logged while
            // handling a request carries its request id and tenant.
            let route = request
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map_or("", axum::extract::MatchedPath::as_str);
            tracing::error_span!(
                "request",
                method = %request.method(),
                route,
                path = %request.uri().path(),
                request_id = id,
                tenant_id = tracing::field::Empty,
            )
        })
        // One line per request at `info`: the span's method, route, request id and tenant, with
        // the status and latency.
        .on_request(())
        .on_response(
            tower_http::trace::DefaultOnResponse::new()
                .level(tracing::Level::INFO)
                .latency_unit(tower_http::LatencyUnit::Micros),
        );
    let prometheus = state.metrics.clone();
    let (mut router, api) = routes::router().with_state(state).split_for_parts();
    let document = openapi::finished(&api);
    if let Some(handle) = prometheus {
        router = router.route(
            "/metrics",
            axum::routing::get(move || std::future::ready(handle.render())),
        );
    }
    router = router.route(
        "/openapi.json",
        axum::routing::get(move || std::future::ready(axum::Json(document.clone()))),
    );
    let docs = SwaggerUi::new("/docs")
        .config(utoipa_swagger_ui::Config::from("/openapi.json").validator_url("none"));
    router
        .merge(docs)
        .fallback(|| async { ApiError::not_found("no such route (see /openapi.json)") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                Code::MethodNotAllowed,
                "this route does not take this method (see /openapi.json)",
            )
        })
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(trace)
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}
