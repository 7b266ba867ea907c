//! Usage and plans through the real binary, on both backends: the operator's plans file caps a
//! tenant's SMS segments; `GET /v1/usage` counts what was sent; 80 % and 100 % each give one
//! audited notice; at 100 % marketing sends are refused with `quota_exceeded` while
//! transactional ones go on, until the operator moves the tenant to a plan that exempts
//! nothing (a reply by hand is then 429 `quota_exceeded`); a tenant cannot change its own
//! plan, and another tenant's usage is its own. Language-model tokens are metered per call
//! and capped the same way: at 100 % an `llm` step fails with `quota_exceeded` and the flow
//! takes its `on_error` path.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::Backend;
use common::audience::zone_at;
use common::client::Client;
use reqwest::Method;
use serde_json::{Value, json};

const PLANS: &str = "default: starter
plans:
  starter: {sms_segments: 5, contacts: 1000}
  strict: {sms_segments: 5, exempt_transactional: false}
";

fn flow(id: &str, purpose: &str) -> String {
    format!(
        "id: {id}\npurpose: {purpose}\nquiet_hours: off\ntrigger: {{event: {id}.due}}\nsteps:\n  - id: text\n    send_sms: {{body: 'Hi {{{{contact.first_name}}}}, a note from us.'}}\n"
    )
}

