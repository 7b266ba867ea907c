//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations (so
//! the routes and the document cannot drift apart), served at `/openapi.json`, with Swagger
//! UI at `/docs` from files vendored into the binary: the page works with no internet.

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::Code;

/// Every error answer: `{"error": {"code", "message", "details"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, documented code, e.g. `invalid_contact` (docs/api.md lists them).
    pub code: Code,
    /// What went wrong, for people.
    pub message: String,
    /// Machine-readable specifics (diagnostics, line and column, the conflicting id), or null.
    pub details: serde_json::Value,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Stepwise API",
        description = "Durable, multi-tenant automation flows. Authenticate with `Authorization: Bearer <API key>`; see docs/api.md."
    ),
    modifiers(&BearerAuth),
    security(("api_key" = [])),
    components(schemas(ErrorBody, ErrorDetail, Code)),
    tags(
        (name = "tenants", description = "The platform operator's routes"),
        (name = "keys", description = "A tenant's API keys"),
        (name = "members", description = "A business's team: its people, their roles and their keys"),
        (name = "settings", description = "Tenant settings and provider credentials"),
        (name = "flows", description = "Flow definitions and their versions"),
        (name = "modules", description = "Modules and packs, and what the tenant installed from them"),
        (name = "contacts", description = "The people a tenant talks to"),
        (name = "conversations", description = "The inbox: a thread per contact and channel, handled by the team"),
        (name = "events", description = "What starts, resumes and cancels runs"),
        (name = "runs", description = "Runs, dead letters and the message outbox"),
        (name = "suppressions", description = "Addresses the tenant must not message"),
        (name = "audit", description = "The audit log of admin actions"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("opaque API key (swk_…)")
                    .build(),
            ),
        );
    }
}

/// The document as served: every operation lists each error status it can answer (with the
/// error body, whose `code` is the closed [`Code`] enum) beside its successes, and the
/// constraints the server enforces on paging parameters. Applied after the routes are merged
/// (a modifier on [`ApiDoc`] would run before they are there).
pub fn finished(api: &utoipa::openapi::OpenApi) -> Value {
    let completed = serde_json::to_value(api)
        .map_err(|e| e.to_string())
        .and_then(complete_document);
    match completed {
        Ok(done) => done,
        Err(e) => {
            tracing::error!(error = %e, "the OpenAPI document could not be completed");
            serde_json::to_value(api).unwrap_or(Value::Null)
        }
    }
}

/// [`finished`] on the document as JSON.
fn complete_document(mut doc: Value) -> Result<Value, String> {
    let paths = doc
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .ok_or("no paths")?;
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if let Some(operation) = operation.as_object_mut() {
                complete(path, method, operation);
            }
        }
    }
    Ok(doc)
}

/// The error statuses `method path` can answer, from what the operation takes: every route
/// but health checks needs a key (401), may be rate limited (429) and reads the database
/// (503); a tenant route may need a higher role (403); parameters and bodies can be malformed
/// (400) or wrong (422; also a NUL in a path or query); a path names an object (404); a write
/// can conflict (409); a body can be too large (413) or of the wrong type (415).
fn error_statuses(path: &str, method: &str, operation: &Map<String, Value>) -> Vec<&'static str> {
    if path == "/healthz" {
        return Vec::new();
    }
    if path == "/readyz" {
        return vec!["503"];
    }
    let params = operation.get("parameters").and_then(Value::as_array);
    let has = |place: &str| {
        params.is_some_and(|ps| {
            ps.iter()
                .any(|p| p.get("in").and_then(Value::as_str) == Some(place))
        })
    };
    let body = operation.contains_key("requestBody");
    let write = method != "get";
    let mut out = vec!["401", "429", "503"];
    if !path.starts_with("/v1/tenants") {
        out.push("403");
    }
    if body || has("query") || has("path") {
        out.extend(["400", "422"]);
    }
    if has("path") {
        out.push("404");
    }
    if write {
        out.push("409");
    }
    if body || method == "post" {
        out.extend(["413", "415"]);
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn complete(path: &str, method: &str, operation: &mut Map<String, Value>) {
    let statuses = error_statuses(path, method, operation);
    if let Some(params) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    {
        for param in params.iter_mut() {
            let (Some(name), Some(schema)) = (
                param.get("name").and_then(Value::as_str).map(str::to_owned),
                param.get_mut("schema").and_then(Value::as_object_mut),
            ) else {
                continue;
            };
            match name.as_str() {
                "limit" => {
                    schema.insert("minimum".into(), json!(1));
                    schema.insert("maximum".into(), json!(200));
                }
                "format" => {
                    schema.insert("enum".into(), json!(["json", "yaml"]));
                }
                "cursor" => {
                    // Cursors are hex, as the API gives them out.
                    schema.insert("pattern".into(), json!("^([0-9a-f]{2})+$"));
                }
                _ => {}
            }
        }
    }
    let responses = operation.entry("responses").or_insert_with(|| json!({}));
    let Some(responses) = responses.as_object_mut() else {
        return;
    };
    for status in statuses {
        responses.entry(status).or_insert_with(|| {
            json!({
                "description": describe(status),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
            })
        });
    }
}

fn describe(status: &str) -> &'static str {
    match status {
        "400" => {
            "Malformed: JSON, query or path (`malformed_json`, `invalid_query`, `invalid_limit`, `invalid_cursor`, `invalid_path`, `invalid_input`)"
        }
        "401" => "No key, an unknown or revoked key, or the wrong kind of key (`unauthorized`)",
        "403" => "The key's role is too low (`forbidden`)",
        "404" => "No such object in this tenant (`not_found`)",
        "409" => "The object's state does not allow this (`conflict` and the specific codes)",
        "413" => "The body is over 2 MiB (`body_too_large`)",
        "415" => "A wrong or missing Content-Type (`unsupported_media_type`)",
        "422" => "Well-formed but wrong: see the code and message",
        "429" => "Over the tenant's rate limit (`rate_limited`, with Retry-After)",
        _ => "The database or queue is unavailable (`unavailable`)",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_operation_lists_its_error_statuses() {
        let (_, api) = super::super::routes::router().split_for_parts();
        let raw = serde_json::to_value(&api).unwrap();
        let done = super::complete_document(raw).unwrap();
        let responses = &done["paths"]["/v1/contacts/{id}"]["get"]["responses"];
        for status in ["200", "400", "401", "403", "404", "422", "429", "503"] {
            assert!(responses.get(status).is_some(), "{status}: {responses}");
        }
        assert!(responses.get("409").is_none(), "a read does not conflict");
        let limit = &done["paths"]["/v1/runs"]["get"]["parameters"];
        assert!(limit.to_string().contains("\"maximum\":200"), "{limit}");
        assert!(limit.to_string().contains("[0-9a-f]"), "{limit}");
        // What is served is the completed document.
        assert_eq!(super::finished(&api)["paths"], done["paths"]);
    }
}
