//! Routes, one file per resource.

mod audit;
mod campaigns;
mod contacts;
mod conversation_replies;
pub mod conversation_stream;
mod conversations;
mod events;
mod flow_tools;
mod flows;
mod health;
pub mod hooks;
mod import_reports;
mod imports;
mod installations;
mod keys;
mod kpis;
mod links;
mod members;
mod modules;
mod personal_data;
mod runs;
pub mod segments;
mod settings;
mod snippets;
mod suppressions;
mod templates;
mod tenants;
mod unsubscribe;
mod usage;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use super::AppState;
use super::openapi::ApiDoc;

/// Every route, with the OpenAPI document their annotations make.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(tenants::router())
        .merge(keys::router())
        .merge(members::router())
        .merge(settings::router())
        .merge(audit::router())
        .merge(flows::router())
        .merge(flow_tools::router())
        .merge(modules::router())
        .merge(installations::router())
        .merge(kpis::router())
        .merge(imports::router())
        .merge(import_reports::router())
        .merge(segments::router())
        .merge(campaigns::router())
        .merge(contacts::router())
        .merge(conversations::router())
        .merge(conversation_replies::router())
        .merge(conversation_stream::router())
        .merge(templates::router())
        .merge(usage::router())
        .merge(personal_data::router())
        .merge(events::router())
        .merge(runs::router())
        .merge(suppressions::router())
        .merge(hooks::router())
        .merge(unsubscribe::router())
        .merge(links::router())
}
