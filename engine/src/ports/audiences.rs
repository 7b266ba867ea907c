//! The seam for contacts in bulk: imports (the uploaded file in chunks, their progress
//! committed with each batch of contacts, the row report) and saved segments.
//!
//! Contract: every method takes the tenant and touches only its rows, except
//! [`AudienceStore::claim_import`], which finds work across tenants. A batch is written with
//! the import's progress in one transaction, and only if the progress is still the one the
//! worker read (`expected_rows`): two workers never write one batch twice, and a crash
//! leaves the import at its last whole batch.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use stepwise_core::DeliveryStatus;

use super::{AuditEntry, StoreError};
use crate::audience::campaign::{Campaign, MessageCounts, Progress};
use crate::audience::import::{Import, OnExisting, ReportRow};
use crate::audience::segment::Segment;
use crate::model::Contact;

/// A batch of an import to commit: the rows read (line, contact) and the report rows, with
/// the import as it stands after them.
#[derive(Debug)]
pub struct ImportBatch<'a> {
    /// Rows of the file already committed before this batch.
    pub expected_rows: u64,
    /// Rows of the file committed after it.
    pub rows_after: u64,
    pub contacts: Vec<(u64, Contact)>,
    pub existing: OnExisting,
    pub report: &'a [ReportRow],
    /// The import after the batch, counts of `contacts` not yet added (the store adds them).
    pub import: &'a Import,
}

