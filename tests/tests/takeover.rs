//! Answering from the inbox through the real binary, on both backends: a member's reply by
//! hand goes through the send path (quiet hours hold it unless overridden, the override and
//! the member are recorded, a repeated key sends once, a bad template or an oversized subject
//! is refused, an opt-out is honoured); a contact who asks for a person, or staff, put the conversation in
//! `needs_human`, the contact's automated messages hold until a release (or end, when the
//! business chose so); a flow's `hand_over` step does the same; each takeover alerts the team
//! through the tenant's notify provider (a fake Slack); another tenant can do none of it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::{Method, StatusCode};
use common::client::Client;
use common::fake_slack::{FakeSlack, WEBHOOK};
use common::{Backend, start_server_with};
use serde_json::{Value, json};

const ANA: &str = "+15125550171";

async fn says(api: &Client, key: &str, body: &str) {
    let event = json!({"type": "message.received", "contact": {"phone": ANA, "first_name": "Ana"},
        "data": {"channel": "sms", "body": body, "to": "+15125550100"}});
    let accepted = api.post("/v1/events", key, &event).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
}

/// Quiet hours that hold now: from the last full hour to two hours later, in UTC.
fn quiet_now() -> Value {
    let hour = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .hour();
    json!({"start": format!("{:02}:00", hour), "end": format!("{:02}:00", (hour + 2) % 24)})
}

async fn thread(api: &Client, key: &str, id: &str, length: usize) -> Value {
    let path = format!("/v1/conversations/{id}");
    api.get_until(&path, key, |t| {
        t["messages"].as_array().map(Vec::len) == Some(length)
    })
    .await
}

/// The contact's runs of the auto-reply flow with `status`.
async fn auto_replies(api: &Client, key: &str, status: &str, count: usize) -> Value {
    let path = format!("/v1/runs?flow_id=auto-reply&status={status}");
    api.get_until(&path, key, |page| {
        page["data"].as_array().map(Vec::len) == Some(count)
    })
    .await
}

/// A server whose tenant `clinic` sends its staff alerts to a fake Slack.
async fn with_slack(
    backend: &Backend,
    dir: &std::path::Path,
) -> (common::Process, String, Client, String, FakeSlack) {
    let slack = FakeSlack::start().await;
    let urls = format!("slack={}", slack.base);
    let (server, base) = start_server_with(
        dir,
        backend,
        "all",
        &[("STEPWISE_PROVIDER_URLS", urls.as_str())],
    );
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let stored = api
        .send(
            Method::PUT,
            "/v1/settings/credentials/slack_webhook_url",
            &key,
            "application/json",
            json!({ "value": WEBHOOK }).to_string(),
        )
        .await;
    assert!(stored.status.is_success(), "{}", stored.body);
    let notify = json!({"providers": {"notify": {"provider": "slack"}}});
    let patched = api.patch("/v1/settings", &key, &notify).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    (server, base, api, key, slack)
}

