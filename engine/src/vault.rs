//! The [`Vault`] connectors open credentials through: the tenant's sealed credential read from
//! the store and opened with the server's secret key at call time. An opened value is kept in
//! memory for [`FRESH_FOR`], so a busy flow does not read and decrypt it on every send, and a
//! credential replaced through the API is in use everywhere within that time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use stepwise_core::{Secret, Vault, VaultError};

use crate::ports::{AccessStore, StoreError};
use crate::secrets::SecretBox;

/// How long an opened credential is reused.
pub const FRESH_FOR: Duration = Duration::from_secs(30);

/// Opens credentials from the store.
pub struct StoreVault {
    store: Arc<dyn AccessStore>,
    secrets: SecretBox,
    opened: Mutex<HashMap<(String, String), (Secret, Instant)>>,
}

impl std::fmt::Debug for StoreVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreVault(..)")
    }
}

impl StoreVault {
    pub fn new(store: Arc<dyn AccessStore>, secrets: SecretBox) -> Self {
        Self {
            store,
            secrets,
            opened: Mutex::default(),
        }
    }
}

#[async_trait]
impl Vault for StoreVault {
    async fn open(&self, tenant_id: &str, name: &str) -> Result<Secret, VaultError> {
        let key = (tenant_id.to_owned(), name.to_owned());
        if let Some((secret, at)) = self
            .opened
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            && at.elapsed() < FRESH_FOR
        {
            return Ok(secret.clone());
        }
        let sealed = match self.store.sealed_secret(tenant_id, name).await {
            Ok(sealed) => sealed,
            Err(StoreError::NotFound { .. }) => {
                return Err(VaultError::Missing { name: name.into() });
            }
            Err(e) => {
                return Err(VaultError::Unavailable {
                    name: name.into(),
                    reason: e.to_string(),
                });
            }
        };
        let plain = self
            .secrets
            .open(&sealed, &format!("{tenant_id}/{name}"))
            .map_err(|e| VaultError::Unavailable {
                name: name.into(),
                reason: e.to_string(),
            })?;
        let secret = Secret::new(plain);
        let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded by tenants × credentials; drop what went stale when it grows.
        if opened.len() > 10_000 {
            opened.retain(|_, (_, at)| at.elapsed() < FRESH_FOR);
        }
        opened.insert(key, (secret.clone(), Instant::now()));
        Ok(secret)
    }
}
