//! The hostile tenant's attacks on the inbox: more live streams than a business may hold
//! (the victim still opens its own), a template written past its version cap, oversized
//! template and reply texts, more takeover keywords than settings keep, and a flow naming
//! thousands of library templates (each would be a read at every compile). `hostile.rs` runs
//! them while the victim tenant is served.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::client::Client;

/// Opens an inbox stream with `key`; the answer is kept open while it is held.
async fn open_stream(api: &Client, key: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/v1/conversations/stream", api.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

pub async fn inbox_limits(api: &Client, mallory: &str, victim: &str) {
    // Ten streams held open; the eleventh is refused, and the victim opens its own.
    let mut held = Vec::new();
    for _ in 0..10 {
        let stream = open_stream(api, mallory).await;
        assert_eq!(stream.status(), StatusCode::OK);
        held.push(stream);
    }
    let eleventh = open_stream(api, mallory).await;
    assert_eq!(eleventh.status(), StatusCode::TOO_MANY_REQUESTS);
    let theirs = open_stream(api, victim).await;
    assert_eq!(theirs.status(), StatusCode::OK, "the victim's stream opens");

    // A template keeps 200 versions; texts past their channel's limit are refused.
    let template = json!({"name": "spam", "kind": "outreach", "channel": "sms", "body": "Buy now"});
    for _ in 0..200 {
        let written = api.post("/v1/templates", mallory, &template).await;
        assert_eq!(written.status, StatusCode::CREATED, "{}", written.body);
    }
    let past = api.post("/v1/templates", mallory, &template).await;
    assert_eq!(past.status, StatusCode::CONFLICT, "{}", past.body);
    // A flow naming more library templates than a flow may is refused before any is read.
    let names: String = (0..5_000)
        .map(|i| format!("{{{{library \"t{i}\"}}}}"))
        .collect();
    let flow = format!(
        "id: names\ntrigger: {{event: lead.created}}\nsteps:\n  - send_sms: {{body: '{names}'}}\n"
    );
    let named = api
        .yaml(reqwest::Method::POST, "/v1/flows", mallory, &flow)
        .await;
    assert_eq!(
        named.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        named.body
    );
    assert!(
        named.body.to_string().contains("at most 50"),
        "{}",
        named.body
    );
    let huge = json!({"name": "huge", "kind": "outreach", "channel": "email", "body": "x".repeat(100_001)});
    let refused = api.post("/v1/templates", mallory, &huge).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );

    // A reply's text is bounded before anything renders; so are the takeover keywords.
    let event = json!({"type": "message.received", "contact": {"phone": "+15125550177"},
        "data": {"channel": "sms", "body": "hi"}});
    assert_eq!(
        api.post("/v1/events", mallory, &event).await.status,
        StatusCode::ACCEPTED
    );
    let conversation = api.get("/v1/conversations", mallory).await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let long = json!({"text": "x".repeat(100_001)});
    let reply = api
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            mallory,
            &long,
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    let words: Vec<String> = (0..21).map(|i| format!("word{i}")).collect();
    let keywords = json!({"takeover": {"keywords": words}});
    let patched = api.patch("/v1/settings", mallory, &keywords).await;
    assert_eq!(
        (patched.status, patched.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_settings"),
        "{}",
        patched.body
    );
    drop(held);
}
