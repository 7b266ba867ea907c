//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations (so
//! the routes and the document cannot drift apart), served at `/openapi.json`, with Swagger
//! UI at `/docs` from files vendored into the binary: the page works with no internet.

use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error answer: `{"error": {"code", "message", "details"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, documented code, e.g. `invalid_contact` (docs/api.md lists them).
    pub code: String,
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
    modifiers(&BearerAuth, &ErrorResponses),
    security(("api_key" = [])),
    components(schemas(ErrorBody, ErrorDetail)),
    tags(
        (name = "tenants", description = "The platform operator's routes"),
        (name = "keys", description = "A tenant's API keys"),
        (name = "settings", description = "Tenant settings and provider credentials"),
        (name = "flows", description = "Flow definitions and their versions"),
        (name = "contacts", description = "The people a tenant talks to"),
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

/// Adds the error answers every operation can give (4XX and 5XX with the error body) to
/// each operation, beside its documented successes.
struct ErrorResponses;

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "ErrorBody",
                    ))))
                    .build(),
            )
            .build(),
    )
}

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations: [&mut Option<Operation>; 5] = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                responses
                    .entry("4XX".into())
                    .or_insert_with(|| error_response("The request was refused; see the code"));
                responses
                    .entry("5XX".into())
                    .or_insert_with(|| error_response("The service is unavailable"));
            }
        }
    }
}
