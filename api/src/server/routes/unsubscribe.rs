//! One-click unsubscribe (RFC 8058) for marketing email: `POST /unsubscribe/{token}` (what a
//! mail client sends for `List-Unsubscribe-Post: List-Unsubscribe=One-Click`, no cookies, no
//! key) puts the address on the tenant's suppression list at once and answers 200 without a
//! redirect; `GET /unsubscribe/{token}` (the link in the footer) shows a page with one button
//! that posts the same. The token is signed for one tenant and address, so it cannot be made
//! for another; an altered token is 404 and changes nothing.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use stepwise_connectors::links::LinkTarget;
use stepwise_engine::ports::{AuditEntry, Channel, Suppression};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::ApiPath;
use crate::server::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(confirm, unsubscribe))
}

fn target(state: &AppState, token: &str) -> Result<LinkTarget, ApiError> {
    state
        .connectors
        .links()
        .and_then(|signer| signer.open(token))
        .filter(|t| t.channel == "email")
        .ok_or_else(|| ApiError::not_found("this unsubscribe link is not valid"))
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The confirmation page of an unsubscribe link (no key).
#[utoipa::path(get, path = "/unsubscribe/{token}", tag = "unsubscribe", security(()),
    params(("token" = String, Path, description = "The signed token of the link")),
    responses((status = 200, description = "A page with one button that unsubscribes", content_type = "text/html", body = String),
              (status = 404, description = "Not a valid link", body = crate::server::openapi::ErrorBody)))]
async fn confirm(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> Result<Response, ApiError> {
    let target = target(&state, &token)?;
    let business = state.engine.tenant(&target.tenant_id).await?.name;
    Ok(html(
        StatusCode::OK,
        format!(
            "<!doctype html><meta name=viewport content=\"width=device-width\"><title>Unsubscribe</title>\
             <p>Stop marketing email from {} to {}?</p>\
             <form method=post><input type=hidden name=List-Unsubscribe value=One-Click>\
             <button type=submit>Unsubscribe</button></form>",
            escape(&business),
            escape(&target.address)
        ),
    ))
}

/// Unsubscribe the link's address from the business's marketing email (no key, no redirect).
#[utoipa::path(post, path = "/unsubscribe/{token}", tag = "unsubscribe", security(()),
    params(("token" = String, Path, description = "The signed token of the link")),
    request_body(content = String, description = "`List-Unsubscribe=One-Click`", content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Unsubscribed (or already)", content_type = "text/html", body = String),
              (status = 404, description = "Not a valid link", body = crate::server::openapi::ErrorBody)))]
async fn unsubscribe(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> Result<Response, ApiError> {
    let target = target(&state, &token)?;
    let entry = Suppression {
        channel: Channel::Email,
        address: target.address.clone(),
        reason: "unsubscribed (link in an email)".into(),
        contact_id: None,
        created_at: jiff::Timestamp::now(),
    };
    let audit = AuditEntry::now(
        "contact",
        None,
        "suppression.add",
        &format!("suppression:email:{}", target.address),
        json!({ "reason": entry.reason, "by": "one-click unsubscribe" }),
    );
    state
        .suppressions
        .suppress(&target.tenant_id, &entry, &audit)
        .await?;
    tracing::info!(tenant_id = %target.tenant_id, "unsubscribed by link");
    Ok(html(
        StatusCode::OK,
        format!(
            "<!doctype html><title>Unsubscribed</title><p>{} will get no more marketing email.</p>",
            escape(&target.address)
        ),
    ))
}
