//! [`AudienceStore`] in SQL: imports (`imports.rs`) and segments (`segments.rs`).

use jiff::{SignedDuration, Timestamp};

use super::{SqlStore, import_batch, imports, segments};
use crate::audience::import::{Import, ReportRow};
use crate::audience::segment::Segment;
use crate::ports::{AudienceStore, AuditEntry, ImportBatch, StoreError};

#[async_trait::async_trait]
impl AudienceStore for SqlStore {
    async fn begin_import(&self, tenant_id: &str, import: &Import) -> Result<(), StoreError> {
        imports::begin_import(self, tenant_id, import).await
    }

    async fn put_import_chunk(
        &self,
        tenant_id: &str,
        import_id: &str,
        seq: u64,
        bytes: Vec<u8>,
    ) -> Result<(), StoreError> {
        imports::put_chunk(self, tenant_id, import_id, seq, bytes).await
    }

    async fn seal_import(
        &self,
        tenant_id: &str,
        import: &Import,
        fingerprint: &str,
        audit: &AuditEntry,
    ) -> Result<(Import, bool), StoreError> {
        imports::seal(self, tenant_id, import, fingerprint, audit).await
    }

    async fn discard_import(&self, tenant_id: &str, import_id: &str) -> Result<(), StoreError> {
        imports::discard(self, tenant_id, import_id).await
    }

    async fn unfinished_imports(&self, tenant_id: &str) -> Result<u64, StoreError> {
        imports::unfinished(self, tenant_id).await
    }

    async fn import(&self, tenant_id: &str, import_id: &str) -> Result<Import, StoreError> {
        imports::import(self, tenant_id, import_id).await
    }

    async fn imports(&self, tenant_id: &str, limit: u32) -> Result<Vec<Import>, StoreError> {
        imports::imports(self, tenant_id, limit).await
    }

    async fn import_chunk(
        &self,
        tenant_id: &str,
        import_id: &str,
        seq: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        imports::chunk(self, tenant_id, import_id, seq).await
    }

    async fn claim_import(
        &self,
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<Option<(String, Import, u64)>, StoreError> {
        imports::claim(self, now, lease).await
    }

    async fn commit_import_batch(
        &self,
        tenant_id: &str,
        batch: ImportBatch<'_>,
        lease_until: Timestamp,
    ) -> Result<Option<Import>, StoreError> {
        import_batch::commit_batch(self, tenant_id, batch, lease_until).await
    }

    async fn finish_import(&self, tenant_id: &str, import: &Import) -> Result<(), StoreError> {
        imports::finish(self, tenant_id, import).await
    }

    async fn import_report(
        &self,
        tenant_id: &str,
        import_id: &str,
        after: Option<(u64, &str)>,
        limit: u32,
    ) -> Result<Vec<ReportRow>, StoreError> {
        imports::report(self, tenant_id, import_id, after, limit).await
    }

    async fn put_segment(
        &self,
        tenant_id: &str,
        segment: &Segment,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        segments::put(self, tenant_id, segment, audit).await
    }

    async fn segment(&self, tenant_id: &str, name: &str) -> Result<Segment, StoreError> {
        segments::get(self, tenant_id, name).await
    }

    async fn segments(&self, tenant_id: &str) -> Result<Vec<Segment>, StoreError> {
        segments::list(self, tenant_id).await
    }

    async fn delete_segment(
        &self,
        tenant_id: &str,
        name: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        segments::delete(self, tenant_id, name, audit).await
    }

    async fn last_activity(
        &self,
        tenant_id: &str,
        contact_ids: &[String],
    ) -> Result<Vec<(String, Timestamp)>, StoreError> {
        segments::last_activity(self, tenant_id, contact_ids).await
    }
}
