//! The seam to a business's team: its members (name, email, role), each with their own API
//! keys, so that an assignment, a reply or an audit entry names a person.
//!
//! Contract: every method takes the tenant and touches only its rows. A member's email is
//! unique within the tenant (`Exists` otherwise). A change of role changes the role of the
//! member's keys in the same transaction; removing a member revokes their keys with it.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{AuditEntry, Role, StoreError};

/// The most members a tenant keeps.
pub const MAX_MEMBERS: usize = 200;

/// What a member may do. Each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MemberRole {
    /// Reads everything a viewer key reads.
    Viewer,
    /// Also answers and handles conversations (a key of role `agent`).
    Agent,
    /// Also edits flows, settings, keys and members (an `admin` key), except owners.
    Admin,
    /// An admin who may also add, change and remove owners and admins.
    Owner,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Agent => "agent",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Viewer, Self::Agent, Self::Admin, Self::Owner]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    /// The role of the member's API keys.
    pub fn key_role(self) -> Role {
        match self {
            Self::Viewer => Role::Viewer,
            Self::Agent => Role::Agent,
            Self::Admin | Self::Owner => Role::Admin,
        }
    }
}

/// A member of a tenant's team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub id: String,
    pub name: String,
    /// Lowercase; unique within the tenant.
    pub email: String,
    pub role: MemberRole,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

#[async_trait]
pub trait MemberStore: Send + Sync + std::fmt::Debug {
    /// Adds a member with its audit entry; `Exists` when the email is taken.
    async fn create_member(
        &self,
        tenant_id: &str,
        member: &Member,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// The tenant's members by name (at most [`MAX_MEMBERS`]).
    async fn members(&self, tenant_id: &str) -> Result<Vec<Member>, StoreError>;
    async fn member(&self, tenant_id: &str, id: &str) -> Result<Member, StoreError>;
    /// Stores the member's new name, email and role, and gives their keys the role's key
    /// role, with the audit entry; `Exists` when the email is another member's.
    async fn change_member(
        &self,
        tenant_id: &str,
        member: &Member,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
    /// Removes the member and revokes their keys, with the audit entry; answers how many
    /// keys were revoked.
    async fn remove_member(
        &self,
        tenant_id: &str,
        id: &str,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<u64, StoreError>;
}
