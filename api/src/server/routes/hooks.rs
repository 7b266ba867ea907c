//! Webhooks in: `POST /hooks/{hook_token}/{source}`. The token names the tenant (unguessable,
//! shown in settings, rotatable); the source (`twilio`, …) verifies its provider's signature
//! over the raw body with the tenant's credential and reads the request into facts, which the
//! engine's inbound service acts on. A request refused (unknown token or source, bad or
//! missing signature, a body that cannot be read) stores nothing and is logged without the
//! token, the signature or the body.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use stepwise_core::{HookError, HookReply, HookRequest, ProviderSetting, WebhookSource};
use stepwise_engine::inbound::Received;
use stepwise_engine::model::Tenant;
use stepwise_engine::ports::{EdgeStore, VaultError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::is_hook_token;
use crate::server::extract::ApiPath;
use crate::server::{ApiError, AppState, Code};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive, preflight))
}

/// The tenant's setting for a source: the provider of that name, else `sources.<name>`.
fn setting_of(tenant: &Tenant, source: &str) -> Option<ProviderSetting> {
    tenant
        .providers
        .values()
        .find(|p| p.provider == source)
        .cloned()
        .or_else(|| {
            tenant.sources.get(source).map(|options| ProviderSetting {
                provider: source.to_owned(),
                options: options.clone(),
            })
        })
}

/// `Access-Control-Allow-Origin` for a browser's request from an origin the tenant listed.
fn allow_origin(response: &mut Response, origin: Option<&str>, allowed: &[String]) {
    if let Some(origin) = origin.filter(|o| allowed.iter().any(|a| a == o))
        && let Ok(value) = origin.parse()
    {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(header::VARY, header::HeaderValue::from_static("Origin"));
    }
}

/// The tenant a token names and the source, or 404.
async fn resolve(
    state: &AppState,
    token: &str,
    source: &str,
) -> Result<(Tenant, Arc<dyn WebhookSource>), ApiError> {
    let unknown = || ApiError::not_found("no such webhook (check the URL in settings → hooks)");
    if !is_hook_token(token) {
        return Err(unknown());
    }
    let (Some(tenant_id), Some(hooks)) = (
        EdgeStore::tenant_by_hook_token(state.edge.as_ref(), token).await?,
        state.connectors.source(source).cloned(),
    ) else {
        return Err(unknown());
    };
    Ok((state.engine.tenant(&tenant_id).await?, hooks))
}

/// A browser's CORS preflight for a source that takes posts from web pages (no key).
#[utoipa::path(options, path = "/hooks/{hook_token}/{source}", tag = "hooks", security(()),
    params(("hook_token" = String, Path, description = "The tenant's webhook token", pattern = "^[0-9a-f]{64}$"),
           ("source" = String, Path, description = "The source: form")),
    responses((status = 204, description = "The CORS answer: the origin is allowed when the tenant listed it"),
              (status = 404, description = "Unknown token or source", body = crate::server::openapi::ErrorBody)))]
async fn preflight(
    State(state): State<AppState>,
    ApiPath((token, source)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (tenant, hooks) = resolve(&state, &token, &source).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let allowed = hooks.allowed_origins(setting_of(&tenant, &source).as_ref());
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    allow_origin(&mut response, origin, &allowed);
    if response
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    {
        let h = response.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            header::HeaderValue::from_static("POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            header::HeaderValue::from_static("content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            header::HeaderValue::from_static("600"),
        );
    }
    Ok(response)
}

fn refused(e: &HookError) -> ApiError {
    match e {
        HookError::BadSignature | HookError::Stale(_) => {
            ApiError::new(StatusCode::UNAUTHORIZED, Code::BadSignature, e.to_string())
        }
        HookError::Malformed(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, Code::InvalidInput, e.to_string())
        }
        HookError::NotConfigured(_) => ApiError::not_found(e.to_string()),
        HookError::Unsupported(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::UnsupportedMediaType,
            e.to_string(),
        ),
    }
}

