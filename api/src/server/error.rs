//! The one mapping from engine errors to HTTP: status, stable code and the JSON body
//! `{"error": {"code", "message", "details"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use stepwise_engine::error::{EngineError, ErrorCode};
use stepwise_engine::inbound::contacts::ContactError;

pub use super::code::Code;

/// An error answered to an API client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    pub details: Value,
    /// Seconds to wait, sent as `Retry-After` (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Value::Null,
            retry_after: None,
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, Code::Unauthorized, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Code::InvalidInput, message)
    }

    /// The caller's role does not allow this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, Code::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, Code::NotFound, message)
    }

    /// A well-formed body whose content is wrong: the field is named in the message.
    pub fn invalid(code: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn with_code(mut self, code: Code) -> Self {
        self.code = code;
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

impl From<stepwise_engine::ports::StoreError> for ApiError {
    fn from(e: stepwise_engine::ports::StoreError) -> Self {
        EngineError::from(e).into()
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Code::InvalidQuery, r.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Code::InvalidPath, r.body_text())
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(r: axum::extract::rejection::BytesRejection) -> Self {
        let code = if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Code::BodyTooLarge
        } else {
            Code::BodyUnreadable
        };
        Self::new(r.status(), code, r.body_text())
    }
}

impl From<ContactError> for ApiError {
    fn from(e: ContactError) -> Self {
        match e {
            ContactError::Engine(e) => e.into(),
            ContactError::Invalid(m) => Self::invalid(Code::InvalidContact, m),
            ContactError::Unknown(_) => Self::invalid(Code::UnknownContact, e.to_string()),
            ContactError::Exists(ref id) => {
                let details = json!({ "id": id });
                Self::new(StatusCode::CONFLICT, Code::ContactExists, e.to_string())
                    .with_details(details)
            }
            ContactError::PhoneTaken { ref contact_id, .. } => {
                let details = json!({ "contact_id": contact_id });
                Self::new(StatusCode::CONFLICT, Code::PhoneTaken, e.to_string())
                    .with_details(details)
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let (status, code) = match e.code() {
            ErrorCode::NotFound => (StatusCode::NOT_FOUND, Code::NotFound),
            ErrorCode::Conflict => (StatusCode::CONFLICT, Code::Conflict),
            ErrorCode::InvalidDefinition => {
                (StatusCode::UNPROCESSABLE_ENTITY, Code::InvalidDefinition)
            }
            ErrorCode::InvalidConfig => (StatusCode::UNPROCESSABLE_ENTITY, Code::InvalidConfig),
            ErrorCode::InvalidInput => (StatusCode::BAD_REQUEST, Code::InvalidInput),
            ErrorCode::ExpressionFailed => {
                (StatusCode::UNPROCESSABLE_ENTITY, Code::ExpressionFailed)
            }
            ErrorCode::LimitExceeded => (StatusCode::UNPROCESSABLE_ENTITY, Code::LimitExceeded),
            ErrorCode::QuotaExceeded => (StatusCode::TOO_MANY_REQUESTS, Code::QuotaExceeded),
            ErrorCode::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, Code::Unavailable),
        };
        let details = match &e {
            EngineError::InvalidDefinition(diagnostics) => json!({ "diagnostics": diagnostics }),
            EngineError::InvalidConfig(problems) => json!({ "problems": problems }),
            EngineError::UpgradeConflict(plan) => json!({ "plan": plan }),
            _ => Value::Null,
        };
        let message = match e.code() {
            // Storage details stay in the log, not in the answer.
            ErrorCode::Unavailable => {
                tracing::error!(error = %e, "request failed");
                "the service is temporarily unavailable".to_owned()
            }
            _ => e.to_string(),
        };
        Self {
            status,
            code,
            message,
            details,
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message, "details": self.details } });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