#[async_trait]
pub trait AudienceStore: Send + Sync + std::fmt::Debug {
    /// Stores a new import as being uploaded (not yet visible to workers).
    async fn begin_import(&self, tenant_id: &str, import: &Import) -> Result<(), StoreError>;
    /// Stores the `seq`th chunk of the import's file.
    async fn put_import_chunk(
        &self,
        tenant_id: &str,
        import_id: &str,
        seq: u64,
        bytes: Vec<u8>,
    ) -> Result<(), StoreError>;
    /// The upload is whole: queues the import, unless the tenant already has one with this
    /// fingerprint (the same file and options), which is answered instead and this one
    /// deleted. Answers the import to report and whether it is the new one.
    async fn seal_import(
        &self,
        tenant_id: &str,
        import: &Import,
        fingerprint: &str,
        audit: &AuditEntry,
    ) -> Result<(Import, bool), StoreError>;
    /// Deletes an import and its chunks (an upload that failed).
    async fn discard_import(&self, tenant_id: &str, import_id: &str) -> Result<(), StoreError>;
    /// How many of the tenant's imports are queued, running or uploading.
    async fn unfinished_imports(&self, tenant_id: &str) -> Result<u64, StoreError>;
    async fn import(&self, tenant_id: &str, import_id: &str) -> Result<Import, StoreError>;
    /// The tenant's imports, newest first.
    async fn imports(&self, tenant_id: &str, limit: u32) -> Result<Vec<Import>, StoreError>;
    /// The `seq`th chunk of the file, `None` past its end.
    async fn import_chunk(
        &self,
        tenant_id: &str,
        import_id: &str,
        seq: u64,
    ) -> Result<Option<Vec<u8>>, StoreError>;
    /// Takes the oldest queued import, or a running one whose worker let its lease lapse,
    /// for `lease`: answers its tenant, the import and the rows already committed.
    async fn claim_import(
        &self,
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<Option<(String, Import, u64)>, StoreError>;
    /// Commits a batch (see [`ImportBatch`]) and extends the lease; answers the import as
    /// stored after it, or `None` when another worker moved it on (nothing written).
    async fn commit_import_batch(
        &self,
        tenant_id: &str,
        batch: ImportBatch<'_>,
        lease_until: Timestamp,
    ) -> Result<Option<Import>, StoreError>;
    /// Stores the import's final state (completed or failed) and deletes its file.
    async fn finish_import(&self, tenant_id: &str, import: &Import) -> Result<(), StoreError>;
    /// The import's report by line and column, after `after` (a line and column), at most
    /// `limit` rows.
    async fn import_report(
        &self,
        tenant_id: &str,
        import_id: &str,
        after: Option<(u64, &str)>,
        limit: u32,
    ) -> Result<Vec<ReportRow>, StoreError>;

    /// Stores a segment (new or replaced) with its audit entry.
    async fn put_segment(
        &self,
        tenant_id: &str,
        segment: &Segment,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    async fn segment(&self, tenant_id: &str, name: &str) -> Result<Segment, StoreError>;
    async fn segments(&self, tenant_id: &str) -> Result<Vec<Segment>, StoreError>;
    /// Deletes a segment with its audit entry; answers whether it existed.
    async fn delete_segment(
        &self,
        tenant_id: &str,
        name: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;
    /// When each of these contacts last had an event (those with none are absent).
    async fn last_activity(
        &self,
        tenant_id: &str,
        contact_ids: &[String],
    ) -> Result<Vec<(String, Timestamp)>, StoreError>;
}

/// A campaign's state change, applied to its latest stored version inside the store's
/// transaction: `None` leaves it unchanged (nothing is written).
pub type CampaignChange<'a> =
    &'a (dyn Fn(Campaign, Progress) -> Option<(Campaign, Progress)> + Send + Sync);

/// A campaign a dispatcher holds: `claim` fences its writes.
#[derive(Debug, Clone)]
pub struct ClaimedCampaign {
    pub tenant_id: String,
    pub campaign: Campaign,
    pub progress: Progress,
    pub claim: String,
}

/// The campaign seam (see [`crate::audience::campaign`]).
#[async_trait]
pub trait CampaignStore: Send + Sync + std::fmt::Debug {
    async fn create_campaign(
        &self,
        tenant_id: &str,
        campaign: &Campaign,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    async fn campaign(&self, tenant_id: &str, id: &str) -> Result<Campaign, StoreError>;
    /// The tenant's campaigns, newest first.
    async fn campaigns(&self, tenant_id: &str, limit: u32) -> Result<Vec<Campaign>, StoreError>;
    /// How many of the tenant's campaigns are scheduled or running.
    async fn active_campaigns(&self, tenant_id: &str) -> Result<u64, StoreError>;
    /// Applies `change` to the stored campaign with its audit entry; answers it as stored.
    async fn change_campaign(
        &self,
        tenant_id: &str,
        id: &str,
        change: CampaignChange<'_>,
        audit: &AuditEntry,
    ) -> Result<Campaign, StoreError>;
    /// Up to `limit` campaigns of every tenant that are running or paused, as
    /// `(tenant_id, campaign_id)`, for the metrics sampler.
    async fn live_campaigns(&self, limit: u32) -> Result<Vec<(String, String)>, StoreError>;
    /// Takes a running (or due scheduled) campaign whose next turn has come and whose last
    /// holder's lease lapsed, for `lease`.
    async fn claim_campaign(
        &self,
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<Option<ClaimedCampaign>, StoreError>;
    /// Stores what a dispatcher's turn did (`change` sees the latest stored campaign: an
    /// admin's pause or new rate meanwhile is kept) and lets the campaign go until `next_at`;
    /// answers `false` when the claim was lost (nothing written).
    async fn release_campaign(
        &self,
        claimed: &ClaimedCampaign,
        change: CampaignChange<'_>,
        next_at: Timestamp,
    ) -> Result<bool, StoreError>;
    /// How many contacts the campaign started (its recorded runs).
    async fn campaign_enrolled(
        &self,
        tenant_id: &str,
        campaign_id: &str,
    ) -> Result<u64, StoreError>;
    /// Records the run a campaign started for a contact, from `sender` (a pool number) at
    /// `at` (again is harmless).
    async fn add_campaign_run(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        contact_id: &str,
        run_id: &str,
        sender: Option<&str>,
        at: Timestamp,
    ) -> Result<(), StoreError>;
    /// The delivery reports of the messages to the latest `limit` contacts the campaign
    /// started from the pool number `sender` after `since`, newest first: status and error
    /// code.
    async fn sender_reports(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        sender: &str,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<(DeliveryStatus, Option<String>)>, StoreError>;
    /// The pool number this contact hears from: the one stored, else `candidate` (stored).
    async fn sticky_sender(
        &self,
        tenant_id: &str,
        pool: &str,
        contact_id: &str,
        candidate: &str,
        allowed: &[String],
    ) -> Result<String, StoreError>;
    /// Reserves the pool number's next slot, at `now` or after, unless that is more than
    /// `horizon` away (the number is booked up: `None`, nothing changes). Slots are `interval`
    /// apart for every campaign and worker process, so the number never sends faster.
    async fn reserve_number_slot(
        &self,
        tenant_id: &str,
        number: &str,
        now: Timestamp,
        interval: SignedDuration,
        horizon: SignedDuration,
    ) -> Result<Option<Timestamp>, StoreError>;
    /// What the campaign's runs and their messages did.
    async fn campaign_messages(
        &self,
        tenant_id: &str,
        campaign_id: &str,
    ) -> Result<MessageCounts, StoreError>;
}
