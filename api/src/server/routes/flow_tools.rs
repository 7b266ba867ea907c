//! What admins do with a flow besides saving it: `POST /v1/flows/validate` (every
//! diagnostic with line, column and path; nothing is stored), `POST /v1/flows/{id}/simulate`
//! (the CLI's simulator and timeline format, on a virtual clock with sandbox connectors),
//! and `POST /v1/flows/{id}/enroll` (one run per contact, optionally paced).

use crate::server::Code;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use stepwise_connectors::Sandbox;
use stepwise_engine::definition;
use stepwise_engine::error::EngineError;
use stepwise_engine::model::{Contact, Event, FlowDuration};
use stepwise_engine::runtime::{Enrolment, SimulationInput, simulate};

use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::extract::{ApiJson, ApiPath, FlowSource};
use crate::server::{ApiError, AppState, Caller, Editor};

/// Most contacts one enrol request may name.
const MAX_ENROL: usize = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(validate))
        .routes(routes!(simulate_flow))
        .routes(routes!(enroll))
}

/// Check a flow without saving it: 422 `invalid_definition` lists every diagnostic, each
/// with line, column and path.
#[utoipa::path(post, path = "/v1/flows/validate", tag = "flows", request_body(description = "The flow as YAML (application/yaml) or JSON (application/json)", content((String = "application/yaml"), (Object = "application/json"))),
    responses((status = 200, description = "`{valid, id, warnings}`", body = Object)))]
