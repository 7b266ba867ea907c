//! The engine's error type and its stable codes (the API maps codes to HTTP statuses).

use crate::definition::Diagnostic;
use crate::ports::{QueueError, StoreError};

/// A stable, documented error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    NotFound,
    Conflict,
    InvalidDefinition,
    /// A flow's config values do not fit its declared config.
    InvalidConfig,
    InvalidInput,
    ExpressionFailed,
    /// A bounded piece of work (a simulation, say) went past one of its limits.
    LimitExceeded,
    /// The tenant's plan allows no more of this this month.
    QuotaExceeded,
    Unavailable,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("the document is invalid ({} problems)", .0.len())]
    InvalidDefinition(Vec<Diagnostic>),
    #[error("the config values do not fit the flow's config ({} problems)", .0.len())]
    InvalidConfig(Vec<crate::definition::config::ConfigProblem>),
    #[error("{0}")]
    InvalidInput(String),
    /// The object is not in a state that allows this (cancel an ended run, retry one that
    /// has not failed, enrol in a disabled flow).
    #[error("{0}")]
    WrongState(String),
    #[error("expression failed: {0}")]
    Expression(String),
    /// Work on a tenant's input went past one of its bounds (the message says which).
    #[error("{0}")]
    LimitExceeded(String),
    /// The tenant's plan allows no more of this this month (see [`crate::usage`]).
    #[error("{0}")]
    QuotaExceeded(String),
    /// An upgrade would overwrite the tenant's edits (the plan shows where).
    #[error("the upgrade of {} to {} conflicts with your edits of {} template(s): resolve each as `mine` or `theirs`", .0.module, .0.to, .0.conflicts.len())]
    UpgradeConflict(Box<crate::install::UpgradePlan>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl EngineError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound(_) | Self::Store(StoreError::NotFound { .. }) => ErrorCode::NotFound,
            Self::Store(StoreError::Conflict { .. } | StoreError::Exists { .. }) => {
                ErrorCode::Conflict
            }
            Self::InvalidDefinition(_) => ErrorCode::InvalidDefinition,
            Self::InvalidConfig(_) => ErrorCode::InvalidConfig,
            Self::InvalidInput(_) => ErrorCode::InvalidInput,
            Self::WrongState(_) | Self::UpgradeConflict(_) => ErrorCode::Conflict,
            Self::Expression(_) => ErrorCode::ExpressionFailed,
            Self::LimitExceeded(_) => ErrorCode::LimitExceeded,
            Self::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
            Self::Store(StoreError::Unavailable(_)) | Self::Queue(_) => ErrorCode::Unavailable,
        }
    }
}
