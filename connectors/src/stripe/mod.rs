//! Stripe Invoicing for the `payments` capability: an invoice is a one-off Stripe invoice for
//! the run's contact, finalized so that its hosted page (`hosted_invoice_url`) takes the
//! payment; the flow sends that link itself, so Stripe is not asked to email it. Payments come
//! back through [`StripeHooks`] as `payment.succeeded` and `payment.failed` events.
//!
//! `create_invoice` is four calls, each form-encoded with the secret key as a Bearer token:
//! find the customer by email (`GET /v1/customers?email=`) or create one (`POST
//! /v1/customers`), `POST /v1/invoices` (`collection_method=send_invoice`,
//! `days_until_due`, `auto_advance=false`, `pending_invoice_items_behavior=exclude` so the
//! customer's other pending items stay off it), `POST /v1/invoiceitems` for the amount, then
//! `POST /v1/invoices/{id}/finalize`. `void_invoice` is `POST /v1/invoices/{id}/void`.
//!
//! Every POST carries an `Idempotency-Key` made from the run and step, the same on every
//! attempt of the step: a retry after a lost answer gets Stripe's first answer back instead
//! of a second invoice, so no answer is retryable, not uncertain. Stripe replays a saved
//! error too, and says so (`Idempotent-Replayed`, `Stripe-Should-Retry: false`): that is
//! permanent, for the owner to look at in the Stripe dashboard.
//!
//! Tenant settings: `providers.payments: {provider: stripe}` and the credentials
//! `stripe_secret_key` (a secret or restricted key, `sk_…`/`rk_…`) and `stripe_webhook_secret`
//! (the endpoint's signing secret, `whsec_…`).

mod hooks;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use stepwise_core::{
    CallCx, Capability, ConnectorError, PaymentAnswer, PaymentsAction, PaymentsCall, Request,
    Response, Secret,
};

pub use hooks::{StripeHooks, verify};

use crate::outbound::{self, Reply};
use crate::provider::{Env, Provider, call_options, options, repeat_is_harmless, unsupported};

/// Stripe's API, unless the operator overrides `stripe`'s base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.stripe.com";

/// Stripe takes idempotency keys up to 255 characters.
const MAX_KEY: usize = 255;

/// A tenant's Stripe settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The credential holding the secret (or restricted) API key.
    #[serde(default = "default_secret_key_credential")]
    pub secret_key_credential: String,
    /// The credential holding the webhook endpoint's signing secret.
    #[serde(default = "default_webhook_secret_credential")]
    pub webhook_secret_credential: String,
}

fn default_secret_key_credential() -> String {
    "stripe_secret_key".into()
}

fn default_webhook_secret_credential() -> String {
    "stripe_webhook_secret".into()
}

/// Stripe's error body: `{"error": {"type": "…", "code": "…", "message": "…"}}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: StripeError,
}

#[derive(Debug, Default, Deserialize)]
struct StripeError {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// The part of an object Stripe answers with that we read.
#[derive(Debug, Deserialize)]
struct Object {
    id: String,
    #[serde(default)]
    hosted_invoice_url: Option<String>,
}

/// A list (`GET /v1/customers?email=`).
#[derive(Debug, Deserialize)]
struct List {
    data: Vec<Object>,
}

/// Stripe Invoicing.
#[derive(Debug, Clone)]
pub struct Stripe {
    env: Arc<Env>,
}

/// One call's context: where, with which key, under which idempotency key.
struct Session<'a> {
    env: &'a Env,
    base: String,
    key: Secret,
    /// The step's idempotency key, the same on every attempt; each POST adds its own suffix.
    idempotency: String,
}

impl Stripe {
    pub fn new(env: Arc<Env>) -> Self {
        Self { env }
    }

    async fn session<'a>(
        &'a self,
        options: &Options,
        cx: &CallCx,
    ) -> Result<Session<'a>, ConnectorError> {
        let key = self
            .env
            .vault
            .open(&cx.tenant_id, &options.secret_key_credential)
            .await?;
        Ok(Session {
            env: &self.env,
            base: self.env.base_url("stripe", DEFAULT_BASE_URL),
            key,
            idempotency: step_key(&cx.tenant_id, &cx.idempotency_key),
        })
    }
}

