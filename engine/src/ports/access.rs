//! The seam to who may do what: tenants as the platform operator creates them, API keys,
//! the audit log of admin actions, and sealed provider credentials.
//!
//! Contract: every method but [`AccessStore::key_by_digest`] and [`AccessStore::tenants`]
//! takes the tenant and touches only its rows; another tenant's key or secret answers
//! `NotFound`. Keys are stored as digests only; secrets as sealed text only. The audit log is
//! append-only: nothing here changes or removes an entry.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::StoreError;
use crate::model::Tenant;

/// What a key may do. Each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Reads flows, runs, contacts, messages and settings.
    Viewer,
    /// A team member who handles conversations: reads as a viewer does (the conversation
    /// routes that need this role come with the inbox).
    Agent,
    /// Also writes flows, contacts and events, and cancels, retries and enrolls runs.
    Editor,
    /// Also manages keys, settings and credentials, and reads the audit log.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Agent => "agent",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "agent" => Some(Role::Agent),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// An API key as listed: never the key itself, only its first characters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub role: Role,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// The team member the key belongs to (`POST /v1/members/{id}/keys`); `None`: a key of
    /// the tenant (made with `POST /v1/keys` or at the tenant's creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
}

/// One admin action: who did what to which object, when and with which key.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// A UUIDv7: id order is time order.
    pub id: String,
    pub at: Timestamp,
    /// The key's id, or `operator` for the platform operator.
    pub actor: String,
    pub key_prefix: Option<String>,
    /// e.g. `flow.publish`, `key.revoke`, `settings.update`.
    pub action: String,
    /// The object acted on, e.g. `flow:speed-to-lead`.
    pub target: String,
    pub details: Value,
}

impl AuditEntry {
    /// An entry for an action done now.
    pub fn now(
        actor: &str,
        key_prefix: Option<&str>,
        action: &str,
        target: &str,
        details: Value,
    ) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            at: Timestamp::now(),
            actor: actor.to_owned(),
            key_prefix: key_prefix.map(str::to_owned),
            action: action.to_owned(),
            target: target.to_owned(),
            details,
        }
    }

    /// The entry with `name: value` added to its details; details that are not an object
    /// (`null`, as most entries start) become one holding just that.
    pub fn with_detail(mut self, name: &str, value: impl Into<Value>) -> Self {
        if !self.details.is_object() {
            self.details = Value::Object(serde_json::Map::new());
        }
        if let Value::Object(details) = &mut self.details {
            details.insert(name.to_owned(), value.into());
        }
        self
    }

    /// An entry of the same action by the same actor on another target, for one request that
    /// writes several objects (each write stores its own entry; ids are unique).
    pub fn on(&self, target: &str) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            at: Timestamp::now(),
            target: target.to_owned(),
            ..self.clone()
        }
    }
}

/// A stored credential as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretInfo {
    pub name: String,
    pub last4: String,
    pub updated_at: Timestamp,
}

#[async_trait]
pub trait AccessStore: Send + Sync + std::fmt::Debug {
    /// Creates a tenant with its first (admin) key and the audit entry that records it, in
    /// one transaction; `Exists` if the id is taken.
    async fn create_tenant(
        &self,
        tenant: &Tenant,
        key: &ApiKey,
        digest: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// A page of every tenant in id order (the operator's view).
    async fn tenants(&self, after: Option<&str>, limit: u32) -> Result<Vec<Tenant>, StoreError>;
    /// Stores a new key with the audit entry that records it, in one transaction.
    async fn create_key(
        &self,
        key: &ApiKey,
        digest: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// The key with this digest, revoked or not, of any tenant: how a request is authenticated.
    async fn key_by_digest(&self, digest: &str) -> Result<Option<ApiKey>, StoreError>;
    /// A page of the tenant's keys in id order.
    async fn keys(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ApiKey>, StoreError>;
    /// Revokes a key (again is a no-op) with its audit entry, in one transaction; answers
    /// the key as it now is.
    async fn revoke_key(
        &self,
        tenant_id: &str,
        key_id: &str,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<ApiKey, StoreError>;
    /// Records that a key was used.
    async fn touch_key(
        &self,
        tenant_id: &str,
        key_id: &str,
        at: Timestamp,
    ) -> Result<(), StoreError>;
    async fn append_audit(&self, tenant_id: &str, entry: &AuditEntry) -> Result<(), StoreError>;
    /// A page of the audit log, newest first, before the entry `before`.
    async fn audit(
        &self,
        tenant_id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// Creates or replaces a sealed credential, with its audit entry, in one transaction.
    async fn put_secret(
        &self,
        tenant_id: &str,
        name: &str,
        sealed: &str,
        last4: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Removes a credential, with its audit entry, in one transaction.
    async fn delete_secret(
        &self,
        tenant_id: &str,
        name: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    async fn secrets(&self, tenant_id: &str) -> Result<Vec<SecretInfo>, StoreError>;
    /// The sealed text of a credential, for the connector that uses it.
    async fn sealed_secret(&self, tenant_id: &str, name: &str) -> Result<String, StoreError>;
}
