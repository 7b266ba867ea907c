//! Routes, one file per resource.

mod audit;
mod contacts;
mod events;
mod flow_tools;
mod flows;
mod health;
mod keys;
mod runs;
mod settings;
mod tenants;

use axum::Router;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(tenants::router())
        .merge(keys::router())
        .merge(settings::router())
        .merge(audit::router())
        .merge(flows::router())
        .merge(flow_tools::router())
        .merge(contacts::router())
        .merge(events::router())
        .merge(runs::router())
}
