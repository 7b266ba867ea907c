//! The import worker every server process runs: it takes the oldest queued import (or one
//! whose worker died, once its lease lapses) and runs it on a blocking thread, one import
//! at a time per process. A new upload wakes it at once; otherwise it looks every second.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tracing::Instrument;

use super::Import;
use super::job::{self, LEASE};
use crate::ports::{AudienceStore, Store};

/// How often an idle worker looks for imports other processes queued.
const IDLE: Duration = Duration::from_secs(1);

/// Runs imports until the process ends.
pub async fn run_imports(
    audiences: Arc<dyn AudienceStore>,
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
) {
    loop {
        match audiences.claim_import(jiff::Timestamp::now(), LEASE).await {
            Ok(Some((tenant_id, import, done_rows))) => {
                let span =
                    tracing::info_span!("import", tenant_id = %tenant_id, import_id = %import.id);
                run_one(&audiences, store.as_ref(), &tenant_id, import, done_rows)
                    .instrument(span)
                    .await;
            }
            Ok(None) => {
                let _ = tokio::time::timeout(IDLE, wake.notified()).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "imports cannot be claimed");
                tokio::time::sleep(IDLE).await;
            }
        }
    }
}

async fn run_one(
    audiences: &Arc<dyn AudienceStore>,
    store: &dyn Store,
    tenant_id: &str,
    import: Import,
    done_rows: u64,
) {
    let tenant = match store.tenant(tenant_id).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "the import's tenant cannot be read");
            tokio::time::sleep(IDLE).await;
            return;
        }
    };
    tracing::info!(resumed_after = done_rows, "import started");
    let (audiences, handle) = (audiences.clone(), tokio::runtime::Handle::current());
    let ran =
        tokio::task::spawn_blocking(move || job::run(audiences, handle, tenant, import, done_rows))
            .await;
    match ran {
        Ok(Ok(done)) => {
            let c = done.counts;
            tracing::info!(
                status = done.status.as_str(),
                read = c.read,
                created = c.created,
                updated = c.updated,
                skipped = c.skipped,
                failed = c.failed,
                "import finished"
            );
            metrics::counter!("stepwise_import_rows_total").increment(c.read);
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "import stopped; it resumes when its lease lapses");
            tokio::time::sleep(IDLE).await;
        }
        Err(e) => tracing::error!(error = %e, "import panicked"),
    }
}
