//! Stripe's webhooks at `/hooks/{token}/stripe`. `Stripe-Signature: t=…,v1=…[,v1=…]` is the
//! hex HMAC-SHA256 of `{t}.{raw body}` under the endpoint's signing secret; any `v1` may match
//! (Stripe sends several while a secret is being rolled), every other scheme (`v0`) is
//! ignored, and a `t` more than five minutes from now is a replay. Events are de-duplicated
//! by their id (`evt_…`), which Stripe keeps on every redelivery.
//!
//! Invoices become events of the invoice's customer (the contact the invoice was made for,
//! by `metadata.stepwise_contact_id`, else by the invoice's email and phone):
//! `invoice.paid` → `payment.succeeded` and `invoice.payment_failed` → `payment.failed`,
//! each with `invoice_id`, `amount_paid`, `amount_due` (what is still owed) and `currency`.
//! A payment of part of an invoice (Stripe's partial payments, API 2025-03-31 and later) is
//! the `invoice.updated` whose `previous_attributes` show `amount_paid` rising while the
//! invoice stays open with money owed: it becomes `payment.succeeded` with `amount_due`
//! above zero, which the invoice module thanks with the balance. (`invoice_payment.paid`
//! names the invoice but not its customer or balance.) Other events, and other updates, are
//! acknowledged and ignored, as are invoices with no customer we could name.

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::Sha256;
use stepwise_core::{
    HookError, HookReply, HookRequest, HookVerdict, InboundFact, ProviderSetting, Secret,
    WebhookSource,
};

use super::Options;

/// How far a signature's timestamp may be from now (Stripe's libraries use five minutes).
pub const TOLERANCE_SECONDS: i64 = 300;

/// The source of `/hooks/{token}/stripe`.
#[derive(Debug, Clone, Copy)]
pub struct StripeHooks;

#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: Invoice,
    /// On `*.updated`: the changed fields' values before the change.
    #[serde(default)]
    previous_attributes: Map<String, Value>,
}

/// The invoice fields read (present in every API version since 2020).
#[derive(Debug, Default, Deserialize)]
struct Invoice {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    amount_paid: Option<i64>,
    #[serde(default)]
    amount_remaining: Option<i64>,
    #[serde(default)]
    total: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    hosted_invoice_url: Option<String>,
    #[serde(default)]
    customer: Option<Value>,
    #[serde(default)]
    customer_email: Option<String>,
    #[serde(default)]
    customer_phone: Option<String>,
    #[serde(default)]
    customer_name: Option<String>,
    #[serde(default)]
    attempt_count: Option<i64>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    metadata: Map<String, Value>,
}

/// Checks a `Stripe-Signature` header over `body` at `now` (Unix seconds).
pub fn verify(secret: &str, body: &[u8], header: &str, now: i64) -> Result<(), HookError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v1)) => signatures.extend(hex::decode(v1).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(HookError::BadSignature)?;
    let mac = {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    };
    // Each comparison is constant-time (`verify_slice`).
    if !signatures
        .iter()
        .any(|signature| mac.clone().verify_slice(signature).is_ok())
    {
        return Err(HookError::BadSignature);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(HookError::Stale(format!(
            "signed at {timestamp}, now {now}: more than {TOLERANCE_SECONDS} s apart"
        )));
    }
    Ok(())
}

/// Whether an `invoice.updated` records a payment of part of the invoice: more paid than
/// before, the invoice still open, money still owed (the payment in full is `invoice.paid`).
fn is_partial_payment(invoice: &Invoice, before: &Map<String, Value>) -> bool {
    let paid_before = before.get("amount_paid").and_then(Value::as_i64);
    match (paid_before, invoice.amount_paid, invoice.amount_remaining) {
        (Some(before), Some(now), Some(owed)) => {
            now > before && owed > 0 && invoice.status.as_deref() == Some("open")
        }
        _ => false,
    }
}

