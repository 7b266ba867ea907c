//! What a step can ask of the outside world: one typed request per capability.
//!
//! The step kinds build these from their rendered configuration; connectors read their fields
//! and never pick values out of loose JSON. A request serializes (for the run timeline) with
//! its values as rendered, and never with a credential's value: an `http` step names a stored
//! credential, it does not carry it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A family of actions a provider can offer. A tenant chooses one provider per capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Sms,
    Email,
    Notify,
    Http,
    Crm,
    Calendar,
    Llm,
    Payments,
}

impl Capability {
    pub const ALL: [Capability; 8] = [
        Capability::Sms,
        Capability::Email,
        Capability::Notify,
        Capability::Http,
        Capability::Crm,
        Capability::Calendar,
        Capability::Llm,
        Capability::Payments,
    ];

    /// The name in settings (`providers.sms`) and in the timeline (`connector: sms`).
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Sms => "sms",
            Capability::Email => "email",
            Capability::Notify => "notify",
            Capability::Http => "http",
            Capability::Crm => "crm",
            Capability::Calendar => "calendar",
            Capability::Llm => "llm",
            Capability::Payments => "payments",
        }
    }

    pub fn parse(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// One call, typed by capability.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Request {
    Sms(SmsSend),
    Email(EmailSend),
    Notify(Notify),
    Http(HttpCall),
    Crm(CrmCall),
    Calendar(CalendarCall),
    Llm(LlmCall),
    Payments(PaymentsCall),
}

impl Request {
    pub fn capability(&self) -> Capability {
        match self {
            Request::Sms(_) => Capability::Sms,
            Request::Email(_) => Capability::Email,
            Request::Notify(_) => Capability::Notify,
            Request::Http(_) => Capability::Http,
            Request::Crm(_) => Capability::Crm,
            Request::Calendar(_) => Capability::Calendar,
            Request::Llm(_) => Capability::Llm,
            Request::Payments(_) => Capability::Payments,
        }
    }

    /// The action within the capability, as the timeline names it (`send`, `request`, `book`).
    pub fn action(&self) -> &'static str {
        match self {
            Request::Sms(_) | Request::Email(_) | Request::Notify(_) => "send",
            Request::Http(_) => "request",
            Request::Crm(c) => c.action.as_str(),
            Request::Calendar(c) => c.action.as_str(),
            Request::Llm(_) => "complete",
            Request::Payments(p) => p.action.as_str(),
        }
    }
}

/// A text message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmsSend {
    /// E.164.
    pub to: String,
    /// The step's sender; `None` means the tenant's configured sender.
    pub from: Option<String>,
    pub body: String,
    /// Pictures and files for an MMS (public URLs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media_urls: Vec<String>,
}

/// An email.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmailSend {
    pub to: String,
    /// The step's sender; `None` means the tenant's configured sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// An HTML body beside the text one, already escaped where it holds values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Marketing email: it carries the one-click unsubscribe headers (RFC 8058) and a footer
    /// with the unsubscribe link and the business's postal address (CAN-SPAM).
    pub marketing: bool,
    /// The business's postal address, for the footer of marketing email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_address: Option<String>,
}

/// Who a `notify` step alerts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "Audience")]
pub enum NotifyAudience {
    /// The business owner (the tenant's owner contact details).
    #[default]
    Owner,
    /// The tenant's team channel.
    Team,
    /// The tenant's Slack channel.
    Slack,
}

/// An alert to the business's own people.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notify {
    #[serde(rename = "channel")]
    pub audience: NotifyAudience,
    pub text: String,
}

/// HTTP method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
#[schemars(rename = "Method")]
pub enum HttpMethod {
    Get,
    #[default]
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// How a stored credential authenticates an `http` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HttpAuthScheme {
    /// `Authorization: Bearer <credential>`.
    Bearer,
    /// `Authorization: Basic …` of a credential written `user:password`.
    Basic,
    /// The credential as the value of the header named here, e.g. `X-Api-Key`.
    Header(String),
}

/// A stored credential used by name; its value never enters the flow or the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpAuth {
    pub credential: String,
    pub scheme: HttpAuthScheme,
}

/// A request to a URL the flow names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpCall {
    pub method: HttpMethod,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub body: Option<Value>,
    pub timeout_seconds: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
}

/// What a `crm` step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "CrmAction")]
pub enum CrmAction {
    /// Create or update the contact (matched by email, else phone).
    UpsertContact,
    /// Add a note to the contact.
    AddNote,
    /// Create a deal for the contact.
    CreateDeal,
    /// Move the contact's open deal to another stage.
    UpdateDealStage,
}

impl CrmAction {
    pub fn as_str(self) -> &'static str {
        match self {
            CrmAction::UpsertContact => "upsert_contact",
            CrmAction::AddNote => "add_note",
            CrmAction::CreateDeal => "create_deal",
            CrmAction::UpdateDealStage => "update_deal_stage",
        }
    }
}

/// A write to the tenant's CRM.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrmCall {
    #[serde(skip)]
    pub action: CrmAction,
    pub fields: Map<String, Value>,
}

/// What a `calendar` step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "CalendarAction")]
pub enum CalendarAction {
    /// List free slots (`from`, `to`, optional `duration`).
    FindSlots,
    /// Book an appointment (`start`, optional `duration`, `title`).
    Book,
    /// Move an appointment (`booking_id`, `start`).
    Reschedule,
    /// Cancel an appointment (`booking_id`).
    Cancel,
}

impl CalendarAction {
    pub fn as_str(self) -> &'static str {
        match self {
            CalendarAction::FindSlots => "find_slots",
            CalendarAction::Book => "book",
            CalendarAction::Reschedule => "reschedule",
            CalendarAction::Cancel => "cancel",
        }
    }
}

/// A call to the tenant's booking calendar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalendarCall {
    #[serde(skip)]
    pub action: CalendarAction,
    pub fields: Map<String, Value>,
}

/// What a `payments` step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "PaymentsAction")]
pub enum PaymentsAction {
    /// Create and send an invoice for the contact (`amount` in the currency's minor unit,
    /// e.g. cents; `currency`; `description`; optional `due_days`); answers its id and the
    /// page where it is paid.
    CreateInvoice,
    /// Void an open invoice (`invoice_id`).
    VoidInvoice,
}

impl PaymentsAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentsAction::CreateInvoice => "create_invoice",
            PaymentsAction::VoidInvoice => "void_invoice",
        }
    }
}

/// A call to the tenant's payments provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentsCall {
    #[serde(skip)]
    pub action: PaymentsAction,
    pub fields: Map<String, Value>,
    /// Who pays: the run's contact (not recorded with the request: the run has it).
    #[serde(skip)]
    pub payer: Payer,
}

/// The contact an invoice is for, so a provider can find or create its customer record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payer {
    pub contact_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Model tier: the tenant maps each to a provider and model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "Tier")]
pub enum LlmTier {
    /// Fast and inexpensive: classification, extraction.
    #[default]
    Cheap,
    /// Best quality: replies a customer reads.
    Strong,
}

/// A question to a language model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmCall {
    pub prompt: String,
    pub system: Option<String>,
    pub tier: LlmTier,
    pub output_schema: Option<Value>,
    pub max_tokens: Option<u32>,
    pub timeout_seconds: u64,
}
