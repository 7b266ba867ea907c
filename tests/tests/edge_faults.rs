//! Twilio misbehaving, through the real binary: the fake answers 429, 500, hangs past the
//! provider timeout, or accepts, in a mixed order, while 24 leads each get one text. No lead's
//! message is lost and none is sent twice: every run ends with its text accepted exactly once,
//! or recorded `uncertain` (a hang after the request arrived: never blindly repeated) with no
//! accepted send; the outbox holds exactly the accepted ones.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::Backend;
use common::client::Client;
use common::fake_twilio::{Answer, FakeTwilio};
use reqwest::Method;
use serde_json::json;

const FLOW: &str = "id: hello
purpose: transactional
trigger: {event: lead.created}
retry: {max: 8, backoff: 1s, max_backoff: 2s}
steps:
  - id: hello
    send_sms: {body: 'Hi {{contact.first_name}}!'}
";

const LEADS: usize = 24;

async fn no_text_is_lost_or_doubled(backend: &Backend, dir: &std::path::Path) {
    let twilio = FakeTwilio::start().await;
    // A mixed order of failures; after it, the fake accepts everything.
    let mut script = Vec::new();
    for i in 0..LEADS * 2 {
        script.push(match i % 6 {
            0 => Answer::Status(429),
            1 => Answer::Status(500),
            3 => Answer::Hang,
            4 => Answer::Status(503),
            _ => Answer::Created,
        });
    }
    twilio.then(script);
    let urls = format!("twilio={}", twilio.base);
    let env = [
        ("STEPWISE_PROVIDER_URLS", urls.as_str()),
        ("STEPWISE_PROVIDER_TIMEOUT", "1"),
    ];
    let (_server, base) = common::start_server_with(dir, backend, "all", &env);
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let settings = json!({"providers": {"sms": {"provider": "twilio",
        "account_sid": "AC0123456789abcdef0123456789abcdef", "from": "+15125550100"}}});
    api.send(
        Method::PATCH,
        "/v1/settings",
        &key,
        "application/json",
        settings.to_string(),
    )
    .await;
    api.send(
        Method::PUT,
        "/v1/settings/credentials/twilio_auth_token",
        &key,
        "application/json",
        json!({"value": "fault-token"}).to_string(),
    )
    .await;
    assert_eq!(
        api.yaml(Method::POST, "/v1/flows", &key, FLOW).await.status,
        StatusCode::CREATED
    );

    let mut runs = Vec::new();
    for n in 0..LEADS {
        let lead = json!({"type": "lead.created", "external_id": format!("lead-{n}"),
                          "contact": {"phone": format!("+1512555{:04}", 2000 + n), "first_name": "Ana"}});
        let accepted = api.post("/v1/events", &key, &lead).await;
        assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
        runs.push((
            format!("+1512555{:04}", 2000 + n),
            accepted.body["started"][0].as_str().unwrap().to_owned(),
        ));
    }

    // Every lead reached the fake at least once.
    twilio.until_sends(LEADS, Duration::from_secs(60)).await;
    let mut uncertain = 0;
    for (phone, run_id) in &runs {
        let run = api
            .run_until(&key, run_id, |r| r["run"]["status"] == "completed")
            .await;
        let kinds: Vec<&str> = run["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .collect();
        let sent = kinds.iter().filter(|k| **k == "sent").count();
        let unsure = kinds.iter().filter(|k| **k == "uncertain").count();
        // Read the fake again: a retry may have landed after the first count.
        let times = twilio
            .sends()
            .iter()
            .filter(|s| s.sid.is_some() && s.field("To") == Some(phone))
            .count();
        assert_eq!(
            (sent, unsure),
            if unsure == 1 { (0, 1) } else { (1, 0) },
            "{phone}: {kinds:?}"
        );
        assert_eq!(
            times, sent,
            "{phone}: accepted {times} times, recorded {sent} sent"
        );
        uncertain += unsure;
    }
    assert!(uncertain > 0, "the script's hangs were exercised");
    let outbox = api.count("/v1/messages", &key).await;
    assert_eq!(
        outbox,
        LEADS - uncertain,
        "one outbox row per accepted text"
    );
    assert!(twilio.violations().is_empty(), "{:?}", twilio.violations());
}

common::place::on_both_backends!(
    no_text_is_lost_or_doubled,
    "faults",
    no_text_is_lost_or_doubled_on_sqlite,
    no_text_is_lost_or_doubled_on_postgres
);
