//! The seam to what a tenant used: messages sent by day (of the business's zone) and channel,
//! language-model tokens by day, contacts and active runs now, and the notices of its plan's levels (see [`crate::usage`]).
//!
//! Contract: every method takes the tenant and touches only its rows; a notice is recorded
//! once per tenant, period, metric and level, whichever process claims it first.

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::{AuditEntry, Channel, StoreError};
use crate::usage::Notice;

/// Messages sent on one day (of the zone asked for) on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    pub day: Date,
    pub channel: Channel,
    pub messages: u64,
    /// SMS segments (an email counts one).
    pub segments: u64,
}

#[async_trait]
pub trait UsageStore: Send + Sync + std::fmt::Debug {
    /// Messages sent since `since`, by day in `zone` and channel, oldest day first.
    async fn messages_by_day(
        &self,
        tenant_id: &str,
        since: Timestamp,
        zone: &TimeZone,
    ) -> Result<Vec<DayCount>, StoreError>;
    /// Language-model tokens its runs' model calls used since `since`, by day in `zone`,
    /// oldest first.
    async fn ai_tokens_by_day(
        &self,
        tenant_id: &str,
        since: Timestamp,
        zone: &TimeZone,
    ) -> Result<Vec<(Date, u64)>, StoreError>;
    /// Contacts kept and runs not yet ended, now.
    async fn contacts_and_active_runs(&self, tenant_id: &str) -> Result<(u64, u64), StoreError>;
    /// Records `notice` with `audit` unless it was recorded before; `true` when this call did.
    async fn claim_notice(
        &self,
        tenant_id: &str,
        notice: &Notice,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// The notices recorded for a period (`2026-12`).
    async fn notices(&self, tenant_id: &str, period: &str) -> Result<Vec<Notice>, StoreError>;
}