/// `stepwise:{tenant}:{run}:{step}`: the engine's key (`run:step:attempt`) without the
/// attempt, hashed when Stripe would find it too long.
fn step_key(tenant_id: &str, idempotency_key: &str) -> String {
    let step = idempotency_key
        .rsplit_once(':')
        .map_or(idempotency_key, |(step, _attempt)| step);
    let key = format!("stepwise:{tenant_id}:{step}");
    if key.len() + ":finalize".len() <= MAX_KEY {
        key
    } else {
        format!("stepwise:{}", hex::encode(Sha256::digest(key.as_bytes())))
    }
}

impl Session<'_> {
    async fn post(
        &self,
        path: &str,
        form: &[(&str, String)],
        purpose: &str,
    ) -> Result<Object, ConnectorError> {
        let request = self
            .env
            .outbound
            .trusted()
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.key.expose())
            .header("Idempotency-Key", format!("{}:{purpose}", self.idempotency))
            .form(form)
            .timeout(self.env.outbound.request_timeout);
        let reply = self.env.outbound.send(request, "Stripe").await?;
        read(&reply)
    }

    async fn customer_by_email(&self, email: &str) -> Result<Option<String>, ConnectorError> {
        let url = url::Url::parse_with_params(
            &format!("{}/v1/customers", self.base),
            [("email", email), ("limit", "1")],
        )
        .map_err(|e| ConnectorError::permanent("bad_url", format!("Stripe's base URL: {e}")))?;
        let request = self
            .env
            .outbound
            .trusted()
            .get(url)
            .bearer_auth(self.key.expose())
            .timeout(self.env.outbound.request_timeout);
        let reply = self.env.outbound.send(request, "Stripe").await?;
        judge(&reply)?;
        let list: List = serde_json::from_slice(&reply.body).map_err(unreadable)?;
        Ok(list.data.into_iter().next().map(|c| c.id))
    }

    /// The payer's Stripe customer: the one with their email, else a new one.
    async fn customer(&self, call: &PaymentsCall) -> Result<String, ConnectorError> {
        let payer = &call.payer;
        if let Some(email) = payer.email.as_deref()
            && let Some(id) = self.customer_by_email(email).await?
        {
            return Ok(id);
        }
        let mut form = vec![("metadata[stepwise_contact_id]", payer.contact_id.clone())];
        for (name, value) in [
            ("name", &payer.name),
            ("email", &payer.email),
            ("phone", &payer.phone),
        ] {
            if let Some(value) = value {
                form.push((name, value.clone()));
            }
        }
        Ok(self.post("/v1/customers", &form, "customer").await?.id)
    }

    async fn create_invoice(
        &self,
        call: &PaymentsCall,
        cx: &CallCx,
    ) -> Result<Response, ConnectorError> {
        let field = |name: &str| match call.fields.get(name) {
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let amount = field("amount").unwrap_or_default();
        let currency = field("currency").unwrap_or_default().to_lowercase();
        let description = field("description").unwrap_or_default();
        let due_days = match field("due_days").filter(|d| !d.is_empty()) {
            None => "30".to_owned(),
            Some(days) => match days.parse::<u16>() {
                Ok(days) => days.to_string(),
                Err(_) => {
                    return Err(ConnectorError::permanent(
                        "bad_due_days",
                        format!("due_days is {days}, not a whole number of days"),
                    ));
                }
            },
        };
        let customer = self.customer(call).await?;
        let contact = call.payer.contact_id.clone();
        let invoice = self
            .post(
                "/v1/invoices",
                &[
                    ("customer", customer.clone()),
                    ("collection_method", "send_invoice".into()),
                    ("days_until_due", due_days),
                    ("currency", currency.clone()),
                    ("auto_advance", "false".into()),
                    ("pending_invoice_items_behavior", "exclude".into()),
                    ("metadata[stepwise_contact_id]", contact),
                    ("metadata[stepwise_run_id]", cx.run_id.clone()),
                ],
                "invoice",
            )
            .await?;
        self.post(
            "/v1/invoiceitems",
            &[
                ("customer", customer),
                ("invoice", invoice.id.clone()),
                ("amount", amount),
                ("currency", currency),
                ("description", description),
            ],
            "item",
        )
        .await?;
        let path = format!("/v1/invoices/{}/finalize", invoice.id);
        let finalized = self
            .post(&path, &[("auto_advance", "false".into())], "finalize")
            .await?;
        Ok(Response::Payment(PaymentAnswer {
            status: "ok",
            action: PaymentsAction::CreateInvoice,
            invoice_id: finalized.id,
            url: finalized.hosted_invoice_url,
            sandbox: false,
        }))
    }

    async fn void_invoice(&self, call: &PaymentsCall) -> Result<Response, ConnectorError> {
        let id = call
            .fields
            .get("invoice_id")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|id| {
                id.starts_with("in_") && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
            .ok_or_else(|| {
                ConnectorError::permanent(
                    "bad_invoice_id",
                    "invoice_id is not a Stripe invoice id (in_…)",
                )
            })?;
        let voided = self
            .post(&format!("/v1/invoices/{id}/void"), &[], "void")
            .await?;
        Ok(Response::Payment(PaymentAnswer {
            status: "ok",
            action: PaymentsAction::VoidInvoice,
            invoice_id: voided.id,
            url: None,
            sandbox: false,
        }))
    }
}

fn unreadable(e: serde_json::Error) -> ConnectorError {
    ConnectorError::permanent("bad_answer", format!("Stripe's answer cannot be read: {e}"))
}

/// A successful answer's object, or the error Stripe's answer means.
fn read(reply: &Reply) -> Result<Object, ConnectorError> {
    judge(reply)?;
    serde_json::from_slice(&reply.body).map_err(unreadable)
}

/// Stripe's own word on a retry comes first (`Stripe-Should-Retry`, and a replayed saved
/// error, which the same key will always get); a request already running under the same key
/// (409 `idempotency_key_in_use`) is worth another attempt; the rest by status.
fn judge(reply: &Reply) -> Result<(), ConnectorError> {
    if reply.status.is_success() {
        return Ok(());
    }
    let error = serde_json::from_slice::<ErrorBody>(&reply.body)
        .unwrap_or_default()
        .error;
    let code = error.code.clone().or(error.kind.clone());
    let message = error.message.unwrap_or_else(|| reply.text());
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    let replayed = header("idempotent-replayed").as_deref() == Some("true");
    let should_retry = header("stripe-should-retry");
    let detail = |m: &str| {
        format!(
            "Stripe answered {}: {}",
            reply.status,
            m.chars().take(300).collect::<String>()
        )
    };
    if should_retry.as_deref() == Some("false") || (replayed && reply.status.is_server_error()) {
        return Err(ConnectorError::permanent(
            code.unwrap_or_else(|| "stripe_will_not_retry".into()),
            detail(&message),
        ));
    }
    if should_retry.as_deref() == Some("true") || code.as_deref() == Some("idempotency_key_in_use")
    {
        return Err(ConnectorError::Retryable {
            message: detail(&message),
            retry_after: reply.retry_after,
        });
    }
    outbound::classify(reply, "Stripe", code, &message)
}

#[async_trait]
impl Provider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Payments]
    }

    fn check(&self, _: Capability, map: &Map<String, Value>) -> Result<(), String> {
        options::<Options>(map).map(|_| ())
    }

    async fn call(
        &self,
        request: &Request,
        map: &Map<String, Value>,
        cx: &CallCx,
    ) -> Result<Response, ConnectorError> {
        let options: Options = call_options("stripe", map)?;
        let Request::Payments(call) = request else {
            return Err(unsupported("stripe", request));
        };
        let session = self.session(&options, cx).await?;
        let result = match call.action {
            PaymentsAction::CreateInvoice => session.create_invoice(call, cx).await,
            PaymentsAction::VoidInvoice => session.void_invoice(call).await,
        };
        // No answer after sending: the next attempt repeats the same keys, so Stripe answers
        // what it did the first time rather than doing it again.
        result.map_err(repeat_is_harmless)
    }
}

#[cfg(test)]
mod tests;
