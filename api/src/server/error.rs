//! The one mapping from engine errors to HTTP: status, stable code and the JSON body
//! `{"error": {"code", "message", "details"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use stepwise_engine::error::{EngineError, ErrorCode};

/// An error answered to an API client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let (status, code) = match e.code() {
            ErrorCode::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorCode::Conflict => (StatusCode::CONFLICT, "conflict"),
            ErrorCode::InvalidDefinition => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_definition")
            }
            ErrorCode::InvalidInput => (StatusCode::BAD_REQUEST, "invalid_input"),
            ErrorCode::ExpressionFailed => (StatusCode::UNPROCESSABLE_ENTITY, "expression_failed"),
            ErrorCode::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        let details = match &e {
            EngineError::InvalidDefinition(diagnostics) => json!({ "diagnostics": diagnostics }),
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
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message, "details": self.details } });
        (self.status, Json(body)).into_response()
    }
}
