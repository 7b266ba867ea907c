//! The seam between the engine and outside systems. The contract ([`Connector`]) and the typed
//! requests and results live in `stepwise-core`, which connectors depend on instead of the
//! engine; here is what the runtime adds around a call: the message it is checked as, and
//! its purpose and idempotency key.

use serde::Serialize;
pub use stepwise_core::{
    CallCx, Connector, ConnectorError, HttpResponse, Request, Response, Secret, Vault, VaultError,
};

use crate::model::Purpose;
use crate::template::Segments;

/// Who receives a message sent to a contact.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
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

/// One call a step asks for, as the runtime carries it out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRequest {
    /// The typed request the connector receives.
    pub request: Request,
    /// Set for messages to the contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<OutboundMessage>,
    pub purpose: Purpose,
    /// `run:step:attempt`; set by the runtime.
    pub idempotency_key: String,
    /// Whether the provider de-duplicates by `idempotency_key`, so a repeat after a crash is safe.
    pub idempotent: bool,
}
