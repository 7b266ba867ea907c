//! The seam the admin API reads through: pages of flows, runs, messages and contacts with
//! filters, and the few admin writes that are not run transitions (archive a flow, delete a
//! contact), each stored with its audit entry in one transaction.
//!
//! Contract: every method takes the tenant and sees only its rows. Pages are ordered by a
//! key that never ties (a time and an id); a page starts strictly after the cursor it is given.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;

use super::{AuditEntry, Message, StoreError};
use crate::model::{Contact, Run, RunId, RunStatus};

/// A flow as listed: its state, not its definition.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowSummary {
    pub id: String,
    pub enabled: bool,
    pub archived: bool,
    pub latest_version: u32,
    pub updated_at: Timestamp,
}

/// One saved version of a flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowVersionInfo {
    pub version: u32,
    pub created_at: Timestamp,
}

/// Where a newest-first page of runs or messages resumes: after this time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeCursor {
    pub at: Timestamp,
    pub id: String,
}

/// Which runs to list; every field narrows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    pub flow_id: Option<String>,
    pub status: Option<RunStatus>,
    pub contact_id: Option<String>,
    /// Started at or after.
    pub since: Option<Timestamp>,
    /// Started before.
    pub until: Option<Timestamp>,
}

/// Which messages to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageFilter {
    pub run_id: Option<RunId>,
    pub status: Option<String>,
    pub channel: Option<String>,
}

/// Which contacts to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactFilter {
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[async_trait]
pub trait Listings: Send + Sync + std::fmt::Debug {
    /// A page of flows in id order after `after`; archived ones only when asked.
    async fn flows(
        &self,
        tenant_id: &str,
        archived: bool,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<FlowSummary>, StoreError>;
    async fn flow(&self, tenant_id: &str, flow_id: &str) -> Result<FlowSummary, StoreError>;
    /// A page of a flow's versions, newest first, before version `before`.
    async fn flow_versions(
        &self,
        tenant_id: &str,
        flow_id: &str,
        before: Option<u32>,
        limit: u32,
    ) -> Result<Vec<FlowVersionInfo>, StoreError>;
    /// Archives a flow: disabled and left out of lists; its running runs go on.
    async fn archive_flow(
        &self,
        tenant_id: &str,
        flow_id: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// A page of runs, newest first.
    async fn list_runs(
        &self,
        tenant_id: &str,
        filter: &RunFilter,
        after: Option<&TimeCursor>,
        limit: u32,
    ) -> Result<Vec<Run>, StoreError>;
    /// A page of the outbox, newest first.
    async fn list_messages(
        &self,
        tenant_id: &str,
        filter: &MessageFilter,
        after: Option<&TimeCursor>,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError>;
    /// A page of contacts in id order after `after`.
    async fn list_contacts(
        &self,
        tenant_id: &str,
        filter: &ContactFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Contact>, StoreError>;
    /// The contact with this phone, else the one with this email.
    async fn contact_by_address(
        &self,
        tenant_id: &str,
        phone: Option<&str>,
        email: Option<&str>,
    ) -> Result<Option<Contact>, StoreError>;
    async fn delete_contact(
        &self,
        tenant_id: &str,
        contact_id: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// The contact's events, oldest first, at most `limit` (for an export).
    async fn contact_events(
        &self,
        tenant_id: &str,
        contact_id: &str,
        limit: u32,
    ) -> Result<Vec<super::StoredEvent>, StoreError>;
    /// Scrubs the person's data from events, runs, timelines and messages and deletes the
    /// contact, with `audit` (its details get the counts), in one transaction. The
    /// suppression entries stay.
    async fn erase_contact(
        &self,
        tenant_id: &str,
        contact_id: &str,
        audit: &AuditEntry,
    ) -> Result<crate::store::Erased, StoreError>;
}
