//! Short-lived copies of what every event and every step reads but rarely changes: a
//! tenant's settings and the list of its live flows. The hot path then does not ask the
//! database each time. Changes made through this engine are seen at once (it forgets its
//! copy); changes made by another process are seen within [`FRESH_FOR`]. A tenant's usage
//! against its plan is measured with each read (see [`super::usage`]).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use super::engine::Engine;
use crate::error::EngineError;
use crate::model::Tenant;
use crate::ports::{AuditEntry, LiveFlow, TenantChange};

/// How long a copy is used before it is read again.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Values by tenant id, each used for [`FRESH_FOR`] after it was read.
#[derive(Debug)]
pub struct Expiring<V> {
    map: RwLock<HashMap<String, (Instant, V)>>,
}

impl<V> Default for Expiring<V> {
    fn default() -> Self {
        Self {
            map: RwLock::default(),
        }
    }
}

impl<V: Clone> Expiring<V> {
    pub fn get(&self, key: &str) -> Option<V> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|(read, _)| read.elapsed() < FRESH_FOR)
            .map(|(_, value)| value.clone())
    }

    pub fn put(&self, key: &str, value: V) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        map.insert(key.to_owned(), (Instant::now(), value));
    }

    pub fn forget(&self, key: &str) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }

    /// Forgets every copy (when the key of a change is not at hand).
    pub fn clear(&self) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        map.clear();
    }
}

/// The engine's copies.
#[derive(Debug, Default)]
pub struct Caches {
    pub(super) tenants: Expiring<Tenant>,
    live: Expiring<Vec<LiveFlow>>,
    /// A mark of each tenant's snippets ([`snippets_mark`]), which compiled flows are
    /// checked against: a snippet changed (by any process) recompiles them within seconds.
    snippets: Expiring<u64>,
}

/// A mark of a tenant's snippets that changes when any of them does.
pub fn snippets_mark(snippets: &std::collections::BTreeMap<String, String>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    snippets.hash(&mut hasher);
    hasher.finish()
}

impl Engine {
    /// The tenant's settings (a copy at most [`FRESH_FOR`] old).
    pub async fn tenant(&self, tenant_id: &str) -> Result<Tenant, EngineError> {
        if let Some(tenant) = self.caches.tenants.get(tenant_id) {
            return Ok(tenant);
        }
        let mut tenant = self.store.tenant(tenant_id).await?;
        self.apply_plan(&mut tenant).await?;
        self.caches.tenants.put(tenant_id, tenant.clone());
        Ok(tenant)
    }

    /// Changes a tenant's settings atomically (see [`crate::ports::Store::update_tenant`]).
    pub async fn update_tenant(
        &self,
        tenant_id: &str,
        change: &TenantChange<'_>,
        audit: &AuditEntry,
    ) -> Result<Option<Tenant>, EngineError> {
        let changed = self.store.update_tenant(tenant_id, change, audit).await?;
        self.caches.tenants.forget(tenant_id);
        self.caches.snippets.forget(tenant_id);
        Ok(changed)
    }

    /// The mark of the tenant's snippets as they are now (at most [`FRESH_FOR`] old).
    pub(super) async fn current_snippets(&self, tenant_id: &str) -> Result<u64, EngineError> {
        if let Some(mark) = self.caches.snippets.get(tenant_id) {
            return Ok(mark);
        }
        let mark = snippets_mark(&self.tenant(tenant_id).await?.snippets);
        self.caches.snippets.put(tenant_id, mark);
        Ok(mark)
    }

    /// The newest version of each enabled flow of the tenant, by id.
    pub async fn live_flows(&self, tenant_id: &str) -> Result<Vec<LiveFlow>, EngineError> {
        if let Some(live) = self.caches.live.get(tenant_id) {
            return Ok(live);
        }
        let live = self.store.live_flows(tenant_id).await?;
        self.caches.live.put(tenant_id, live.clone());
        Ok(live)
    }

    /// Forgets the copy of the tenant's live flows (after a publish, enable, disable or an
    /// archive made through the admin API).
    pub fn flows_changed(&self, tenant_id: &str) {
        self.caches.live.forget(tenant_id);
    }
}
