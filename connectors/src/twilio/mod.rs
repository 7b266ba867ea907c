//! Twilio Programmable Messaging: SMS and MMS out (`POST /2010-04-01/Accounts/{sid}/Messages.json`,
//! form-encoded, HTTP Basic), and in through [`TwilioHooks`]: inbound messages and delivery
//! status callbacks, each signed with `X-Twilio-Signature`.
//!
//! Tenant settings: `providers.sms: {provider: twilio, account_sid: AC…, from: "+1…"}` (or
//! `messaging_service_sid: MG…`), and the credential `twilio_auth_token` (or, with
//! `api_key_sid: SK…`, the credential `twilio_api_key_secret` for sending; webhooks are always
//! signed with the Auth Token).
//!
//! Alerts to staff by SMS: `providers.notify: {provider: twilio, account_sid: AC…, from: "+1…",
//! owner: "+1…", team: ["+1…"]}` (see [`crate::staff`]).

mod hooks;
pub mod signature;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use stepwise_core::{
    CallCx, Capability, ConnectorError, DeliveryStatus, Notified, Notify, Request, Response,
    Segments, Sent, SmsSend,
};

pub use hooks::TwilioHooks;

use crate::outbound;
use crate::provider::{Env, Provider, call_options, options, unsupported};
use crate::staff::{Staff, shortened};

/// The longest SMS Twilio takes (10 segments); a longer staff alert is shortened to it.
const MAX_BODY: usize = 1_600;

/// Twilio's API, unless the operator overrides `twilio`'s base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// A tenant's Twilio settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The account (`AC` + 32 hex).
    pub account_sid: String,
    /// The sender number in E.164; else `messaging_service_sid`, else the tenant's `senders.sms`.
    #[serde(default)]
    pub from: Option<String>,
    /// A Messaging Service (`MG` + 32 hex) that picks the sender from its pool.
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// Send with an API key (`SK` + 32 hex) instead of the Auth Token.
    #[serde(default)]
    pub api_key_sid: Option<String>,
    /// The credential holding the Auth Token, which also signs Twilio's webhooks.
    #[serde(default = "default_auth_token_credential")]
    pub auth_token_credential: String,
    /// The credential holding the API key's secret (with `api_key_sid`).
    #[serde(default = "default_api_key_secret_credential")]
    pub api_key_secret_credential: String,
    /// Twilio's Advanced Opt-Out answers HELP itself; Stepwise then sends no help text.
    #[serde(default)]
    pub advanced_opt_out: bool,
}

fn default_auth_token_credential() -> String {
    "twilio_auth_token".into()
}

fn default_api_key_secret_credential() -> String {
    "twilio_api_key_secret".into()
}

fn sid(value: &str, prefix: &str) -> bool {
    value.len() == 34
        && value.starts_with(prefix)
        && value[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

impl Options {
    fn check(&self) -> Result<(), String> {
        if !sid(&self.account_sid, "AC") {
            return Err(
                "account_sid is AC followed by 32 hex digits (Twilio console → Account info)"
                    .into(),
            );
        }
        if let Some(mg) = &self.messaging_service_sid
            && !sid(mg, "MG")
        {
            return Err("messaging_service_sid is MG followed by 32 hex digits".into());
        }
        if let Some(sk) = &self.api_key_sid
            && !sid(sk, "SK")
        {
            return Err("api_key_sid is SK followed by 32 hex digits".into());
        }
        if let Some(from) = &self.from {
            e164(from).map_err(|e| format!("from {e}"))?;
        }
        Ok(())
    }
}

fn e164(number: &str) -> Result<(), String> {
    let ok = number.starts_with('+')
        && number.len() > 4
        && number[1..].bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{number}\" is not a number in E.164 (e.g. +15125550100)"
        ))
    }
}

/// Twilio's error body: `{"code": 21211, "message": "…", "more_info": "…", "status": 400}`.
#[derive(Debug, Deserialize)]
struct TwilioError {
    code: Option<u64>,
    message: Option<String>,
}

/// The part of Twilio's Message resource we read.
#[derive(Debug, Deserialize)]
struct MessageResource {
    sid: String,
    status: Option<String>,
    num_segments: Option<String>,
}

/// Twilio's message status in our terms; `None` for states that say nothing about delivery.
pub fn delivery_status(twilio: &str) -> Option<DeliveryStatus> {
    Some(match twilio {
        "queued" | "accepted" | "scheduled" => DeliveryStatus::Queued,
        "sending" | "sent" | "partially_delivered" => DeliveryStatus::Sent,
        "delivered" | "read" => DeliveryStatus::Delivered,
        "undelivered" => DeliveryStatus::Undelivered,
        "failed" | "canceled" => DeliveryStatus::Failed,
        _ => return None,
    })
}

/// Twilio SMS.
#[derive(Debug, Clone)]
pub struct Twilio {
    env: Arc<Env>,
}

impl Twilio {
    pub fn new(env: Arc<Env>) -> Self {
        Self { env }
    }

