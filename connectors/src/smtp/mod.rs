//! Email over SMTP (lettre): STARTTLS (port 587) or implicit TLS (465) to the tenant's server,
//! with AUTH when it gives a username. Marketing email carries the one-click unsubscribe
//! headers (RFC 8058: `List-Unsubscribe` with a signed https URL, `List-Unsubscribe-Post`) and
//! a footer with that link and the business's postal address (CAN-SPAM).
//!
//! Tenant settings: `providers.email: {provider: smtp, host: smtp.example.com, username: …,
//! from: "Bright Smile <hello@brightsmile.example>"}` and the credential `smtp_password`.
//! The server's address must be public (the SSRF guard); the operator may point `smtp` at a
//! relay of its own (`STEPWISE_PROVIDER_URLS=smtp=smtp://127.0.0.1:2525`, plain, for tests).
//!
//! Alerts to staff by email: `providers.notify: {provider: smtp, host: …, from: …, owner:
//! owner@…, team: [desk@…]}` (see [`crate::staff`]).

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use serde_json::{Map, Value};
use stepwise_core::{
    CallCx, Capability, ConnectorError, DeliveryStatus, EmailSend, Notified, Notify, Request,
    Response, Sent,
};

mod bounce_text;
mod bounces;
pub use bounces::BounceHooks;

use crate::links::LinkTarget;
use crate::provider::{Env, Provider, call_options, options, unsupported};
use crate::staff::{Staff, shortened};

/// How the connection is encrypted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Connect in the clear and upgrade with STARTTLS, refusing a server that cannot (587).
    #[default]
    Starttls,
    /// TLS from the first byte (465).
    Implicit,
}

/// A tenant's SMTP settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    pub host: String,
    /// Default: 587 with STARTTLS, 465 with implicit TLS.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: TlsMode,
    /// Log in as this user (with the password credential); none: no AUTH.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default = "default_password_credential")]
    pub password_credential: String,
    /// The sender, e.g. `Bright Smile <hello@brightsmile.example>`; a step's `from` wins.
    pub from: String,
}

fn default_password_credential() -> String {
    "smtp_password".into()
}

impl Options {
    fn check(&self) -> Result<(), String> {
        let host_ok = !self.host.is_empty()
            && self
                .host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if !host_ok {
            return Err(format!(
                "host \"{}\" is not a host name (e.g. smtp.example.com)",
                self.host
            ));
        }
        self.from
            .parse::<Mailbox>()
            .map_err(|e| format!("from \"{}\" is not an address: {e}", self.from))?;
        Ok(())
    }

    fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::Starttls => 587,
            TlsMode::Implicit => 465,
        })
    }
}

fn bad_address(what: &str, value: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::permanent(
        "bad_address",
        format!("{what} \"{value}\" is not an email address: {e}"),
    )
}

/// Email through the tenant's SMTP server.
#[derive(Debug, Clone)]
pub struct Smtp {
    env: Arc<Env>,
}

impl Smtp {
    pub fn new(env: Arc<Env>) -> Self {
        Self { env }
    }

    /// The transport: the operator's relay (plain), else the tenant's server at an address the
    /// guard permits, with TLS checked against its host name.
    async fn transport(
        &self,
        options: &Options,
        cx: &CallCx,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, ConnectorError> {
        let timeout = Some(self.env.outbound.request_timeout);
        if let Some(relay) = self.env.base_urls.get("smtp") {
            let url = url::Url::parse(relay).map_err(|e| {
                ConnectorError::permanent(
                    "provider_settings",
                    format!("the operator's smtp URL: {e}"),
                )
            })?;
            let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
            return Ok(
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                    .port(url.port().unwrap_or(25))
                    .timeout(timeout)
                    .build(),
            );
        }
        let port = options.port();
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((options.host.as_str(), port))
            .await
            .map_err(|e| {
                ConnectorError::retryable(format!("{}: cannot resolve: {e}", options.host))
            })?
            .collect();
        let address = addresses
            .iter()
            .find(|a| self.env.outbound.guard().permits(a.ip()))
            .ok_or_else(|| {
                ConnectorError::permanent(
                    "address_refused",
                    format!("{} is not at a public address", options.host),
                )
            })?;
        let parameters = TlsParameters::new(options.host.clone())
            .map_err(|e| ConnectorError::permanent("tls", format!("{}: {e}", options.host)))?;
        let tls = match options.tls {
            TlsMode::Starttls => Tls::Required(parameters),
            TlsMode::Implicit => Tls::Wrapper(parameters),
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.ip().to_string())
                .port(port)
                .tls(tls)
                .timeout(timeout);
        if let Some(user) = &options.username {
            let password = self
                .env
                .vault
                .open(&cx.tenant_id, &options.password_credential)
                .await?;
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(builder.build())
    }

    fn message(
        &self,
        email: &EmailSend,
        options: &Options,
        cx: &CallCx,
    ) -> Result<(Message, String), ConnectorError> {
        let from_text = email
            .from
            .as_deref()
            .or(cx.default_sender.as_deref())
            .unwrap_or(&options.from);
        let from: Mailbox = from_text
            .parse()
            .map_err(|e| bad_address("from", from_text, e))?;
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e| bad_address("to", &email.to, e))?;
        let message_id = format!(
            "<{}@{}>",
            uuid::Uuid::now_v7().simple(),
            from.email.domain()
        );
        let mut builder = Message::builder()
            .from(from)
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(message_id.clone()));
        if let Some(reply_to) = &email.reply_to {
            builder = builder.reply_to(
                reply_to
                    .parse()
                    .map_err(|e| bad_address("reply_to", reply_to, e))?,
            );
        }
        let mut body = email.body.clone();
        let mut html = email.html.clone();
        if email.marketing {
            let target = LinkTarget {
                tenant_id: cx.tenant_id.clone(),
                channel: "email".into(),
                address: email.to.to_lowercase(),
            };
            let url = self.env.unsubscribe_url(&target).ok_or_else(|| {
                ConnectorError::permanent(
                    "unsubscribe_unavailable",
                    "marketing email needs an unsubscribe link: the operator must set STEPWISE_PUBLIC_URL",
                )
            })?;
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
            body.push_str(&format!("\n\n--\nUnsubscribe: {url}"));
            if let Some(address) = &email.postal_address {
                body.push_str(&format!("\n{address}"));
            }
            if let Some(html) = &mut html {
                html_footer(html, &url, email.postal_address.as_deref());
            }
        }
        let message = match html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(body, html)),
            None => builder.body(body),
        }
        .map_err(|e| ConnectorError::permanent("bad_message", e.to_string()))?;
        Ok((message, message_id))
    }

    async fn send(
        &self,
        email: &EmailSend,
        options: &Options,
        cx: &CallCx,
    ) -> Result<Response, ConnectorError> {
        let (message, message_id) = self.message(email, options, cx)?;
        let transport = self.transport(options, cx).await?;
        // lettre bounds each command; this bounds the whole conversation, the end of DATA too.
        let deadline = self.env.outbound.request_timeout;
        let sent = tokio::time::timeout(deadline, transport.send(message))
            .await
            .map_err(|_| ConnectorError::Uncertain {
                message: format!(
                    "SMTP: no answer within {deadline:?}; the message may have been sent"
                ),
            })?;
        match sent {
            Ok(_) => Ok(Response::Sent(Sent {
                status: DeliveryStatus::Sent,
                message_id,
                to: email.to.clone(),
                segments: None,
                sandbox: false,
            })),
            Err(e) => Err(classify(&e)),
        }
    }
}

