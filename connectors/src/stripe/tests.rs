//! Stripe against a fake on 127.0.0.1: the connector contract, the four calls of an invoice
//! with their idempotency keys, and Stripe's own retry advice (the webhooks: `hooks_tests.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, json};
use stepwise_core::{
    CallCx, ConnectorError, Payer, PaymentsAction, PaymentsCall, ProviderSetting, Request, Response,
};

use super::Stripe;
use crate::provider::Provider;
use crate::testing::{Answer, Case, Fake, MapVault, conformance, env};

const KEY: &str = "sk_test_51Hx9stepwiseSecretKey";

fn invoice(_: &str) -> Request {
    Request::Payments(PaymentsCall {
        action: PaymentsAction::CreateInvoice,
        fields: json!({"amount": "12550", "currency": "USD", "description": "Water heater",
            "due_days": "14"})
        .as_object()
        .cloned()
        .unwrap_or_default(),
        payer: Payer {
            contact_id: "ct_ana".into(),
            name: Some("Ana Díaz".into()),
            email: Some("ana@example.com".into()),
            phone: Some("+15125550177".into()),
        },
    })
}

fn stripe(fake: &Fake) -> Stripe {
    Stripe::new(env(
        "stripe",
        &fake.base,
        MapVault::with("t1", &[("stripe_secret_key", KEY)]),
    ))
}

fn form(body: &str) -> BTreeMap<String, String> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

#[tokio::test]
async fn stripe_meets_the_connector_contract() {
    let everything = json!({"id": "in_1", "object": "invoice", "data": [],
        "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test_1"});
    conformance(Case {
        name: "stripe",
        make: |env| Arc::new(Stripe::new(env)),
        request: invoice,
        setting: ProviderSetting {
            provider: "stripe".into(),
            options: Map::new(),
        },
        credentials: vec![("stripe_secret_key", KEY)],
        success: Answer::json(200, everything),
        client_error: (
            Answer::json(
                404,
                json!({"error": {"type": "invalid_request_error", "code": "resource_missing",
                    "message": "No such customer: 'cus_x'"}}),
            ),
            "resource_missing",
        ),
        deduplicates: true,
    })
    .await;
}

#[tokio::test]
async fn an_invoice_is_a_customer_an_invoice_an_item_and_a_finalize_under_one_key() {
    let fake = Fake::start(Answer::json(
        500,
        json!({"error": {"message": "unscripted"}}),
    ))
    .await;
    fake.then([
        Answer::json(200, json!({"object": "list", "data": []})),
        Answer::json(200, json!({"id": "cus_1", "object": "customer"})),
        Answer::json(200, json!({"id": "in_1", "object": "invoice"})),
        Answer::json(200, json!({"id": "ii_1", "object": "invoiceitem"})),
        Answer::json(
            200,
            json!({"id": "in_1", "object": "invoice",
                "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test_1"}),
        ),
    ]);
    let cx = CallCx::bare("t1", "run1", "invoice");
    let answer = stripe(&fake)
        .call(&invoice(""), &Map::new(), &cx)
        .await
        .unwrap();
    let Response::Payment(paid) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(paid.invoice_id, "in_1");
    assert_eq!(
        paid.url.as_deref(),
        Some("https://invoice.stripe.com/i/acct_1/test_1")
    );
    assert!(!paid.sandbox);

    let seen = fake.seen();
    let calls: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| {
            (
                s.method.as_str(),
                s.path.split('?').next().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("GET", "/v1/customers"),
            ("POST", "/v1/customers"),
            ("POST", "/v1/invoices"),
            ("POST", "/v1/invoiceitems"),
            ("POST", "/v1/invoices/in_1/finalize"),
        ]
    );
    assert!(
        seen[0].path.contains("email=ana%40example.com"),
        "{}",
        seen[0].path
    );
    for s in &seen {
        assert_eq!(s.headers["authorization"], format!("Bearer {KEY}"));
    }
    let keys: Vec<Option<&str>> = seen
        .iter()
        .map(|s| s.headers.get("idempotency-key").map(String::as_str))
        .collect();
    assert_eq!(
        keys,
        [
            None,
            Some("stepwise:t1:run1:invoice:customer"),
            Some("stepwise:t1:run1:invoice:invoice"),
            Some("stepwise:t1:run1:invoice:item"),
            Some("stepwise:t1:run1:invoice:finalize"),
        ]
    );
    let customer = form(&seen[1].body);
    assert_eq!(customer["name"], "Ana Díaz");
    assert_eq!(customer["phone"], "+15125550177");
    assert_eq!(customer["metadata[stepwise_contact_id]"], "ct_ana");
    let created = form(&seen[2].body);
    assert_eq!(created["customer"], "cus_1");
    assert_eq!(created["collection_method"], "send_invoice");
    assert_eq!(created["days_until_due"], "14");
    assert_eq!(created["currency"], "usd");
    assert_eq!(created["pending_invoice_items_behavior"], "exclude");
    assert_eq!(created["metadata[stepwise_run_id]"], "run1");
    let item = form(&seen[3].body);
    assert_eq!(
        (
            item["invoice"].as_str(),
            item["amount"].as_str(),
            item["description"].as_str()
        ),
        ("in_1", "12550", "Water heater")
    );

    // A later attempt of the same step (after a lost answer) finds the customer by email and
    // repeats the same keys, so Stripe answers what it did instead of a second invoice.
    fake.then([
        Answer::json(200, json!({"object": "list", "data": [{"id": "cus_1"}]})),
        Answer::json(200, json!({"id": "in_1"})),
        Answer::json(200, json!({"id": "ii_1"})),
        Answer::json(
            200,
            json!({"id": "in_1", "hosted_invoice_url": "https://x.test"}),
        ),
    ]);
    let again = CallCx {
        idempotency_key: "run1:invoice:2".into(),
        ..cx
    };
    stripe(&fake)
        .call(&invoice(""), &Map::new(), &again)
        .await
        .unwrap();
    let retried: Vec<Option<String>> = fake.seen()[5..]
        .iter()
        .map(|s| s.headers.get("idempotency-key").cloned())
        .collect();
    assert_eq!(
        retried[1].as_deref(),
        Some("stepwise:t1:run1:invoice:invoice")
    );
    assert_eq!(
        retried[3].as_deref(),
        Some("stepwise:t1:run1:invoice:finalize")
    );
}

