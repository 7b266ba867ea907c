//! Stripe's webhooks: the shared signature vector and every variant of it, and which events
//! become payment events of which contact (a partial payment included).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use stepwise_core::{HookError, HookRequest, InboundFact, Secret, WebhookSource};

use super::{StripeHooks, verify};

fn vector() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/webhook-signature-vectors.json"
    );
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("JSON");
    all["stripe"].clone()
}

fn sign(secret: &str, t: i64, body: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn the_shared_vector_passes_and_every_variant_fails() {
    let v = vector();
    let (secret, body, header) = (
        v["secret"].as_str().unwrap(),
        v["payload"].as_str().unwrap(),
        v["expected"].as_str().unwrap(),
    );
    let t = v["timestamp"].as_i64().unwrap();
    assert_eq!(verify(secret, body.as_bytes(), header, t), Ok(()));
    assert_eq!(verify(secret, body.as_bytes(), header, t + 300), Ok(()));
    assert!(matches!(
        verify(secret, body.as_bytes(), header, t + 301),
        Err(HookError::Stale(_))
    ));
    let bad = Err(HookError::BadSignature);
    assert_eq!(verify("whsec_other", body.as_bytes(), header, t), bad);
    assert_eq!(verify(secret, b"{}", header, t), bad);
    let moved = header.replace("t=12345", "t=12346");
    assert_eq!(verify(secret, body.as_bytes(), &moved, t), bad);
    let v0 = header.replace("v1=", "v0=");
    assert_eq!(
        verify(secret, body.as_bytes(), &v0, t),
        bad,
        "only v1 counts"
    );
    assert_eq!(verify(secret, body.as_bytes(), "v1=abc", t), bad);
    // While a secret is rolled Stripe signs with both: either may match.
    let rolled = format!("t={t},v1={},{}", sign("whsec_new", t, body), &header[8..]);
    assert_eq!(verify(secret, body.as_bytes(), &rolled, t), Ok(()));
}

fn receive(body: &str, header: Option<String>, now: i64) -> Result<Vec<InboundFact>, HookError> {
    let mut headers = BTreeMap::from([("content-type".to_owned(), "application/json".to_owned())]);
    if let Some(header) = header {
        headers.insert("stripe-signature".into(), header);
    }
    let request = HookRequest {
        method: "POST",
        url: "https://s.test/hooks/t/stripe",
        headers: &headers,
        body: body.as_bytes(),
        now,
    };
    StripeHooks
        .receive(&request, None, Some(&Secret::new("whsec_e2e")))
        .map(|v| v.facts)
}

#[test]
fn paid_and_failed_invoices_become_payment_events_of_their_contact() {
    let now = 1_790_000_000;
    let event = |kind: &str, metadata: Value| {
        json!({"id": "evt_1", "object": "event", "type": kind, "data": {"object": {
            "id": "in_1", "object": "invoice", "amount_paid": 12550, "amount_remaining": 0,
            "total": 12550, "currency": "usd", "customer": "cus_1", "customer_email": "ana@example.com",
            "customer_name": "Ana Díaz", "customer_phone": null, "metadata": metadata}}})
        .to_string()
    };
    let body = event("invoice.paid", json!({"stepwise_contact_id": "ct_ana"}));
    let header = Some(format!("t={now},v1={}", sign("whsec_e2e", now, &body)));
    let facts = receive(&body, header.clone(), now + 10).unwrap();
    let [
        InboundFact::Event {
            id,
            event_type,
            contact,
            data,
        },
    ] = facts.as_slice()
    else {
        panic!("{facts:?}")
    };
    assert_eq!(
        (id.as_str(), event_type.as_str()),
        ("evt_1", "payment.succeeded")
    );
    assert_eq!(contact["id"], "ct_ana");
    assert_eq!(contact["email"], "ana@example.com");
    assert_eq!(contact["last_name"], "Díaz");
    assert_eq!(data["invoice_id"], "in_1");
    assert_eq!(
        (data["amount_paid"].as_i64(), data["amount_due"].as_i64()),
        (Some(12550), Some(0))
    );

    let failed = event("invoice.payment_failed", json!({}));
    let header = Some(format!("t={now},v1={}", sign("whsec_e2e", now, &failed)));
    let facts = receive(&failed, header, now).unwrap();
    let [
        InboundFact::Event {
            event_type,
            contact,
            ..
        },
    ] = facts.as_slice()
    else {
        panic!("{facts:?}")
    };
    assert_eq!(event_type, "payment.failed");
    assert!(
        contact.get("id").is_none(),
        "an invoice made elsewhere is found by email"
    );

    let other =
        json!({"id": "evt_2", "type": "customer.created", "data": {"object": {"id": "cus_1"}}})
            .to_string();
    let header = Some(format!("t={now},v1={}", sign("whsec_e2e", now, &other)));
    assert_eq!(
        receive(&other, header, now),
        Ok(vec![]),
        "other events are acknowledged"
    );
    assert_eq!(receive(&body, None, now), Err(HookError::BadSignature));
    let old = Some(format!("t={now},v1={}", sign("whsec_e2e", now, &body)));
    assert!(
        matches!(receive(&body, old, now + 3600), Err(HookError::Stale(_))),
        "a replay an hour later"
    );
}

/// A signed `invoice.updated` of invoice `in_1`: `invoice` over Ana's open invoice of 12,550
/// cents, and `before` as its `previous_attributes`.
fn updated(invoice: Value, before: Value, now: i64) -> (String, Option<String>) {
    let mut object = json!({"id": "in_1", "object": "invoice", "status": "open", "total": 12550,
        "amount_paid": 0, "amount_remaining": 12550, "currency": "usd", "customer": "cus_1",
        "customer_email": "ana@example.com", "metadata": {"stepwise_contact_id": "ct_ana"}});
    for (k, v) in invoice.as_object().unwrap() {
        object[k] = v.clone();
    }
    let body = json!({"id": "evt_u", "object": "event", "type": "invoice.updated",
        "data": {"object": object, "previous_attributes": before}})
    .to_string();
    let header = Some(format!("t={now},v1={}", sign("whsec_e2e", now, &body)));
    (body, header)
}

#[test]
fn a_partial_payment_is_a_payment_with_money_still_due() {
    let now = 1_790_000_000;
    let (body, header) = updated(
        json!({"amount_paid": 5000, "amount_remaining": 7550}),
        json!({"amount_paid": 0, "amount_remaining": 12550}),
        now,
    );
    let facts = receive(&body, header, now).unwrap();
    let [
        InboundFact::Event {
            event_type,
            contact,
            data,
            ..
        },
    ] = facts.as_slice()
    else {
        panic!("{facts:?}")
    };
    assert_eq!(event_type, "payment.succeeded");
    assert_eq!(contact["id"], "ct_ana");
    assert_eq!(
        (data["amount_paid"].as_i64(), data["amount_due"].as_i64()),
        (Some(5000), Some(7550))
    );
    assert_eq!(data["stripe_event"], "invoice.updated");

    // Updates that are not a payment of part of it: another field, the last payment (which
    // invoice.paid reports), a payment taken back, a void.
    for (invoice, before) in [
        (
            json!({"description": "Cleaning"}),
            json!({"description": null}),
        ),
        (
            json!({"amount_paid": 12550, "amount_remaining": 0, "status": "paid"}),
            json!({"amount_paid": 5000, "amount_remaining": 7550, "status": "open"}),
        ),
        (
            json!({"amount_paid": 0, "amount_remaining": 12550}),
            json!({"amount_paid": 5000, "amount_remaining": 7550}),
        ),
        (
            json!({"amount_paid": 5000, "amount_remaining": 7550, "status": "void"}),
            json!({"amount_paid": 0, "status": "open"}),
        ),
    ] {
        let (body, header) = updated(invoice.clone(), before, now);
        assert_eq!(receive(&body, header, now), Ok(vec![]), "{invoice}");
    }
}