/// Starts `flow`'s run for a new contact and answers how its text ended: `sent`, or the
/// reason it was suppressed.
async fn send(api: &Client, key: &str, flow: &str, n: u32) -> String {
    let event = json!({"type": format!("{flow}.due"),
        "contact": {"phone": format!("+1512555{:04}", 200 + n), "first_name": "Ana"}});
    let accepted = api.post("/v1/events", key, &event).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let run = accepted.body["started"][0].as_str().unwrap().to_owned();
    let done = api
        .run_until(key, &run, |r| r["run"]["status"] == "completed")
        .await;
    let entries = done["timeline"].as_array().unwrap();
    entries
        .iter()
        .find_map(|e| match e["kind"].as_str() {
            Some("sent") => Some("sent".to_owned()),
            Some("suppressed") => Some(e["reason"].as_str().unwrap_or_default().to_owned()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{done}"))
}

fn levels(usage: &Value) -> Vec<(String, u64)> {
    usage["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["metric"].as_str().unwrap().to_owned(),
                n["level"].as_u64().unwrap(),
            )
        })
        .collect()
}

async fn plans_cap_sends(backend: &Backend, dir: &std::path::Path) {
    let plans = dir.join("plans.yaml");
    std::fs::write(&plans, PLANS).unwrap();
    let env = [("STEPWISE_PLANS", plans.to_str().unwrap())];
    let (_server, base) = common::start_server_with(dir, backend, "all", &env);
    let api = Client::new(&base);
    let key = api.tenant("salon").await;
    // Where it is midday, so that the marketing texts are not held by quiet hours.
    let zone = json!({"timezone": zone_at(12)});
    assert_eq!(
        api.patch("/v1/settings", &key, &zone).await.status,
        StatusCode::OK
    );
    let other = api.tenant("plumber").await;
    for (id, purpose) in [("promo", "marketing"), ("receipt", "transactional")] {
        let published = api
            .yaml(Method::POST, "/v1/flows", &key, &flow(id, purpose))
            .await;
        assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    }

    // A business cannot pick its own plan.
    let own = api
        .patch("/v1/settings", &key, &json!({"plan": "strict"}))
        .await;
    assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", own.body);
    let usage = api.get("/v1/usage", &key).await.body;
    assert_eq!(usage["plan"], "starter", "{usage}");

    for n in 0..4 {
        assert_eq!(send(&api, &key, "promo", n).await, "sent");
    }
    let usage = api
        .get_until("/v1/usage", &key, |u| {
            !u["notices"].as_array().unwrap().is_empty()
        })
        .await;
    assert_eq!(usage["this_month"]["sms_segments"], 4, "{usage}");
    assert_eq!(usage["today"]["sms_messages"], 4, "{usage}");
    assert_eq!(
        usage["limits"]["sms_segments"],
        json!({"used": 4, "limit": 5, "percent": 80})
    );
    assert_eq!(usage["contacts"], 4);
    assert_eq!(levels(&usage), [("sms_segments".to_owned(), 80)]);
    assert_eq!(usage["refusing"], json!([]));

    // The fifth segment fills the plan: marketing is refused with the code, receipts go on.
    assert_eq!(send(&api, &key, "promo", 4).await, "sent");
    let usage = api
        .get_until("/v1/usage", &key, |u| u["refusing"] == json!(["sms"]))
        .await;
    assert_eq!(
        levels(&usage),
        [
            ("sms_segments".to_owned(), 80),
            ("sms_segments".to_owned(), 100)
        ]
    );
    let refused = send(&api, &key, "promo", 5).await;
    assert!(refused.starts_with("quota_exceeded"), "{refused}");
    assert_eq!(send(&api, &key, "receipt", 6).await, "sent");
    let audit = api.get("/v1/audit", &key).await.body.to_string();
    assert_eq!(
        audit.matches("usage.threshold").count(),
        2,
        "one entry per level: {audit}"
    );

    // The operator moves it to a plan that exempts nothing; a plan it does not have is refused.
    let path = "/v1/tenants/salon/plan";
    let operator = common::OPERATOR_KEY;
    let unknown = api
        .send(
            Method::PUT,
            path,
            operator,
            "application/json",
            json!({"plan": "gold"}).to_string(),
        )
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.body
    );
    let theirs = api
        .send(
            Method::PUT,
            path,
            &key,
            "application/json",
            json!({"plan": "strict"}).to_string(),
        )
        .await;
    assert!(theirs.status.is_client_error() && theirs.status != StatusCode::UNPROCESSABLE_ENTITY);
    let moved = api
        .send(
            Method::PUT,
            path,
            operator,
            "application/json",
            json!({"plan": "strict"}).to_string(),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let receipt = send(&api, &key, "receipt", 7).await;
    assert!(receipt.starts_with("quota_exceeded"), "{receipt}");
    // A reply by hand on that plan is refused at once, with the code.
    let conversation = api.get("/v1/conversations", &key).await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = json!({"text": "We are on our way.", "quiet_hours_override": true});
    let refused = api
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            &key,
            &reply,
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert_eq!(refused.code(), "quota_exceeded");

    // Another business: its own usage, nothing refused.
    let theirs = api.get("/v1/usage", &other).await.body;
    assert_eq!(theirs["this_month"]["sms_segments"], 0, "{theirs}");
    assert_eq!(theirs["refusing"], json!([]));
    assert_eq!(levels(&theirs), []);
}

common::place::on_both_backends!(
    plans_cap_sends,
    "usage",
    plans_cap_sends_on_sqlite,
    plans_cap_sends_on_postgres
);

const TRIAGE: &str = "id: triage
purpose: transactional
trigger: {event: message.in}
steps:
  - id: draft
    llm: {prompt: 'Classify this message: {{event.data.body}}'}
    on_error: continue
";

async fn plans_cap_ai_tokens(backend: &Backend, dir: &std::path::Path) {
    let plans = dir.join("plans.yaml");
    std::fs::write(
        &plans,
        "default: metered\nplans:\n  metered: {ai_tokens: 40}\n",
    )
    .unwrap();
    let env = [("STEPWISE_PLANS", plans.to_str().unwrap())];
    let (_server, base) = common::start_server_with(dir, backend, "all", &env);
    let api = Client::new(&base);
    let key = api.tenant("agency").await;
    let published = api.yaml(Method::POST, "/v1/flows", &key, TRIAGE).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    let triage = |n: u32| {
        let api = &api;
        let key = &key;
        async move {
            let event = json!({"type": "message.in", "data": {"body": format!("message number {n}")},
                "contact": {"phone": format!("+1512555{:04}", 300 + n)}});
            let accepted = api.post("/v1/events", key, &event).await;
            assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
            let run = accepted.body["started"][0].as_str().unwrap().to_owned();
            api.run_until(key, &run, |r| r["run"]["status"] == "completed")
                .await["outputs"]["draft"]
                .clone()
        }
    };

    // Each call's tokens, as its step answered them, add up in the month and the day.
    let mut tokens = 0;
    while tokens * 100 < 40 * 80 {
        let draft = triage(tokens as u32).await;
        let used = draft["tokens"]
            .as_u64()
            .unwrap_or_else(|| panic!("{draft}"));
        assert!(used > 0, "{draft}");
        tokens += used;
    }
    let usage = api.get("/v1/usage", &key).await.body;
    assert_eq!(usage["this_month"]["ai_tokens"], tokens, "{usage}");
    assert_eq!(usage["today"]["ai_tokens"], tokens, "{usage}");
    assert_eq!(usage["limits"]["ai_tokens"]["used"], tokens, "{usage}");
    assert_eq!(levels(&usage)[0], ("ai_tokens".to_owned(), 80), "{usage}");

    // Past the cap, model calls are refused with the code, and the flow goes on.
    while tokens < 40 {
        tokens += triage(tokens as u32).await["tokens"].as_u64().unwrap();
    }
    api.get_until("/v1/usage", &key, |u| u["refusing"] == json!(["llm"]))
        .await;
    let refused = triage(99).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    let error = refused["error"].as_str().unwrap();
    assert!(error.starts_with("quota_exceeded"), "{error}");
    let usage = api.get("/v1/usage", &key).await.body;
    assert_eq!(
        usage["this_month"]["ai_tokens"], tokens,
        "a refused call costs nothing"
    );
}

common::place::on_both_backends!(
    plans_cap_ai_tokens,
    "usage",
    plans_cap_ai_tokens_on_sqlite,
    plans_cap_ai_tokens_on_postgres
);

/// Days and months are the business's own: a text sent now by a business whose date is not
/// UTC's (twelve hours behind in the UTC morning, fourteen ahead later) counts on its own date.
async fn usage_days_are_local(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = common::start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("baker").await;
    let now = jiff::Timestamp::now();
    // An hour's margin either way: UTC−12 differs in date until 12:00 UTC, UTC+14 from 10:00.
    let zone = if now.to_zoned(jiff::tz::TimeZone::UTC).hour() < 11 {
        "Etc/GMT+12"
    } else {
        "Pacific/Kiritimati"
    };
    let settings = json!({"timezone": zone});
    assert_eq!(
        api.patch("/v1/settings", &key, &settings).await.status,
        StatusCode::OK
    );
    let published = api
        .yaml(
            Method::POST,
            "/v1/flows",
            &key,
            &flow("receipt", "transactional"),
        )
        .await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    assert_eq!(send(&api, &key, "receipt", 0).await, "sent");
    let usage = api.get("/v1/usage", &key).await.body;
    let local = jiff::Timestamp::now().in_tz(zone).unwrap().date();
    let utc = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    assert_ne!(
        local, utc,
        "the zone was chosen for a date that is not UTC's"
    );
    assert_eq!(usage["days"][0]["date"], local.to_string(), "{usage}");
    assert_eq!(usage["days"].as_array().unwrap().len(), 1, "{usage}");
    assert_eq!(usage["today"]["sms_messages"], 1, "{usage}");
    let month = format!("{:04}-{:02}", local.year(), local.month());
    assert_eq!(usage["month"], month, "{usage}");
}

common::place::on_both_backends!(
    usage_days_are_local,
    "usagelocal",
    usage_days_are_local_on_sqlite,
    usage_days_are_local_on_postgres
);