async fn takeover(backend: &Backend, dir: &std::path::Path) {
    let (_server, base, api, key, slack) = with_slack(backend, dir).await;
    let settings = json!({"timezone": "UTC", "quiet_hours": quiet_now()});
    let patched = api.patch("/v1/settings", &key, &settings).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let flow = "id: auto-reply\npurpose: transactional\ntrigger: {event: message.received}\n\
                steps:\n  - send_sms: {body: 'Thanks, we will get back to you.'}\n";
    let published = api.yaml(Method::POST, "/v1/flows", &key, flow).await;
    assert!(published.status.is_success(), "{}", published.body);
    let sam = api.member(&key, "Sam", "sam@clinic.example", "agent").await;
    let sam_key = api
        .post(
            &format!("/v1/members/{sam}/keys"),
            &key,
            &json!({"name": "desk"}),
        )
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (viewer, _) = api.key(&key, "viewer").await;

    says(&api, &key, "Hi, is Friday free?").await;
    let id = api.get("/v1/conversations", &key).await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = thread(&api, &key, &id, 2).await;
    assert_eq!(first["conversation"]["sender"], "+15125550100", "{first}");
    let messages = format!("/v1/conversations/{id}/messages");

    // Quiet hours hold a reply, unless the member overrides them.
    let text = json!({"text": "Hi {{contact.first_name}}, Friday is yours."});
    let held = api.post(&messages, &sam_key, &text).await;
    assert_eq!(held.status, StatusCode::ACCEPTED, "{}", held.body);
    assert_eq!(
        (&held.body["status"], &held.body["text"]),
        (&json!("held"), &json!("Hi Ana, Friday is yours.")),
        "{}",
        held.body
    );
    assert!(held.body["held_until"].is_string(), "{}", held.body);
    let now = json!({"text": "Friday at 10:00, Ana.", "quiet_hours_override": true});
    let http = reqwest::Client::new();
    let send = || {
        http.post(format!("{base}{messages}"))
            .bearer_auth(&sam_key)
            .header("Idempotency-Key", "friday")
            .json(&now)
            .send()
    };
    let sent: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(sent["status"], "sending", "{sent}");
    let replied = thread(&api, &key, &id, 3).await;
    let last = &replied["messages"][2];
    assert_eq!(
        (&last["text"], &last["flow_id"], &last["member_id"]),
        (
            &json!("Friday at 10:00, Ana."),
            &json!("inbox-reply-anytime"),
            &json!(sam)
        ),
        "{replied}"
    );
    let again: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (&again["duplicate"], &again["run_id"]),
        (&json!(true), &sent["run_id"]),
        "{again}"
    );
    let anytime = api
        .get("/v1/runs?flow_id=inbox-reply-anytime", &key)
        .await
        .body;
    assert_eq!(anytime["data"].as_array().unwrap().len(), 1, "{anytime}");
    let audit = api.get("/v1/audit", &key).await.body;
    let entry = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["action"] == "conversation.reply" && e["details"]["quiet_hours_override"] == true
        })
        .unwrap_or_else(|| panic!("no audited override: {audit}"));
    assert_eq!(entry["actor"], sam.as_str(), "{entry}");

    // Refused: a template that does not parse, a viewer, another tenant.
    let broken = api
        .post(&messages, &sam_key, &json!({"text": "Hi {{#if}}"}))
        .await;
    assert_eq!(
        (broken.status, broken.code()),
        (StatusCode::BAD_REQUEST, "invalid_input"),
        "{}",
        broken.body
    );
    let long = json!({"text": "hi", "subject": "x".repeat(999)});
    let too_long = api.post(&messages, &sam_key, &long).await;
    assert_eq!(
        (too_long.status, too_long.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        "{}",
        too_long.body
    );
    let viewer_reply = api.post(&messages, &viewer, &text).await;
    assert_eq!(viewer_reply.status, StatusCode::FORBIDDEN);
    let other = api.tenant("salon").await;
    for path in [
        messages.clone(),
        format!("/v1/conversations/{id}/take-over"),
        format!("/v1/conversations/{id}/release"),
    ] {
        let answer = api.post(&path, &other, &text).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            answer.body
        );
    }

    // The contact asks for a person: the auto-reply to that holds until Sam releases it.
    says(&api, &key, "Agent!").await;
    let needs = api.get(&format!("/v1/conversations/{id}"), &key).await.body;
    assert_eq!(needs["conversation"]["status"], "needs_human", "{needs}");
    let alert = slack.alert_containing("asked for a person").await;
    assert!(alert.contains("by sms: \"Agent!\""), "{alert}");
    let listed = api
        .get("/v1/conversations?status=needs_human", &key)
        .await
        .body;
    assert_eq!(listed["data"][0]["id"], id.as_str(), "{listed}");
    let sleeping = auto_replies(&api, &key, "sleeping", 1).await;
    let run_id = sleeping["data"][0]["id"].as_str().unwrap().to_owned();
    let snooze = api
        .post(
            &format!("/v1/conversations/{id}/snooze"),
            &sam_key,
            &json!({"until": (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string()}),
        )
        .await;
    assert_eq!(snooze.status, StatusCode::CONFLICT, "{}", snooze.body);
    // A reply by hand still goes while automation holds.
    api.post(&messages, &sam_key, &now).await;
    thread(&api, &key, &id, 5).await;
    let released = api
        .post(
            &format!("/v1/conversations/{id}/release"),
            &sam_key,
            &json!({}),
        )
        .await;
    assert_eq!(released.body["status"], "open", "{}", released.body);
    let done = api
        .run_until(&key, &run_id, |r| r["run"]["status"] == "completed")
        .await;
    let timeline = done.to_string();
    assert!(timeline.contains("takeover_hold"), "{timeline}");
    thread(&api, &key, &id, 6).await;

    // Staff take over; with `automation: end` the held run ends instead.
    let end = json!({"takeover": {"automation": "end"}});
    let patched = api.patch("/v1/settings", &key, &end).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let taken = api
        .post(
            &format!("/v1/conversations/{id}/take-over"),
            &sam_key,
            &json!({}),
        )
        .await;
    assert_eq!(taken.body["status"], "needs_human", "{}", taken.body);
    let alert = slack.alert_containing("A team member").await;
    assert!(
        alert.contains(&format!("({sam})")),
        "the member who took it: {alert}"
    );
    says(&api, &key, "Are you there?").await;
    auto_replies(&api, &key, "cancelled", 1).await;

    // An opt-out is taken while a person has the conversation; no reply reaches it.
    let stop = json!({"type": "contact.opted_out", "contact": {"phone": ANA, "sms_opt_out": true},
        "data": {"channel": "sms", "body": "STOP"}});
    assert_eq!(
        api.post("/v1/events", &key, &stop).await.status,
        StatusCode::ACCEPTED
    );
    let refused = api.post(&messages, &sam_key, &now).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::CONFLICT, "conflict"),
        "{}",
        refused.body
    );
}

