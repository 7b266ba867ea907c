//! Opening a tenant's sealed credentials at call time. The engine implements [`Vault`] over
//! its store and secret key; connectors ask for a credential by name and get a [`Secret`]
//! whose value prints nowhere.

use std::sync::Arc;

use async_trait::async_trait;

/// A credential's value. `Debug` and `Display` never show it; read it with [`Secret::expose`]
/// only where it goes on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// The tenant stored no credential of this name.
    #[error("the credential {name} is not set (PUT /v1/settings/credentials/{name})")]
    Missing { name: String },
    /// It is stored but cannot be read now (database down, wrong secret key).
    #[error("the credential {name} cannot be opened: {reason}")]
    Unavailable { name: String, reason: String },
}

impl From<VaultError> for crate::ConnectorError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::Missing { .. } => {
                crate::ConnectorError::permanent("credential_missing", e.to_string())
            }
            VaultError::Unavailable { .. } => crate::ConnectorError::retryable(e.to_string()),
        }
    }
}

/// Where connectors open credentials. Implementations may cache briefly in memory.
#[async_trait]
pub trait Vault: Send + Sync + std::fmt::Debug {
    async fn open(&self, tenant_id: &str, name: &str) -> Result<Secret, VaultError>;
}
