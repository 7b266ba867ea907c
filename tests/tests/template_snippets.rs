//! Snippets as library templates, through the real binary on both backends: a `snippet`
//! template's approved version is the snippet `{{> name}}` includes (a draft is not); a flow
//! published before the approval sends the newly approved text from its next run on; a
//! snippet that would include itself is refused at approval and approves nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::client::Client;
use common::{Backend, start_server};
use reqwest::Method;
use serde_json::json;

const FLOW: &str = "id: note
purpose: transactional
quiet_hours: off
trigger: {event: x.note}
steps:
  - id: text
    send_sms: {body: 'Your visit is booked. {{> sign_off}}'}
";

/// The text the flow sends now, to a new contact.
async fn sent(api: &Client, key: &str, n: u32) -> String {
    let event = json!({"type": "x.note", "contact": {"phone": format!("+1512555{:04}", 600 + n)}});
    let accepted = api.post("/v1/events", key, &event).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let run = accepted.body["started"][0].as_str().unwrap().to_owned();
    let done = api
        .run_until(key, &run, |r| r["run"]["status"] == "completed")
        .await;
    let timeline = done["timeline"].as_array().unwrap();
    let send = timeline.iter().find(|e| e["kind"] == "sent").unwrap();
    send["text"].as_str().unwrap().to_owned()
}

async fn snippets(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let write =
        |body: &str| json!({"name": "sign_off", "kind": "snippet", "channel": "sms", "body": body});
    let approve = |version: u32| format!("/v1/templates/sign_off/versions/{version}/approve");

    // A draft is no snippet: a flow that includes it cannot be published yet.
    let written = api
        .post("/v1/templates", &key, &write("– Bright Smile"))
        .await;
    assert_eq!(written.status, StatusCode::CREATED, "{}", written.body);
    let early = api.yaml(Method::POST, "/v1/flows", &key, FLOW).await;
    assert_eq!(
        early.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        early.body
    );

    // Approved, it is the business's snippet, and flows include it.
    let approved = api.post(&approve(1), &key, &json!({})).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    let settings = api.get("/v1/settings", &key).await.body;
    assert_eq!(
        settings["snippets"]["sign_off"], "– Bright Smile",
        "{settings}"
    );
    let published = api.yaml(Method::POST, "/v1/flows", &key, FLOW).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    assert_eq!(
        sent(&api, &key, 1).await,
        "Your visit is booked. – Bright Smile"
    );

    // A new version changes nothing until it is approved; then the same flow sends it.
    let v2 = api
        .post(
            "/v1/templates",
            &key,
            &write("– Dr. Lee and the Bright Smile team"),
        )
        .await;
    assert_eq!(v2.status, StatusCode::CREATED, "{}", v2.body);
    assert_eq!(
        sent(&api, &key, 2).await,
        "Your visit is booked. – Bright Smile"
    );
    let approved = api.post(&approve(2), &key, &json!({})).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(
        sent(&api, &key, 3).await,
        "Your visit is booked. – Dr. Lee and the Bright Smile team"
    );

    // A version that includes itself is written (the text parses, and the snippet it names
    // exists) but refused at approval, a loop: nothing changes.
    let v3 = api
        .post("/v1/templates", &key, &write("Thanks! {{> sign_off}}"))
        .await;
    assert_eq!(v3.status, StatusCode::CREATED, "{}", v3.body);
    let refused = api.post(&approve(3), &key, &json!({})).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        "{}",
        refused.body
    );
    let versions = api.get("/v1/templates/sign_off", &key).await.body;
    assert_eq!(versions["approved_version"], 2, "{versions}");
    assert_eq!(
        sent(&api, &key, 4).await,
        "Your visit is booked. – Dr. Lee and the Bright Smile team"
    );
}

common::place::on_both_backends!(
    snippets,
    "snippets",
    snippet_templates_on_sqlite,
    snippet_templates_on_postgres
);