#[tokio::test]
async fn stripes_own_retry_advice_decides() {
    let fake = Fake::start(Answer::json(200, json!({"data": []}))).await;
    let call = |fake: &Fake| {
        let stripe = stripe(fake);
        async move {
            stripe
                .call(&invoice(""), &Map::new(), &CallCx::bare("t1", "r", "s"))
                .await
        }
    };
    let error = |status: u16, headers: Vec<(&'static str, String)>, code: &str| Answer::Reply {
        status,
        headers,
        body: json!({"error": {"type": "api_error", "code": code, "message": "boom"}}).to_string(),
    };
    fake.then([error(500, vec![("idempotent-replayed", "true".into())], "")]);
    assert!(
        matches!(call(&fake).await, Err(ConnectorError::Permanent { .. })),
        "a saved 500 replays forever: permanent"
    );
    fake.then([error(
        503,
        vec![("stripe-should-retry", "false".into())],
        "x",
    )]);
    assert!(matches!(
        call(&fake).await,
        Err(ConnectorError::Permanent { .. })
    ));
    fake.then([error(409, vec![], "idempotency_key_in_use")]);
    assert!(matches!(
        call(&fake).await,
        Err(ConnectorError::Retryable { .. })
    ));
    fake.then([error(
        400,
        vec![("stripe-should-retry", "true".into())],
        "lock_timeout",
    )]);
    assert!(matches!(
        call(&fake).await,
        Err(ConnectorError::Retryable { .. })
    ));
}

#[tokio::test]
async fn voiding_names_a_stripe_invoice_or_sends_nothing() {
    let fake = Fake::start(Answer::json(200, json!({"id": "in_9", "status": "void"}))).await;
    let void = |id: &str| {
        Request::Payments(PaymentsCall {
            action: PaymentsAction::VoidInvoice,
            fields: json!({"invoice_id": id})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            payer: Payer::default(),
        })
    };
    let cx = CallCx::bare("t1", "r", "s");
    let stripe = stripe(&fake);
    let bad = stripe
        .call(&void("in_9/../../v1/refunds"), &Map::new(), &cx)
        .await;
    assert_eq!(bad.unwrap_err().code(), Some("bad_invoice_id"));
    assert!(fake.seen().is_empty());
    stripe.call(&void("in_9"), &Map::new(), &cx).await.unwrap();
    assert_eq!(fake.seen()[0].path, "/v1/invoices/in_9/void");
}
