//! Stripe through the real binary, on both backends: a tenant chooses Stripe for payments and
//! stores its keys through the API; the invoice auto-flow module, unchanged, creates a real
//! (fake-provider) Stripe invoice for a completed job and texts its pay link; Stripe's signed
//! `invoice.paid` webhook ends the run as paid, after a partial payment (`invoice.updated`)
//! was thanked with the balance. Forged, stale and other-tenant webhooks are refused and store
//! nothing; a redelivered one changes nothing; the keys appear in no answer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::Backend;
use common::client::Client;
use common::fake_stripe::{FakeStripe, sign};
use serde_json::{Value, json};

const PUBLIC: &str = "https://stepwise.test";
const SECRET_KEY: &str = "sk_test_e2eStripeSecretKey4242";
const WEBHOOK_SECRET: &str = "whsec_e2eStripeEndpointSecret";

/// Posts `body` to a Stripe hook path with `signature`; answers the status.
async fn post_hook(base: &str, path: &str, body: &str, signature: &str) -> StatusCode {
    common::http()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json; charset=utf-8")
        .header("stripe-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

async fn stripe_invoices_and_payments(backend: &Backend, dir: &std::path::Path) {
    let stripe = FakeStripe::start(SECRET_KEY).await;
    let urls = format!("stripe={}", stripe.base);
    let env = [
        ("STEPWISE_PUBLIC_URL", PUBLIC),
        ("STEPWISE_PROVIDER_URLS", urls.as_str()),
    ];
    let (_server, base) = common::start_server_with(dir, backend, "all", &env);
    let api = Client::new(&base);
    let key = api.tenant("plumber").await;
    let other = api.tenant("salon").await;

    let settings = json!({"providers": {"payments": {"provider": "stripe"}}});
    let patched = api.patch("/v1/settings", &key, &settings).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let typo =
        json!({"providers": {"payments": {"provider": "stripe", "secret_key": "sk_live_x"}}});
    let refused = api.patch("/v1/settings", &key, &typo).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    api.put_credential(&key, "stripe_secret_key", SECRET_KEY)
        .await;
    api.put_credential(&key, "stripe_webhook_secret", WEBHOOK_SECRET)
        .await;
    let shown = api.get("/v1/settings", &key).await.body;
    let hook_token = shown["hook_token"].as_str().unwrap().to_owned();
    let path = format!("/hooks/{hook_token}/stripe");
    assert_eq!(
        shown["hooks"]["stripe"],
        format!("{PUBLIC}{path}"),
        "{shown}"
    );

    // The module as shipped, open all day so the test does not depend on the hour.
    let install = json!({"config": {"send_from_hour": 0, "send_until_hour": 24}});
    let installed = api
        .post("/v1/modules/invoice-autoflow/install", &key, &install)
        .await;
    assert!(installed.status.is_success(), "{}", installed.body);
    let job = json!({"type": "job.completed", "external_id": "job-7",
        "contact": {"phone": "+15125550177", "email": "ana@example.com", "first_name": "Ana", "last_name": "Díaz"},
        "data": {"amount_cents": 12550, "description": "Water heater", "job_id": "J-7"}});
    let accepted = api.post("/v1/events", &key, &job).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let run = accepted.body["started"][0].as_str().unwrap().to_owned();
    let waiting = api
        .run_until(&key, &run, |r| r["run"]["status"] == "waiting")
        .await;

    // One customer, one open invoice of the job's amount, its hosted page in the text.
    assert_eq!(stripe.violations(), Vec::<String>::new());
    let customers = stripe.customers();
    assert_eq!(customers.len(), 1, "{customers:?}");
    assert_eq!(customers[0]["email"], "ana@example.com");
    assert_eq!(customers[0]["name"], "Ana Díaz");
    let invoices = stripe.invoices();
    assert_eq!(invoices.len(), 1, "{invoices:?}");
    let invoice = &invoices[0];
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["total"], 12550);
    assert_eq!(invoice["metadata"]["stepwise_run_id"], run.as_str());
    let invoice_id = invoice["id"].as_str().unwrap().to_owned();
    let outbox = api.get("/v1/messages", &key).await.body;
    let text = outbox["data"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("$125.50"), "{text}");
    let short = text
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{PUBLIC}/l/")))
        .unwrap_or_else(|| panic!("no pay link: {text}"));
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let opened = browser
        .get(short.replace(PUBLIC, &base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        opened.headers()["location"],
        format!("https://invoice.stripe.test/i/{invoice_id}").as_str()
    );
    let shown = waiting.to_string();
    assert!(!shown.contains(SECRET_KEY) && !shown.contains(WEBHOOK_SECRET));

    // Refused, and nothing stored: forged, unsigned-by-us, stale, another tenant's token.
    let paid = stripe.paid_event(&invoice_id, "evt_paid_1");
    let contact = waiting["run"]["contact_id"].as_str().unwrap().to_owned();
    let export = format!("/v1/contacts/{contact}/export");
    let payments = |exported: &Value| -> Vec<Value> {
        exported["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"]["type"] == "payment.succeeded")
            .cloned()
            .collect()
    };
    let contacts = (
        api.count("/v1/contacts", &key).await,
        api.count("/v1/contacts", &other).await,
    );
    let t = now();
    for (what, hook, signature) in [
        ("wrong secret", path.clone(), sign("whsec_forged", t, &paid)),
        ("stale", path.clone(), sign(WEBHOOK_SECRET, t - 3600, &paid)),
        ("no v1", path.clone(), format!("t={t}")),
    ] {
        assert_eq!(
            post_hook(&base, &hook, &paid, &signature).await,
            StatusCode::UNAUTHORIZED,
            "{what}"
        );
    }
    let theirs = api.get("/v1/settings", &other).await.body["hook_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let their_path = format!("/hooks/{theirs}/stripe");
    let signed = sign(WEBHOOK_SECRET, t, &paid);
    assert_eq!(
        post_hook(&base, &their_path, &paid, &signed).await,
        StatusCode::NOT_FOUND,
        "the other tenant has no Stripe: its hook refuses"
    );
    assert_eq!(
        payments(&api.get(&export, &key).await.body),
        Vec::<Value>::new()
    );
    assert_eq!(
        (
            api.count("/v1/contacts", &key).await,
            api.count("/v1/contacts", &other).await
        ),
        contacts
    );

    // A payment of part of it is thanked with the balance; the run waits for the rest.
    let part = stripe.pay_part(&invoice_id, 5000, "evt_part_1");
    let signed_part = sign(WEBHOOK_SECRET, now(), &part);
    assert_eq!(
        post_hook(&base, &path, &part, &signed_part).await,
        StatusCode::NO_CONTENT
    );
    let thanked = api
        .get_until("/v1/messages", &key, |m| {
            m["data"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("remaining balance"))
        })
        .await;
    let text = thanked["data"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("payment of $50.00") && text.contains("balance is $75.50"),
        "{text}"
    );
    let still = api.get(&format!("/v1/runs/{run}"), &key).await.body;
    assert_eq!(still["run"]["status"], "waiting", "{still}");
    let paid = stripe.pay(&invoice_id, "evt_paid_1");
    let signed = sign(WEBHOOK_SECRET, now(), &paid);

    // Stripe's own delivery, then its redelivery: the run ends paid, once, thanking the last
    // payment for what it was (Stripe's amount_paid counts the first one too).
    assert_eq!(
        post_hook(&base, &path, &paid, &signed).await,
        StatusCode::NO_CONTENT
    );
    let done = api
        .run_until(&key, &run, |r| r["run"]["status"] == "completed")
        .await;
    let again = sign(WEBHOOK_SECRET, now(), &paid);
    assert_eq!(
        post_hook(&base, &path, &paid, &again).await,
        StatusCode::NO_CONTENT
    );
    let received = payments(&api.get(&export, &key).await.body);
    assert_eq!(received.len(), 2, "the part and the rest: {received:?}");
    assert!(
        received
            .iter()
            .all(|p| p["event"]["data"]["invoice_id"] == invoice_id.as_str())
    );
    let outbox = api.get("/v1/messages", &key).await.body;
    let last = outbox["data"][0]["text"].as_str().unwrap_or_default();
    assert!(
        last.contains("payment of $75.50") && last.contains("paid in full"),
        "{last}"
    );
    assert_eq!(
        done["run"]["contact_id"],
        contact.as_str(),
        "the invoice's own contact"
    );
    let tags = api.get(&format!("/v1/contacts/{contact}"), &key).await.body["tags"].clone();
    assert!(tags.as_array().unwrap().contains(&json!("paid")), "{tags}");
    assert_eq!(stripe.invoices().len(), 1, "no second invoice");
}

common::place::on_both_backends!(
    stripe_invoices_and_payments,
    "stripe",
    stripe_invoices_and_payments_on_sqlite,
    stripe_invoices_and_payments_on_postgres
);
