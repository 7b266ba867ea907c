//! The outbox in the SQL store: a row per send, written with the run's history in one
//! transaction (see [`super::group_commit`]) with its conversation's touch, listed per run.

use sqlx::Row;

use super::runs::RecordRow;
use super::{Scope, SqlStore, Tx, micros, time_column, unavailable};
use crate::model::RunId;
use crate::ports::{Channel, Direction, Message, StoreError};

/// Adds a message for every send among `records`. A send recorded again (it cannot be: its
/// record commits once) would keep the first row.
pub(super) async fn insert_sent(tx: &mut Tx, records: &[RecordRow<'_>]) -> Result<(), StoreError> {
    for (tenant_id, run, _, record) in records {
        let Some(message) = Message::from_record(run.id, record) else {
            continue;
        };
        // What a plan counts (an email, or an SMS of unknown length, is one).
        let segments = match &record.what {
            crate::runtime::Happening::Sent {
                segments: Some(n), ..
            } => i64::try_from(*n).unwrap_or(1).max(1),
            _ => 1,
        };
        let inserted = sqlx::query(
            "INSERT INTO messages (tenant_id, id, run_id, step, channel, to_address, body, \
             provider_id, status, created_at, updated_at, segments) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) ON CONFLICT (tenant_id, id) DO NOTHING",
        )
        .bind(*tenant_id)
        .bind(&message.id)
        .bind(message.run_id.to_string())
        .bind(&message.step)
        .bind(&message.channel)
        .bind(&message.to)
        .bind(&message.text)
        .bind(message.provider_id.clone())
        .bind(&message.status)
        .bind(micros(message.at))
        .bind(segments)
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        if inserted == 1
            && let Some(channel) = Channel::parse(&message.channel)
        {
            // A text from a chosen number (a pool's): the contact's replies and the staff's
            // answers continue from it.
            let sender = match &record.what {
                crate::runtime::Happening::Sent { from, .. } => from.as_deref(),
                _ => None,
            };
            let touched = super::conversations::Touch {
                contact_id: &run.contact_id,
                channel,
                at: message.at,
                direction: Direction::Outbound,
                takeover: false,
                sender,
                text: &message.text,
            };
            super::conversations::touch(tx, tenant_id, touched).await?;
        }
    }
    Ok(())
}

pub(super) async fn messages(
    store: &SqlStore,
    tenant_id: &str,
    run_id: RunId,
) -> Result<Vec<Message>, StoreError> {
    super::runs::run(store, tenant_id, run_id).await?; // NotFound for another tenant's run
    let rows = store
        .fetch_all(
            Scope::Tenant(tenant_id),
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, step, channel, to_address, body, provider_id, {}, created_at \
                 FROM messages WHERE tenant_id = $1 AND run_id = $2 ORDER BY created_at, id",
                super::listing::DELIVERY_COLUMNS
            )))
            .bind(tenant_id)
            .bind(run_id.to_string()),
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Message {
                id: row.try_get("id").map_err(unavailable)?,
                run_id,
                step: row.try_get("step").map_err(unavailable)?,
                channel: row.try_get("channel").map_err(unavailable)?,
                to: row.try_get("to_address").map_err(unavailable)?,
                text: row.try_get("body").map_err(unavailable)?,
                provider_id: row.try_get("provider_id").map_err(unavailable)?,
                status: row.try_get("status").map_err(unavailable)?,
                error_code: row.try_get("error_code").map_err(unavailable)?,
                at: time_column(row, "created_at")?,
            })
        })
        .collect()
}
