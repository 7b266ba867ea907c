//! The closed set of error codes the API answers with: `error.code` is always one of these,
//! the compiler sees to it, and `/openapi.json` lists them as the code's enum.

use serde::Serialize;
use utoipa::ToSchema;

/// A stable error code: program against it (docs/api.md says when each is answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    MalformedJson,
    InvalidInput,
    InvalidQuery,
    InvalidPath,
    InvalidLimit,
    InvalidCursor,
    InvalidEncoding,
    BodyUnreadable,
    Unauthorized,
    BadSignature,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    ContactExists,
    PhoneTaken,
    OptOutLocked,
    FlowArchived,
    BodyTooLarge,
    UnsupportedMediaType,
    InvalidBody,
    InvalidConfig,
    InvalidDefinition,
    ExpressionFailed,
    LimitExceeded,
    QuotaExceeded,
    InvalidTenant,
    InvalidSettings,
    InvalidContact,
    InvalidSuppression,
    InvalidImport,
    ImportBusy,
    InvalidSegment,
    InvalidCampaign,
    InvalidEvent,
    UnknownContact,
    IdMismatch,
    RateLimited,
    Unavailable,
}
