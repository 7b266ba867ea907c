//! `GET /v1/metrics`: the KPIs each installed module declares, computed over the tenant's
//! runs of the module started in a period (`from`, `to`; default the last 30 days), each
//! with its definition and what it is made of (docs/kpis.md).

use axum::Json;
use axum::extract::State;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use stepwise_engine::kpi::{self, Measured};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::ApiQuery;
use crate::server::{ApiError, AppState, Caller, Code};

/// The longest period one request may ask for.
const LONGEST: SignedDuration = SignedDuration::from_hours(24 * 400);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct MetricsQuery {
    /// One installed module (default: every installed module).
    module: Option<String>,
    /// The period's start, RFC 3339 (default: 30 days before `to`).
    from: Option<Timestamp>,
    /// The period's end, exclusive, RFC 3339 (default: now).
    to: Option<Timestamp>,
}

/// One module's KPIs.
#[derive(Debug, Serialize, ToSchema)]
struct ModuleKpis {
    module: String,
    kpis: Vec<Measured>,
}

/// The answer.
#[derive(Debug, Serialize, ToSchema)]
struct MetricsAnswer {
    from: Timestamp,
    to: Timestamp,
    data: Vec<ModuleKpis>,
}

/// The KPIs of the tenant's installed modules over a period (at most 400 days).
#[utoipa::path(get, path = "/v1/metrics", tag = "modules", params(MetricsQuery),
    responses((status = 200, body = MetricsAnswer),
              (status = 404, description = "`not_found`: the module named is not installed", body = crate::server::openapi::ErrorBody)))]
async fn metrics(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<MetricsQuery>,
) -> Result<Json<MetricsAnswer>, ApiError> {
    let to = q.to.unwrap_or_else(Timestamp::now);
    let from = q
        .from
        .unwrap_or_else(|| to - SignedDuration::from_hours(24 * 30));
    if from >= to || to.duration_since(from) > LONGEST {
        return Err(
            ApiError::bad_request("`from` must come before `to`, at most 400 days apart")
                .with_code(Code::InvalidQuery),
        );
    }
    let tenant = caller.tenant();
    let installations = match &q.module {
        Some(module) => vec![state.installer.get(tenant, module).await?],
        None => state.installer.installations(tenant).await?,
    };
    let mut data = Vec::new();
    for installation in installations {
        let declared = state
            .installer
            .catalog
            .module(&installation.module)
            .map(|m| m.module.kpis.clone())
            .unwrap_or_default();
        let mut kpis = Vec::new();
        for name in declared {
            let Some(kpi) = kpi::kpi(&name) else { continue };
            let measured = kpi
                .measure(
                    state.kpi_store.as_ref(),
                    tenant,
                    &installation.module,
                    from,
                    to,
                )
                .await
                .map_err(stepwise_engine::error::EngineError::from)?;
            kpis.push(measured);
        }
        data.push(ModuleKpis {
            module: installation.module,
            kpis,
        });
    }
    Ok(Json(MetricsAnswer { from, to, data }))
}
