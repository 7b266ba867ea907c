//! A business's own SMTP server, as providers run one, through the real binary on both
//! backends: the email goes over STARTTLS (the certificate checked against `localhost`, its
//! CA trusted through `SSL_CERT_FILE`) and AUTH PLAIN with the sealed password; a wrong
//! password fails the send at once (535, not retried), and a server that offers no STARTTLS
//! is refused before anything is sent (the password never crosses in the clear).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::Backend;
use common::client::Client;
use common::fake_smtp::{FakeSmtp, test_ca_file};
use reqwest::Method;
use serde_json::{Value, json};

const FLOW: &str = "id: receipt
purpose: transactional
trigger: {event: x.paid}
steps:
  - id: mail
    send_email: {subject: 'Your receipt', body: 'Thanks {{contact.first_name}}, we got your payment.'}
";

/// A business whose email goes through its own server at `port` on `localhost`.
async fn business(api: &Client, id: &str, port: u16, password: &str) -> String {
    let key = api.tenant(id).await;
    let settings = json!({"providers": {"email": {"provider": "smtp", "host": "localhost",
        "port": port, "tls": "starttls", "username": "desk", "from": "Bright Smile <desk@brightsmile.example>"}}});
    let patched = api.patch("/v1/settings", &key, &settings).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let credential = json!({ "value": password }).to_string();
    let path = "/v1/settings/credentials/smtp_password";
    let set = api
        .send(Method::PUT, path, &key, "application/json", credential)
        .await;
    assert!(set.status.is_success(), "{}", set.body);
    let published = api.yaml(Method::POST, "/v1/flows", &key, FLOW).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    key
}

/// Starts the receipt for a customer; answers the run once it ended.
async fn receipt(api: &Client, key: &str) -> Value {
    let event =
        json!({"type": "x.paid", "contact": {"email": "ana@example.com", "first_name": "Ana"}});
    let accepted = api.post("/v1/events", key, &event).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let run = accepted.body["started"][0].as_str().unwrap().to_owned();
    api.run_until(key, &run, |r| {
        r["run"]["status"] == "completed" || r["run"]["status"] == "failed"
    })
    .await
}

async fn smtp_over_tls(backend: &Backend, dir: &std::path::Path) {
    let secure = FakeSmtp::start_secure("desk", "s3cret-app-password").await;
    let clear = FakeSmtp::start().await;
    let ca = test_ca_file();
    let env = [
        ("SSL_CERT_FILE", ca.as_str()),
        ("STEPWISE_ALLOW_PRIVATE", "127.0.0.0/8"),
    ];
    let (_server, base) = common::start_server_with(dir, backend, "all", &env);
    let api = Client::new(&base);

    // STARTTLS, then AUTH: the message arrives encrypted, from the logged-in user.
    let clinic = business(&api, "clinic", secure.port, "s3cret-app-password").await;
    let run = receipt(&api, &clinic).await;
    assert_eq!(run["run"]["status"], "completed", "{run}");
    secure.until_messages(1, Duration::from_secs(10)).await;
    let received = secure.received();
    assert!(received[0].tls, "sent over TLS");
    assert_eq!(received[0].user.as_deref(), Some("desk"));
    assert!(
        received[0].text.contains("Subject: Your receipt"),
        "{}",
        received[0].text
    );

    // A wrong password: 535, a permanent failure, nothing delivered.
    let wrong = business(&api, "salon", secure.port, "not-the-password").await;
    let run = receipt(&api, &wrong).await;
    assert_eq!(run["run"]["status"], "failed", "{run}");
    assert!(run.to_string().contains("535"), "{run}");
    assert_eq!(secure.received().len(), 1);

    // A server without STARTTLS is refused before the login: nothing is sent in the clear.
    let plain = business(&api, "bakery", clear.port, "s3cret-app-password").await;
    let run = receipt(&api, &plain).await;
    assert_eq!(run["run"]["status"], "failed", "{run}");
    assert!(run.to_string().contains("STARTTLS"), "{run}");
    assert!(clear.received().is_empty());
}

common::place::on_both_backends!(
    smtp_over_tls,
    "smtptls",
    smtp_over_tls_on_sqlite,
    smtp_over_tls_on_postgres
);
