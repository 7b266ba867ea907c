//! What a call returned, typed by capability. [`Response::output`] is what later steps read as
//! `steps.<id>`, so field names here are part of the flow language.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a message is on its way to the recipient. Provider callbacks only ever move it
/// forward ([`DeliveryStatus::rank`]): a late `sent` never undoes `delivered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Accepted by the provider, not yet handed to the carrier.
    Queued,
    /// Handed to the carrier or mail server.
    Sent,
    /// The carrier or mail server confirmed delivery.
    Delivered,
    /// The carrier could not deliver it (unreachable handset, carrier filter).
    Undelivered,
    /// The provider could not send it.
    Failed,
}

impl DeliveryStatus {
    /// Later states rank higher; the three final states share the top rank, so the first
    /// final word stands.
    pub fn rank(self) -> u8 {
        match self {
            DeliveryStatus::Queued => 0,
            DeliveryStatus::Sent => 1,
            DeliveryStatus::Delivered | DeliveryStatus::Undelivered | DeliveryStatus::Failed => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Undelivered => "undelivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        [
            DeliveryStatus::Queued,
            DeliveryStatus::Sent,
            DeliveryStatus::Delivered,
            DeliveryStatus::Undelivered,
            DeliveryStatus::Failed,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// A model's token count for `text` where the provider gives none: one per four characters,
/// the usual rule of thumb for English.
pub fn estimated_tokens(text: &str) -> u64 {
    u64::try_from(text.chars().count().div_ceil(4)).unwrap_or(u64::MAX)
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// An SMS or email the provider accepted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sent {
    pub status: DeliveryStatus,
    /// The provider's id (Twilio's `SM…` sid, the SMTP Message-ID).
    pub message_id: String,
    pub to: String,
    /// SMS only: how many segments the carrier bills.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<u32>,
    #[serde(skip_serializing_if = "is_false")]
    pub sandbox: bool,
}

/// An alert delivered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notified {
    pub status: DeliveryStatus,
    pub channel: crate::NotifyAudience,
    #[serde(skip_serializing_if = "is_false")]
    pub sandbox: bool,
}

/// An HTTP response: its status and body (JSON if it parsed, else text).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Value,
    #[serde(skip_serializing_if = "is_false")]
    pub sandbox: bool,
}

/// A CRM record written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrmRecord {
    pub status: &'static str,
    pub action: crate::CrmAction,
    pub id: String,
    #[serde(skip_serializing_if = "is_false")]
    pub sandbox: bool,
}

/// A calendar's answer: free slots, or the booking acted on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalendarAnswer {
    pub status: &'static str,
    pub action: crate::CalendarAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slots: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub sandbox: bool,
}

/// A language model's answer; `json` is set when the step gave an `output_schema`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmAnswer {
    pub text: String,
    pub json: Value,
    /// Tokens the call used, prompt and answer together, as the provider counts them (the
    /// sandbox estimates one per four characters): what a plan's `ai_tokens` meters.
    pub tokens: u64,
    /// The provider answered and counted its tokens but gave no answer: why, with the
    /// provider's code (a refusal, a content filter). The engine fails the step on it after
    /// metering the tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub sandbox: bool,
}

/// A payments provider's answer: the invoice acted on and where it is paid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentAnswer {
    pub status: &'static str,
    pub action: crate::PaymentsAction,
    pub invoice_id: String,
    /// The page where the customer pays (`create_invoice`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub sandbox: bool,
}

/// What a successful call returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    Sent(Sent),
    Notified(Notified),
    Http(HttpResponse),
    Crm(CrmRecord),
    Calendar(CalendarAnswer),
    Llm(LlmAnswer),
    Payment(PaymentAnswer),
}

impl Response {
    /// `steps.<id>` for later steps.
    pub fn output(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The provider's id for what was created: a message, a record, a booking.
    pub fn provider_id(&self) -> Option<&str> {
        match self {
            Response::Sent(s) => Some(&s.message_id),
            Response::Crm(r) => Some(&r.id),
            Response::Calendar(c) => c.booking_id.as_deref(),
            Response::Payment(p) => Some(&p.invoice_id),
            Response::Notified(_) | Response::Http(_) | Response::Llm(_) => None,
        }
    }

    /// The sandbox answered: nothing left the machine.
    pub fn sandbox(&self) -> bool {
        match self {
            Response::Sent(r) => r.sandbox,
            Response::Notified(r) => r.sandbox,
            Response::Http(r) => r.sandbox,
            Response::Crm(r) => r.sandbox,
            Response::Calendar(r) => r.sandbox,
            Response::Llm(r) => r.sandbox,
            Response::Payment(r) => r.sandbox,
        }
    }
}
