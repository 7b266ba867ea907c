//! An import as stored and answered: its options, the mapping it settled on, where it is
//! (queued, running, completed, failed) and its counts, which move as it runs.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::mapping::ColumnMapping;

/// Bad rows: skipped (the rest is imported, the report lists them) or refusing the whole file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ImportMode {
    #[default]
    SkipBadRows,
    /// One bad row and nothing is written (the report lists every bad row).
    AllOrNothing,
}

/// A row naming a contact that exists (same phone, else same email): merged into it, or
/// left alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OnExisting {
    /// Given cells replace stored ones; tags and fields are added; opt-outs never cleared.
    #[default]
    Update,
    Skip,
}

/// What the caller chose.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportOptions {
    #[serde(default)]
    pub mode: ImportMode,
    #[serde(default)]
    pub existing: OnExisting,
    /// Header → contact field, for the headers whose guess is wrong.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mapping: BTreeMap<String, String>,
    /// Tags every imported contact gets (e.g. the list's name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ImportStatus {
    /// Uploaded, waiting for a worker.
    Queued,
    Running,
    Completed,
    /// Not imported: `error` says why (all-or-nothing with bad rows, an unreadable file).
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// All-or-nothing imports read the file twice: first to check every row, then to write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ImportPhase {
    Checking,
    #[default]
    Writing,
}

/// How many rows went where.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportCounts {
    /// Data rows read so far (the header is not one).
    pub read: u64,
    pub created: u64,
    pub updated: u64,
    /// Rows repeating an earlier row's phone or email, and rows of existing contacts when
    /// `existing` is `skip`.
    pub skipped: u64,
    /// Rows with a cell that could not be read (each is in the report).
    pub failed: u64,
}

/// An import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Import {
    pub id: String,
    pub status: ImportStatus,
    pub phase: ImportPhase,
    pub options: ImportOptions,
    /// Each column with the contact field it fills.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<ColumnMapping>))]
    pub mapping: Vec<ColumnMapping>,
    pub counts: ImportCounts,
    /// The file's size in bytes.
    pub bytes: u64,
    /// Why a failed import failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<Timestamp>,
}

/// A row of the report: a bad cell (`failed`) or a row that repeats an earlier one (`skipped`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportRow {
    pub line: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
    /// `failed` or `skipped`.
    pub result: String,
}
