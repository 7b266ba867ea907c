//! The seam between the engine and outside systems.
//!
//! Contract: the runtime calls [`Connector::call`] outside any transaction, with a request
//! already checked for consent and quiet hours and carrying an idempotency key
//! (`run:step:attempt`) that a provider able to de-duplicate must honour. A connector makes
//! one attempt and classifies its failure; it never retries by itself: retries and `on_error`
//! belong to the runtime.

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use crate::model::Purpose;
use crate::template::Segments;

/// Who receives a message sent to a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "sms" => Some(Channel::Sms),
            "email" => Some(Channel::Email),
            _ => None,
        }
    }
}

/// A message to a contact: what consent and quiet hours are checked against, and what the
/// timeline shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboundMessage {
    pub channel: Channel,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<Segments>,
}

/// One call a step asks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRequest {
    /// The connector family: `sms`, `email`, `notify`, `http`, `crm`, `calendar`, `llm`.
    pub connector: &'static str,
    /// The action within it, e.g. `send`, `request`, `upsert_contact`.
    pub action: String,
    /// The rendered input.
    pub payload: Value,
    /// Set for messages to the contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<OutboundMessage>,
    pub purpose: Purpose,
    /// `run:step:attempt`; set by the runtime.
    pub idempotency_key: String,
    /// Whether the provider de-duplicates by `idempotency_key`, so a repeat after a crash is safe.
    pub idempotent: bool,
}

/// What a successful call returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionResult {
    /// Becomes `steps.<id>` for later steps.
    pub output: Value,
    /// The provider's id for what was created (message sid, event id, ...).
    pub provider_id: Option<String>,
}

/// How a call failed, which decides what the runtime does next.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectorError {
    /// Worth another attempt (timeouts, 429, 5xx), optionally not before `retry_after`.
    #[error("{message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Will fail again (bad request, unsubscribed recipient); `code` is the provider's.
    #[error("{message} (code {code})")]
    Permanent { code: String, message: String },
    /// The provider may or may not have acted (a timeout after sending the request).
    #[error("{message}")]
    Uncertain { message: String },
}

/// Facts about the call that are not part of the request.
#[derive(Debug, Clone)]
pub struct CallCx {
    pub tenant_id: String,
    pub run_id: String,
    pub step_id: String,
}

/// An outside system, or the sandbox standing in for all of them.
#[async_trait]
pub trait Connector: Send + Sync + std::fmt::Debug {
    async fn call(
        &self,
        request: &ActionRequest,
        cx: &CallCx,
    ) -> Result<ActionResult, ConnectorError>;
}