/// A flow's `hand_over` step: the conversation needs a human in the step's commit, the same
/// run's next message holds, and a release lets it go.
async fn handed_over(backend: &Backend, dir: &std::path::Path) {
    let (_server, _, api, key, slack) = with_slack(backend, dir).await;
    let flow = r#"id: triage
purpose: transactional
trigger: {event: message.received}
steps:
  - if: 'contains_any(lower(event.data.body), ["refund"])'
    then:
      - hand_over: {reason: "Wants a refund: {{event.data.body}}"}
  - send_sms: {body: "We got your message."}
"#;
    let published = api.yaml(Method::POST, "/v1/flows", &key, flow).await;
    assert!(published.status.is_success(), "{}", published.body);
    says(&api, &key, "I want a refund").await;
    let held = api
        .get_until("/v1/runs?flow_id=triage&status=sleeping", &key, |page| {
            page["data"].as_array().map(Vec::len) == Some(1)
        })
        .await;
    let run_id = held["data"][0]["id"].as_str().unwrap().to_owned();
    let alert = slack.alert_containing("The flow triage handed").await;
    assert!(alert.contains("Wants a refund: I want a refund"), "{alert}");
    let listed = api
        .get("/v1/conversations?status=needs_human", &key)
        .await
        .body;
    let id = listed["data"][0]["id"].as_str().unwrap().to_owned();
    let run = api.get(&format!("/v1/runs/{run_id}"), &key).await.body;
    let kinds: Vec<&str> = run["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["started", "condition", "handed_over", "takeover_hold"],
        "{run}"
    );
    let released = api
        .post(&format!("/v1/conversations/{id}/release"), &key, &json!({}))
        .await;
    assert_eq!(released.body["status"], "open", "{}", released.body);
    let done = api
        .run_until(&key, &run_id, |r| r["run"]["status"] == "completed")
        .await;
    assert!(done.to_string().contains("We got your message."), "{done}");
}

common::place::on_both_backends!(
    handed_over,
    "hand_over",
    a_flow_hands_over_on_sqlite,
    a_flow_hands_over_on_postgres
);

common::place::on_both_backends!(
    takeover,
    "takeover",
    replies_and_takeover_work_on_sqlite,
    replies_and_takeover_work_on_postgres
);