async fn validate(
    State(state): State<AppState>,
    caller: Caller,
    FlowSource { source, config }: FlowSource,
) -> Result<Json<Value>, ApiError> {
    match state.engine.check_flow(caller.tenant(), &source).await {
        Ok((flow, warnings)) => {
            // Config values sent beside the flow are checked as a publish checks them.
            let given = config.as_object().is_some_and(|c| !c.is_empty());
            if let (true, Some(schema)) = (given, &flow.flow.config) {
                definition::config::resolve(schema, &config).map_err(EngineError::InvalidConfig)?;
            }
            Ok(Json(
                json!({ "valid": true, "id": flow.id(), "warnings": warnings }),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SimulateBody {
    /// The triggering event: `{"type": …, "data": {…}}`.
    event: EventSpec,
    /// The contact (default: a sample contact).
    contact: Option<Contact>,
    /// RFC 3339 start (default: now).
    start: Option<Timestamp>,
    /// How far to simulate, e.g. `7d` (default `30d`).
    horizon: Option<String>,
    /// Version to simulate (default: the latest).
    version: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EventSpec {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    data: Map<String, Value>,
}

/// Run a flow on a virtual clock with sandbox connectors; nothing is sent or stored.
#[utoipa::path(post, path = "/v1/flows/{id}/simulate", tag = "flows", params(("id" = String, Path, description = "The flow's id")),
    request_body = SimulateBody,
    responses((status = 200, description = "`{flow, version, timeline}` in the CLI's timeline format", body = Object)))]
async fn simulate_flow(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SimulateBody>,
) -> Result<Json<Value>, ApiError> {
    let tenant = state.engine.tenant(caller.tenant()).await?;
    let summary = state.listings.flow(caller.tenant(), &id).await?;
    let version = body.version.unwrap_or(summary.latest_version);
    let doc = state
        .engine
        .store
        .flow_version(caller.tenant(), &id, version)
        .await?;
    let horizon: FlowDuration = body
        .horizon
        .as_deref()
        .unwrap_or("30d")
        .parse()
        .map_err(|e| ApiError::invalid(Code::InvalidBody, format!("horizon: {e}")))?;
    let seconds = horizon.approx_seconds();
    if !(1..=366 * 86_400).contains(&seconds) {
        return Err(ApiError::invalid(
            Code::InvalidBody,
            "horizon: between 1s and 366d",
        ));
    }
    let mut event = Event::new(body.event.event_type, Value::Object(body.event.data));
    event.source = "simulator".into();
    let mut contact = body.contact.unwrap_or_else(|| Contact {
        id: "contact-1".into(),
        phone: Some("+15125550100".into()),
        first_name: Some("Ana".into()),
        ..Contact::default()
    });
    if contact.id.is_empty() {
        contact.id = "contact-1".into();
    }
    let start = body.start.unwrap_or_else(|| {
        Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap_or(Timestamp::now())
    });
    let input = SimulationInput {
        source: doc.source,
        event,
        contact,
        tenant,
        config: doc.config,
        templates: doc.templates,
        start,
        injections: Vec::new(),
        horizon: SignedDuration::from_secs(seconds),
    };
    let simulation = simulate(input, Arc::new(Sandbox::new())).await?;
    let timeline: Vec<Value> = simulation
        .entries
        .iter()
        .map(|e| {
            let mut entry = e.to_json(simulation.start, &simulation.zone);
            // The simulator publishes the source afresh (as its version 1); name the stored
            // version that was simulated.
            if entry["kind"] == "started" {
                entry["version"] = Value::from(version);
            }
            entry
        })
        .collect();
    Ok(Json(
        json!({ "flow": id, "version": version, "timeline": timeline }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EnrolBody {
    #[schema(min_items = 1, max_items = 1000)]
    contact_ids: Vec<String>,
    /// Starts per second (default: all at once). Later runs sleep in the database until
    /// their turn, so a paced enrolment survives restarts.
    per_second: Option<f64>,
    /// Names the enrolment: the same id again starts nothing twice (default: a new id).
    enrolment_id: Option<String>,
}

/// Start one run per contact, all at once or `per_second` (editor).
#[utoipa::path(post, path = "/v1/flows/{id}/enroll", tag = "flows", params(("id" = String, Path, description = "The flow's id")),
    request_body = EnrolBody,
    responses((status = 202, description = "`{enrolment_id, results}`", body = Object)))]
async fn enroll(
    State(state): State<AppState>,
    Editor(caller): Editor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<EnrolBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if body.contact_ids.is_empty() || body.contact_ids.len() > MAX_ENROL {
        return Err(ApiError::invalid(
            Code::InvalidBody,
            format!("contact_ids: name 1 to {MAX_ENROL} contacts"),
        ));
    }
    let per_second = match body.per_second {
        Some(r) if r.is_finite() && r > 0.0 && r <= 10_000.0 => Some(r),
        Some(_) => {
            return Err(ApiError::invalid(
                Code::InvalidBody,
                "per_second: between 0 and 10000",
            ));
        }
        None => None,
    };
    if !state.listings.flow(caller.tenant(), &id).await?.enabled {
        return Err(EngineError::WrongState(format!(
            "flow {id} is disabled (or archived): enable it before enrolling"
        ))
        .into());
    }
    // Every contact must exist before any run starts: a typo changes nothing.
    for contact_id in &body.contact_ids {
        state
            .engine
            .store
            .contact(caller.tenant(), contact_id)
            .await
            .map_err(|_| {
                ApiError::invalid(
                    Code::UnknownContact,
                    format!("contact {contact_id} does not exist"),
                )
            })?;
    }
    let enrolment = body
        .enrolment_id
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    // The request is audited before its first run starts, so no run exists without its
    // entry; a request cut off part-way is finished by sending it again with its id.
    let audit = caller.audit_entry(
        "flow.enroll",
        &format!("flow:{id}"),
        json!({ "enrolment_id": enrolment, "contacts": body.contact_ids.len() }),
    );
    state.access.append_audit(caller.tenant(), &audit).await?;
    let now = Timestamp::now();
    let mut results = Vec::with_capacity(body.contact_ids.len());
    for (i, contact_id) in body.contact_ids.iter().enumerate() {
        let not_before = per_second.map(|r| {
            let offset = SignedDuration::from_secs_f64(i as f64 / r);
            now.checked_add(offset).unwrap_or(now)
        });
        let result = state
            .engine
            .enroll(caller.tenant(), &id, contact_id, &enrolment, not_before)
            .await?;
        let mut entry = serde_json::to_value(&result).unwrap_or(Value::Null);
        entry["contact_id"] = Value::String(contact_id.clone());
        if let (Some(at), Enrolment::Started { .. }) = (not_before, &result) {
            entry["starts_at"] = Value::String(at.to_string());
        }
        results.push(entry);
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "enrolment_id": enrolment, "results": results })),
    ))
}
