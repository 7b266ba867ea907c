//! Routes, one file per resource.

mod events;
mod flows;
mod health;
mod runs;
mod tenants;

use axum::Router;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(tenants::router())
        .merge(flows::router())
        .merge(events::router())
        .merge(runs::router())
}
