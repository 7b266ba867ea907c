//! Tracked links in the SQL store: saved when a run renders them, found by their code when
//! someone clicks (the only lookup across tenants: the code is unguessable), and counted.

use jiff::Timestamp;
use sqlx::Row;

use super::{Scope, SqlStore, micros, unavailable};
use crate::model::Run;
use crate::ports::{StoreError, StoredLink, TrackedLink};

/// Clicks on one link closer together than this count once (a double tap, a refresh, someone
/// reloading it to flood the tenant's events).
pub const CLICK_GAP: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// Saves `run`'s links; a code already saved is left as it is.
pub(super) async fn save_links(
    store: &SqlStore,
    tenant_id: &str,
    run: &Run,
    links: &[TrackedLink],
    at: Timestamp,
) -> Result<(), StoreError> {
    let run_id = run.id.to_string();
    for link in links {
        store
            .execute(
                Scope::Tenant(tenant_id),
                sqlx::query(
                    "INSERT INTO links (code, tenant_id, run_id, flow_id, contact_id, url, clicks, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 0, $7) ON CONFLICT (code) DO NOTHING",
                )
                .bind(&link.code)
                .bind(tenant_id)
                .bind(&run_id)
                .bind(&run.flow_id)
                .bind(&run.contact_id)
                .bind(&link.url)
                .bind(micros(at)),
            )
            .await?;
    }
    Ok(())
}

/// The link with this code, whichever tenant made it.
pub(super) async fn link(store: &SqlStore, code: &str) -> Result<Option<StoredLink>, StoreError> {
    let row = store
        .fetch_optional(
            Scope::System,
            sqlx::query(
                "SELECT code, tenant_id, run_id, flow_id, contact_id, url, clicks FROM links WHERE code = $1",
            )
            .bind(code),
        )
        .await?;
    row.map(|row| {
        Ok(StoredLink {
            code: row.try_get("code").map_err(unavailable)?,
            tenant_id: row.try_get("tenant_id").map_err(unavailable)?,
            run_id: row.try_get("run_id").map_err(unavailable)?,
            flow_id: row.try_get("flow_id").map_err(unavailable)?,
            contact_id: row.try_get("contact_id").map_err(unavailable)?,
            url: row.try_get("url").map_err(unavailable)?,
            clicks: u64::try_from(row.try_get::<i64, _>("clicks").map_err(unavailable)?)
                .unwrap_or_default(),
        })
    })
    .transpose()
}

/// Counts a click unless the link's last counted click was less than [`CLICK_GAP`] ago;
/// answers the link's clicks with this one, or `None` when it was not counted (or the link is
/// gone).
pub(super) async fn count_click(
    store: &SqlStore,
    tenant_id: &str,
    code: &str,
    at: Timestamp,
) -> Result<Option<u64>, StoreError> {
    let row = store
        .fetch_optional(
            Scope::Tenant(tenant_id),
            sqlx::query(
                "UPDATE links SET clicks = clicks + 1, clicked_at = $1 \
                 WHERE tenant_id = $2 AND code = $3 AND (clicked_at IS NULL OR clicked_at <= $4) \
                 RETURNING clicks",
            )
            .bind(micros(at))
            .bind(tenant_id)
            .bind(code)
            .bind(micros(at - CLICK_GAP)),
        )
        .await?;
    row.map(|row| {
        row.try_get::<i64, _>("clicks")
            .map(|c| u64::try_from(c).unwrap_or_default())
            .map_err(unavailable)
    })
    .transpose()
}
