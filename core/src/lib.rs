//! Stepwise's small core: what the engine and every connector agree on, and nothing else.
//!
//! A step asks for a [`Capability`] with a typed [`Request`] and gets a typed [`Response`];
//! a [`Connector`] carries it out with the provider the tenant chose ([`CallCx::provider`]),
//! opening the tenant's credentials through the [`Vault`] at call time. Inbound webhooks are
//! read by a [`WebhookSource`] into [`InboundFact`]s. This crate has no database, queue or
//! HTTP dependency, so a provider compiles fast and cannot reach the store.

mod capability;
mod connector;
mod error;
mod inbound;
mod response;
mod segments;
mod vault;

pub use capability::{
    CalendarAction, CalendarCall, Capability, CrmAction, CrmCall, EmailSend, HttpAuth,
    HttpAuthScheme, HttpCall, HttpMethod, LlmCall, LlmTier, Notify, NotifyAudience, Payer,
    PaymentsAction, PaymentsCall, Request, SmsSend,
};
pub use connector::{CallCx, Connector, ProviderSetting};
pub use error::ConnectorError;
pub use inbound::{
    Bounce, HookError, HookReply, HookRequest, HookVerdict, InboundFact, InboundMessage,
    StatusUpdate, WebhookSource,
};
pub use response::{
    CalendarAnswer, CrmRecord, DeliveryStatus, HttpResponse, LlmAnswer, Notified, PaymentAnswer,
    Response, Sent, estimated_tokens,
};
pub use segments::{Encoding, Segments};
pub use vault::{Secret, Vault, VaultError};