/// A field's text, unless blank.
fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Who the invoice is for, as the inbound service reads a contact.
fn contact_of(invoice: &Invoice) -> Map<String, Value> {
    let mut contact = Map::new();
    if let Some(id) = invoice
        .metadata
        .get("stepwise_contact_id")
        .and_then(Value::as_str)
        .filter(|id| !id.trim().is_empty())
    {
        contact.insert("id".into(), json!(id.trim()));
    }
    if let Some(email) = text(&invoice.customer_email) {
        contact.insert("email".into(), json!(email));
    }
    if let Some(phone) = text(&invoice.customer_phone) {
        contact.insert("phone".into(), json!(phone));
    }
    if contact.is_empty() {
        return contact;
    }
    if let Some(name) = text(&invoice.customer_name) {
        let mut parts = name.splitn(2, ' ');
        contact.insert("first_name".into(), json!(parts.next().unwrap_or_default()));
        if let Some(last) = parts.next() {
            contact.insert("last_name".into(), json!(last.trim()));
        }
    }
    contact
}

impl WebhookSource for StripeHooks {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn signing_credential(&self, setting: Option<&ProviderSetting>) -> Option<String> {
        let configured = setting
            .filter(|s| s.provider == "stripe")
            .and_then(|s| crate::provider::options::<Options>(&s.options).ok());
        Some(
            configured.map_or_else(super::default_webhook_secret_credential, |o| {
                o.webhook_secret_credential
            }),
        )
    }

    fn receive(
        &self,
        request: &HookRequest<'_>,
        _: Option<&ProviderSetting>,
        secret: Option<&Secret>,
    ) -> Result<HookVerdict, HookError> {
        let secret = crate::hooks::signed_post(request, secret, "Stripe", "stripe_webhook_secret")?;
        let header = request
            .header("stripe-signature")
            .ok_or(HookError::BadSignature)?;
        verify(secret.expose(), request.body, header, request.now)?;
        let ignored = HookVerdict {
            facts: Vec::new(),
            reply: HookReply::Empty,
        };
        // Read the type first: events of other objects have other shapes.
        let kind = serde_json::from_slice::<Value>(request.body)
            .map_err(|e| HookError::Malformed(format!("not a Stripe event: {e}")))?
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let event_type = match kind.as_deref() {
            // An update counts only as a partial payment (checked below).
            Some("invoice.paid" | "invoice.updated") => "payment.succeeded",
            Some("invoice.payment_failed") => "payment.failed",
            Some(_) => return Ok(ignored),
            None => return Err(HookError::Malformed("the event has no type".into())),
        };
        let event: Event = serde_json::from_slice(request.body)
            .map_err(|e| HookError::Malformed(format!("not a Stripe invoice event: {e}")))?;
        let invoice = event.data.object;
        if event.kind == "invoice.updated"
            && !is_partial_payment(&invoice, &event.data.previous_attributes)
        {
            return Ok(ignored);
        }
        let contact = contact_of(&invoice);
        if contact.is_empty() || invoice.id.is_none() {
            return Ok(ignored);
        }
        let customer = match &invoice.customer {
            Some(Value::String(id)) => Some(id.clone()),
            Some(Value::Object(expanded)) => expanded
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        let data = json!({
            "invoice_id": invoice.id, "amount_paid": invoice.amount_paid,
            "amount_due": invoice.amount_remaining, "total": invoice.total,
            "currency": invoice.currency, "url": invoice.hosted_invoice_url,
            "customer_id": customer, "attempt_count": invoice.attempt_count,
            "stripe_event": event.kind,
        });
        Ok(HookVerdict {
            facts: vec![InboundFact::Event {
                id: event.id,
                event_type: event_type.into(),
                contact,
                data,
            }],
            reply: HookReply::Empty,
        })
    }
}

#[cfg(test)]
#[path = "hooks_tests.rs"]
mod tests;
