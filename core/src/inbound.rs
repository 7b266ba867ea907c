//! Webhooks in: a [`WebhookSource`] checks that a request really comes from its provider and
//! reads it into [`InboundFact`]s; the engine's inbound service acts on them (identity,
//! de-duplication, opt-outs, starting and resuming runs). A source never touches the store.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::{DeliveryStatus, ProviderSetting, Secret};

/// A webhook request as received, before anything trusts it.
#[derive(Debug, Clone)]
pub struct HookRequest<'a> {
    pub method: &'a str,
    /// The URL the provider called, as the operator's public base URL spells it, with the
    /// query string: signatures are computed over it.
    pub url: &'a str,
    /// Header names lowercased.
    pub headers: &'a BTreeMap<String, String>,
    pub body: &'a [u8],
    /// Now, in Unix seconds, for timestamped signatures.
    pub now: i64,
}

impl HookRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// A message a contact sent us.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// `sms` or `email`.
    pub channel: &'static str,
    /// The provider's id (`MessageSid`), the key for de-duplication.
    pub provider_id: String,
    pub from: String,
    pub to: String,
    pub body: String,
    pub media: Vec<String>,
    /// The provider's own verdict on an opt-out keyword (Twilio's `OptOutType`), if it sent one.
    pub opt_out_type: Option<String>,
}

/// A delivery report for a message we sent.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub provider_id: String,
    pub status: DeliveryStatus,
    /// The provider's error code for `undelivered` / `failed` (Twilio's `ErrorCode`).
    pub error_code: Option<String>,
}

/// An email we sent came back for one recipient: a delivery status notification (RFC 3464)
/// whose action is `failed`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounce {
    /// The `Message-ID` of the email that came back, with its angle brackets: the provider id
    /// stored when it was sent.
    pub provider_id: String,
    /// Whom it failed for (the report's `Final-Recipient`), lower case.
    pub recipient: String,
    /// The enhanced status code (RFC 3463), e.g. `5.1.1`.
    pub status: String,
}

impl Bounce {
    /// Whether the address itself is bad for good: no such mailbox or domain, a malformed or
    /// moved address (5.1.x), a disabled mailbox (5.2.1). Such an address is suppressed; any
    /// other permanent failure (a full mailbox, a message refused by policy) fails the message
    /// but leaves the address usable.
    pub fn address_is_dead(&self) -> bool {
        self.status.starts_with("5.1.") || self.status == "5.2.1"
    }
}

/// What a verified webhook tells us.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundFact {
    /// A contact wrote to us: stored, checked for opt-out keywords, emitted as
    /// `message.received`.
    Message(InboundMessage),
    /// A message we sent moved on.
    Status(StatusUpdate),
    /// An email we sent came back.
    Bounce(Bounce),
    /// Something happened (a form was posted, a booking was made): an event for flows.
    Event {
        /// The provider's id for it, the key for de-duplication.
        id: String,
        event_type: String,
        /// Who it is about: `phone`, `email`, `first_name`, `last_name`, `external_id`, ….
        contact: Map<String, Value>,
        data: Value,
    },
}

/// What to answer the provider.
#[derive(Debug, Clone, PartialEq)]
pub enum HookReply {
    /// 204, no body.
    Empty,
    /// 200 with this body and content type (e.g. empty TwiML as `text/xml`).
    Body {
        content_type: &'static str,
        body: String,
    },
    /// 303 to a URL (a web form's thank-you page).
    Redirect(String),
}

/// A request the source accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct HookVerdict {
    pub facts: Vec<InboundFact>,
    pub reply: HookReply,
}

/// Why a webhook request was refused; nothing is stored. Messages never hold a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// The signature is missing or wrong (401).
    #[error("the request's signature is missing or does not match")]
    BadSignature,
    /// The signed timestamp is too old or in the future (401): a replay.
    #[error("the request's timestamp is outside the tolerance: {0}")]
    Stale(String),
    /// The body cannot be read (400).
    #[error("the request cannot be read: {0}")]
    Malformed(String),
    /// The tenant has not configured this source (404).
    #[error("{0}")]
    NotConfigured(String),
    /// The request uses a method or content type this source does not take (405 / 415).
    #[error("{0}")]
    Unsupported(String),
}

/// One provider's webhooks.
pub trait WebhookSource: Send + Sync + std::fmt::Debug {
    /// The `{source}` of `/hooks/{hook_token}/{source}`.
    fn name(&self) -> &'static str;

    /// The credential that signs this source's requests, read from the tenant's setting for
    /// the source (`None`: the source is not signed, e.g. a web form).
    fn signing_credential(&self, setting: Option<&ProviderSetting>) -> Option<String>;

    /// Verifies and reads the request. `secret` is the opened signing credential.
    fn receive(
        &self,
        request: &HookRequest<'_>,
        setting: Option<&ProviderSetting>,
        secret: Option<&Secret>,
    ) -> Result<HookVerdict, HookError>;

    /// Checks the tenant's options for a source that is not a provider (`sources.form`).
    fn check(&self, options: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        match options.keys().next() {
            Some(key) => Err(format!("{} takes no options (got {key})", self.name())),
            None => Ok(()),
        }
    }

    /// Origins whose web pages may post to this source from a browser (CORS).
    fn allowed_origins(&self, setting: Option<&ProviderSetting>) -> Vec<String> {
        let _ = setting;
        Vec::new()
    }

    /// An answer that also texts `text` back to the sender, where the provider takes one
    /// (Twilio's TwiML `<Message>`); `None` where it does not.
    fn reply_with(&self, text: &str) -> Option<HookReply> {
        let _ = text;
        None
    }
}