    async fn send(
        &self,
        sms: &SmsSend,
        options: &Options,
        cx: &CallCx,
    ) -> Result<Response, ConnectorError> {
        let (user, credential) = match &options.api_key_sid {
            Some(key) => (key.as_str(), options.api_key_secret_credential.as_str()),
            None => (
                options.account_sid.as_str(),
                options.auth_token_credential.as_str(),
            ),
        };
        let secret = self.env.vault.open(&cx.tenant_id, credential).await?;
        let mut form: Vec<(&str, &str)> = vec![("To", &sms.to), ("Body", &sms.body)];
        let from = sms.from.as_deref().or(options.from.as_deref());
        match (
            from,
            &options.messaging_service_sid,
            cx.default_sender.as_deref(),
        ) {
            (Some(from), _, _) => form.push(("From", from)),
            (None, Some(mg), _) => form.push(("MessagingServiceSid", mg)),
            (None, None, Some(from)) => form.push(("From", from)),
            (None, None, None) => {
                return Err(ConnectorError::permanent(
                    "no_sender",
                    "no sender: set providers.sms.from, messaging_service_sid or senders.sms in settings",
                ));
            }
        }
        for url in &sms.media_urls {
            form.push(("MediaUrl", url));
        }
        let callback = self.env.hook_url(cx.hook_token.as_deref(), "twilio");
        if let Some(callback) = &callback {
            form.push(("StatusCallback", callback));
        }
        let base = self.env.base_url("twilio", DEFAULT_BASE_URL);
        let url = format!(
            "{base}/2010-04-01/Accounts/{}/Messages.json",
            options.account_sid
        );
        let request = self
            .env
            .outbound
            .trusted()
            .post(url)
            .timeout(self.env.outbound.request_timeout)
            .basic_auth(user, Some(secret.expose()))
            .form(&form);
        let reply = self.env.outbound.send(request, "Twilio").await?;
        if !reply.status.is_success() {
            let error: Option<TwilioError> = serde_json::from_slice(&reply.body).ok();
            let code = error.as_ref().and_then(|e| e.code).map(|c| c.to_string());
            let message = error
                .and_then(|e| e.message)
                .unwrap_or_else(|| reply.text());
            if code.as_deref() == Some("21610") && reply.status.is_client_error() {
                // The recipient texted STOP to this sender: never again, until they text START.
                return Err(ConnectorError::Rejected {
                    code: "21610".into(),
                    message: format!(
                        "Twilio: the recipient has unsubscribed (replied STOP): {message}"
                    ),
                });
            }
            outbound::classify(&reply, "Twilio", code, &message)?;
        }
        let message: MessageResource =
            serde_json::from_slice(&reply.body).map_err(|e| ConnectorError::Uncertain {
                message: format!("Twilio accepted the message but its answer cannot be read: {e}"),
            })?;
        // Twilio reports 0 segments while a Messaging Service picks the sender; count our own.
        let segments = message
            .num_segments
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| *n > 0)
            .unwrap_or_else(|| Segments::of(&sms.body).parts as u32);
        Ok(Response::Sent(Sent {
            status: message
                .status
                .as_deref()
                .and_then(delivery_status)
                .unwrap_or(DeliveryStatus::Queued),
            message_id: message.sid,
            to: sms.to.clone(),
            segments: Some(segments),
            sandbox: false,
        }))
    }
}

impl Twilio {
    /// A staff alert: one SMS to each person it is for.
    async fn alert(
        &self,
        notify: &Notify,
        staff: &Staff,
        options: &Options,
        cx: &CallCx,
    ) -> Result<Response, ConnectorError> {
        let mut status = DeliveryStatus::Sent;
        for to in staff.recipients(notify.audience)? {
            let sms = SmsSend {
                to: to.to_owned(),
                from: None,
                body: shortened(&notify.text, MAX_BODY),
                media_urls: Vec::new(),
            };
            if let Response::Sent(sent) = self.send(&sms, options, cx).await? {
                status = sent.status;
            }
        }
        Ok(Response::Notified(Notified {
            status,
            channel: notify.audience,
            sandbox: false,
        }))
    }
}

#[async_trait]
impl Provider for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Sms, Capability::Notify]
    }

    fn check(&self, capability: Capability, map: &Map<String, Value>) -> Result<(), String> {
        if capability == Capability::Notify {
            return Staff::checked_options::<Options>(map, e164)?.check();
        }
        options::<Options>(map)?.check()
    }

    async fn call(
        &self,
        request: &Request,
        map: &Map<String, Value>,
        cx: &CallCx,
    ) -> Result<Response, ConnectorError> {
        match request {
            Request::Sms(sms) => {
                let options: Options = call_options("twilio", map)?;
                self.send(sms, &options, cx).await
            }
            Request::Notify(notify) => {
                let (staff, options) = Staff::call_options::<Options>("twilio", map)?;
                self.alert(notify, &staff, &options, cx).await
            }
            other => Err(unsupported("twilio", other)),
        }
    }
}

#[cfg(test)]
mod tests;