fn answer(reply: HookReply) -> Response {
    match reply {
        HookReply::Empty => StatusCode::NO_CONTENT.into_response(),
        HookReply::Body { content_type, body } => {
            (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        HookReply::Redirect(to) => {
            (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
        }
    }
}

/// The URL the provider called, as it signed it: the operator's public base URL (else this
/// request's Host) with the path and query.
fn called_url(state: &AppState, headers: &HeaderMap, uri: &Uri) -> String {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    match state.connectors.public_url() {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}{path}")
        }
    }
}

/// Receive a provider's webhook (no key: the provider's signature is checked).
#[utoipa::path(post, path = "/hooks/{hook_token}/{source}", tag = "hooks", security(()),
    params(("hook_token" = String, Path, description = "The tenant's webhook token (settings → hooks)", pattern = "^[0-9a-f]{64}$"),
           ("source" = String, Path, description = "The source: twilio, calcom, stripe, form or bounce")),
    request_body(content = String, description = "The provider's request, as it sends it", content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Accepted; the provider's expected answer (TwiML for Twilio)", body = String),
              (status = 204, description = "Accepted (a delivery report, a bounce report)"),
              (status = 400, description = "The body cannot be read", body = crate::server::openapi::ErrorBody),
              (status = 401, description = "`bad_signature`", body = crate::server::openapi::ErrorBody),
              (status = 404, description = "Unknown token or source, or the source is not set up", body = crate::server::openapi::ErrorBody),
              (status = 415, description = "A content type the source does not take", body = crate::server::openapi::ErrorBody),
              (status = 429, description = "`rate_limited`: over the tenant's webhook rate (STEPWISE_HOOK_RATE_LIMIT), with Retry-After", body = crate::server::openapi::ErrorBody),
              (status = 503, description = "`unavailable`", body = crate::server::openapi::ErrorBody)))]
async fn receive(
    State(state): State<AppState>,
    ApiPath((token, source)): ApiPath<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (tenant, hooks) = resolve(&state, &token, &source).await?;
    let tenant_id = tenant.id.clone();
    state.auth.check_hook_rate(&tenant_id)?;
    let setting = setting_of(&tenant, &source);
    let setting = setting.as_ref();
    let secret = match hooks.signing_credential(setting) {
        None => None,
        Some(name) => match state.connectors.vault().open(&tenant_id, &name).await {
            Ok(secret) => Some(secret),
            Err(VaultError::Missing { .. }) => None,
            Err(e @ VaultError::Unavailable { .. }) => {
                tracing::error!(tenant_id = %tenant_id, source = %source, error = %e, "webhook: cannot open the signing credential");
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Code::Unavailable,
                    "try again later",
                ));
            }
        },
    };
    let lowered: BTreeMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let url = called_url(&state, &headers, &uri);
    let request = HookRequest {
        method: method.as_str(),
        url: &url,
        headers: &lowered,
        body: &body,
        now: jiff::Timestamp::now().as_second(),
    };
    let verdict = hooks.receive(&request, setting, secret.as_ref()).map_err(|e| {
        tracing::warn!(tenant_id = %tenant_id, source = %source, reason = %e, "webhook refused");
        refused(&e)
    })?;
    let Received {
        events,
        statuses,
        bounces,
        reply,
    } = state
        .inbound
        .receive(&tenant_id, &source, verdict.facts)
        .await?;
    tracing::info!(
        tenant_id = %tenant_id, source = %source, events = events.len(), statuses,
        bounces, duplicate = events.iter().all(|e| e.duplicate) && !events.is_empty(), "webhook received"
    );
    let reply = reply
        .and_then(|text| hooks.reply_with(&text))
        .unwrap_or(verdict.reply);
    let mut response = answer(reply);
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    allow_origin(&mut response, origin, &hooks.allowed_origins(setting));
    Ok(response)
}
