//! The seam to the template library: named templates, each edit a new version, drafts until
//! an admin approves one. What uses a template by name (a reply from the inbox) gets its
//! newest approved version, or the approved version it pins.
//!
//! Contract: every method takes the tenant and touches only its rows; versions are numbered
//! 1, 2, … per name and never change once written, except a draft's approval.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{AuditEntry, Channel, StoreError};

/// What a template is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TemplateKind {
    Outreach,
    Reply,
    AiPrompt,
    /// Help, opt-out and other text the business sends by rule.
    System,
    /// A piece of other texts: its approved version is the snippet `{{> name}}` includes.
    Snippet,
}

impl TemplateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outreach => "outreach",
            Self::Reply => "reply",
            Self::AiPrompt => "ai_prompt",
            Self::System => "system",
            Self::Snippet => "snippet",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Outreach,
            Self::Reply,
            Self::AiPrompt,
            Self::System,
            Self::Snippet,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One version of a template.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateVersion {
    pub name: String,
    pub version: u32,
    pub kind: TemplateKind,
    pub channel: Channel,
    /// An email's subject (a template).
    pub subject: Option<String>,
    /// The text (a template: `{{contact.first_name}}`, snippets).
    pub body: String,
    pub tags: Vec<String>,
    /// Approved by an admin; a draft is used by nothing.
    pub approved: bool,
    /// The member (or key) who wrote it.
    pub author: String,
    pub approved_by: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub approved_at: Option<Timestamp>,
}

/// A new version to write.
#[derive(Debug, Clone)]
pub struct TemplateDraft {
    pub name: String,
    pub kind: TemplateKind,
    pub channel: Channel,
    pub subject: Option<String>,
    pub body: String,
    pub tags: Vec<String>,
    pub author: String,
}

/// Which templates to list (newest version of each); every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct TemplateFilter {
    pub kind: Option<TemplateKind>,
    pub channel: Option<Channel>,
    pub tag: Option<String>,
    /// Words the name or the newest text contains (any case).
    pub search: Option<String>,
}

/// The most templates a tenant keeps, and versions a template keeps.
pub const MAX_TEMPLATES: u32 = 500;
pub const MAX_VERSIONS: u32 = 200;

#[async_trait]
pub trait TemplateStore: Send + Sync + std::fmt::Debug {
    /// Writes `draft` as the template's next version (its first makes the template), with
    /// `audit`. `Exists` past [`MAX_TEMPLATES`] names or [`MAX_VERSIONS`] versions.
    async fn add_template_version(
        &self,
        tenant_id: &str,
        draft: &TemplateDraft,
        audit: &AuditEntry,
    ) -> Result<TemplateVersion, StoreError>;
    /// The newest version of each template that `filter` selects, by name.
    async fn templates(
        &self,
        tenant_id: &str,
        filter: &TemplateFilter,
    ) -> Result<Vec<TemplateVersion>, StoreError>;
    /// Every version of a template, oldest first; `NotFound` when it has none.
    async fn template_versions(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<Vec<TemplateVersion>, StoreError>;
    /// Approves a version (by `approver`), with `audit`; answers it as it is now.
    async fn approve_template(
        &self,
        tenant_id: &str,
        name: &str,
        version: u32,
        approver: &str,
        audit: &AuditEntry,
    ) -> Result<TemplateVersion, StoreError>;
}

/// The version to use of `versions` (oldest first): the pinned one if approved, else the
/// newest approved one.
pub fn usable(versions: &[TemplateVersion], pinned: Option<u32>) -> Option<&TemplateVersion> {
    match pinned {
        Some(v) => versions.iter().find(|t| t.version == v && t.approved),
        None => versions.iter().rev().find(|t| t.approved),
    }
}