impl Smtp {
    /// A staff alert: one email to each person it is for, its first line as the subject.
    async fn alert(
        &self,
        notify: &Notify,
        staff: &Staff,
        options: &Options,
        cx: &CallCx,
    ) -> Result<Response, ConnectorError> {
        let first_line = notify.text.lines().next().unwrap_or_default();
        for to in staff.recipients(notify.audience)? {
            let email = EmailSend {
                to: to.to_owned(),
                from: None,
                reply_to: None,
                subject: shortened(first_line, 78),
                body: notify.text.clone(),
                html: None,
                marketing: false,
                postal_address: None,
            };
            self.send(&email, options, cx).await?;
        }
        Ok(Response::Notified(Notified {
            status: DeliveryStatus::Sent,
            channel: notify.audience,
            sandbox: false,
        }))
    }
}

/// Puts the unsubscribe link and postal address at the end of an HTML body (before
/// `</body>` when it has one), escaped.
fn html_footer(html: &mut String, url: &str, postal_address: Option<&str>) {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut footer = format!(
        "<p style=\"font-size:12px;color:#666\"><a href=\"{}\">Unsubscribe</a>",
        escape(url)
    );
    if let Some(address) = postal_address {
        footer.push_str(&format!("<br>{}", escape(address)));
    }
    footer.push_str("</p>");
    let at = html
        .to_ascii_lowercase()
        .rfind("</body>")
        .unwrap_or(html.len());
    html.insert_str(at, &footer);
}

/// SMTP's answer in the runtime's terms: 4xx retryable; 5xx permanent, and a hard bounce
/// (5.1.1, no such mailbox) rejected so the address is suppressed; a server that cannot
/// encrypt (no STARTTLS) or whose certificate does not check out, permanent (`tls`: a
/// setting to fix, which retrying does not); a timeout (possibly after the message was sent)
/// uncertain; anything else before the server answered, retryable.
fn classify(e: &lettre::transport::smtp::Error) -> ConnectorError {
    let text = e.to_string();
    let code = e.status().map(|c| c.to_string()).unwrap_or_default();
    if text.contains("STARTTLS is not supported") || text.contains("certificate") {
        return ConnectorError::permanent(
            "tls",
            format!("SMTP: the server's encryption does not check out: {text}"),
        );
    }
    if e.is_permanent() {
        if text.contains("5.1.1") {
            return ConnectorError::Rejected {
                code: "5.1.1".into(),
                message: format!("SMTP: no such mailbox: {text}"),
            };
        }
        ConnectorError::permanent(code, format!("SMTP: {text}"))
    } else if e.is_transient() {
        ConnectorError::retryable(format!("SMTP: {text}"))
    } else if e.is_timeout() {
        ConnectorError::Uncertain {
            message: format!("SMTP: no answer in time, the message may have been sent: {text}"),
        }
    } else {
        ConnectorError::retryable(format!("SMTP: {text}"))
    }
}

#[async_trait]
impl Provider for Smtp {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Email, Capability::Notify]
    }

    fn check(&self, capability: Capability, map: &Map<String, Value>) -> Result<(), String> {
        if capability == Capability::Notify {
            let mailbox = |address: &str| {
                address
                    .parse::<Mailbox>()
                    .map(drop)
                    .map_err(|e| format!("\"{address}\" is not an email address: {e}"))
            };
            return Staff::checked_options::<Options>(map, mailbox)?.check();
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
            Request::Email(email) => {
                let options: Options = call_options("smtp", map)?;
                self.send(email, &options, cx).await
            }
            Request::Notify(notify) => {
                let (staff, options) = Staff::call_options::<Options>("smtp", map)?;
                self.alert(notify, &staff, &options, cx).await
            }
            other => Err(unsupported("smtp", other)),
        }
    }
}

#[cfg(test)]
mod tests;
