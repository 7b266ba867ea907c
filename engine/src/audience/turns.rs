//! One at a time per tenant, for the reads that go over a tenant's whole audience (a
//! segment's count, a campaign's counters): a burst of them from one tenant queues behind
//! itself instead of taking the database from every other tenant.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedMutexGuard;

/// Each tenant's turn; a tenant's next read starts when its turn is given back.
#[derive(Debug, Default)]
pub struct TenantTurns {
    tenants: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl TenantTurns {
    /// The tenant's turn, once its reads before this one are done; held until dropped.
    pub async fn take(&self, tenant_id: &str) -> OwnedMutexGuard<()> {
        let turn = self
            .tenants
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(tenant_id.to_owned())
            .or_default()
            .clone();
        turn.lock_owned().await
    }
}
