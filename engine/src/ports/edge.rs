//! The seam for what providers tell us: which tenant a webhook token names, delivery reports
//! for messages we sent, and a person's own opt-in lifting their opt-out.
//!
//! Contract: `tenant_by_hook_token` is the only lookup across tenants, by an unguessable
//! token; every other method takes the tenant and touches only its rows. A delivery report
//! only moves a message forward ([`DeliveryStatus::rank`]), whatever order reports arrive
//! in, and may arrive before the message itself is stored.

use async_trait::async_trait;
use jiff::Timestamp;
use stepwise_core::{Bounce, DeliveryStatus};

use super::{AuditEntry, Channel, StoreError};

/// A tracked link as stored: who it was made for and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLink {
    pub code: String,
    pub tenant_id: String,
    pub run_id: String,
    pub flow_id: String,
    pub contact_id: String,
    pub url: String,
    pub clicks: u64,
}

/// A provider's report on a message it accepted from us.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub provider_id: String,
    pub status: DeliveryStatus,
    pub error_code: Option<String>,
    pub at: Timestamp,
}

#[async_trait]
pub trait EdgeStore: Send + Sync + std::fmt::Debug {
    /// The tenant whose webhook token this is.
    async fn tenant_by_hook_token(&self, token: &str) -> Result<Option<String>, StoreError>;
    /// The tracked link with this code, whichever tenant made it (the code is unguessable).
    async fn link(&self, code: &str) -> Result<Option<StoredLink>, StoreError>;
    /// Counts a click on the tenant's link unless its last counted click was less than a
    /// minute ago; answers its clicks so far, `None` when not counted or the link is gone.
    async fn count_click(
        &self,
        tenant_id: &str,
        code: &str,
        at: Timestamp,
    ) -> Result<Option<u64>, StoreError>;
    /// Records a report; answers whether it moved the message forward.
    async fn record_delivery(&self, tenant_id: &str, report: &Delivery)
    -> Result<bool, StoreError>;
    /// An email the tenant sent came back (a bounce report): when the tenant sent an email
    /// with that id to that very recipient, the message becomes `undelivered` with the
    /// report's status code and, when `suppress` carries its audit entry, the address goes on
    /// the suppression list (reason `bounce <status>`), in one commit. Answers the contact
    /// the email went to when the report named such an email; when it did not, nothing is
    /// written.
    async fn record_bounce(
        &self,
        tenant_id: &str,
        bounce: &Bounce,
        suppress: Option<&AuditEntry>,
        at: Timestamp,
    ) -> Result<Option<String>, StoreError>;
    /// The latest report for each of these provider ids.
    async fn deliveries(
        &self,
        tenant_id: &str,
        provider_ids: &[String],
    ) -> Result<Vec<(String, DeliveryStatus, Option<String>)>, StoreError>;
    /// Takes `address` off the suppression list and clears the opt-out of the contacts that
    /// have it, with the audit entry, in one commit: the person asked for messages again
    /// (START). Answers whether it was on the list; when it was not, nothing is written.
    async fn lift_suppression(
        &self,
        tenant_id: &str,
        channel: Channel,
        address: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
}
