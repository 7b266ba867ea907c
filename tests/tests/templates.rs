//! The template library through the real binary, on both backends: editors write versions,
//! only admins approve, the list filters, a preview renders for a real contact and names what
//! it lacks, a reply by name sends the newest approved version or the pinned one (never a
//! draft), bad text and the version cap are refused, and another tenant sees nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::client::Client;
use common::{Backend, start_server};
use serde_json::{Value, json};

fn names(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect()
}

async fn library(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let (editor, _) = api.key(&key, "editor").await;
    let (viewer, _) = api.key(&key, "viewer").await;
    let late = json!({"name": "late", "kind": "reply", "channel": "sms", "tags": ["schedule"],
        "body": "Hi {{contact.first_name}}, we run late. {{contact.fields.room}}"});
    let welcome = json!({"name": "welcome", "kind": "outreach", "channel": "email",
        "subject": "Welcome, {{contact.first_name}}", "body": "Glad to have you."});
    assert_eq!(
        api.post("/v1/templates", &viewer, &late).await.status,
        StatusCode::FORBIDDEN
    );
    for template in [&late, &welcome] {
        let written = api.post("/v1/templates", &editor, template).await;
        assert_eq!(written.status, StatusCode::CREATED, "{}", written.body);
        assert_eq!(
            (&written.body["version"], &written.body["approved"]),
            (&json!(1), &json!(false))
        );
    }
    for (bad, why) in [
        (
            json!({"name": "Bad Name", "kind": "reply", "channel": "sms", "body": "x"}),
            "name",
        ),
        (
            json!({"name": "x", "kind": "reply", "channel": "sms", "body": " "}),
            "body",
        ),
        (
            json!({"name": "x", "kind": "reply", "channel": "sms", "body": "Hi {{#if}}"}),
            "body",
        ),
        (
            json!({"name": "x", "kind": "reply", "channel": "sms", "body": "x".repeat(1_601)}),
            "body",
        ),
    ] {
        let refused = api.post("/v1/templates", &editor, &bad).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            "{why}: {}",
            refused.body
        );
        assert!(
            refused.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(why),
            "{}",
            refused.body
        );
    }
    for (query, expected) in [
        ("", vec!["late", "welcome"]),
        ("?kind=reply", vec!["late"]),
        ("?channel=email", vec!["welcome"]),
        ("?tag=schedule", vec!["late"]),
        ("?q=GLAD", vec!["welcome"]),
        ("?q=100%25", vec![]),
    ] {
        let listed = api
            .get(&format!("/v1/templates{query}"), &viewer)
            .await
            .body;
        assert_eq!(names(&listed), expected, "{query}: {listed}");
    }

    // Only an admin approves; a preview renders for a real contact.
    assert_eq!(
        api.post("/v1/templates/late/versions/1/approve", &editor, &json!({}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let event = json!({"type": "message.received", "contact": {"phone": "+15125550191", "first_name": "Bo",
        "fields": {"room": "Room 2"}}, "data": {"channel": "sms", "body": "On time?"}});
    assert_eq!(
        api.post("/v1/events", &key, &event).await.status,
        StatusCode::ACCEPTED
    );
    let conversation = api.get("/v1/conversations", &key).await.body["data"][0].clone();
    let contact = conversation["contact_id"].as_str().unwrap();
    let preview = api
        .post(
            "/v1/templates/late/preview",
            &viewer,
            &json!({"contact_id": contact}),
        )
        .await;
    assert_eq!(
        (
            &preview.body["text"],
            &preview.body["missing"],
            &preview.body["segments"]
        ),
        (&json!("Hi Bo, we run late. Room 2"), &json!([]), &json!(1)),
        "{}",
        preview.body
    );
    let listish = api
        .post("/v1/templates/late/preview", &viewer, &json!([null, null]))
        .await;
    assert_eq!(
        listish.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        listish.body
    );
    let nobody = api
        .post(
            "/v1/templates/late/preview",
            &viewer,
            &json!({"contact_id": "ct_nobody"}),
        )
        .await;
    assert_eq!(
        nobody.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        nobody.body
    );

    // Replies send the newest approved version, or the pinned one; never a draft.
    let reply = |pin: Option<u32>| {
        let mut body = json!({"template": "late", "quiet_hours_override": true});
        if let Some(v) = pin {
            body["template_version"] = json!(v);
        }
        body
    };
    let messages = format!(
        "/v1/conversations/{}/messages",
        conversation["id"].as_str().unwrap()
    );
    let draft_only = api.post(&messages, &key, &reply(None)).await;
    assert_eq!(
        draft_only.status,
        StatusCode::CONFLICT,
        "{}",
        draft_only.body
    );
    let approved = api
        .post("/v1/templates/late/versions/1/approve", &key, &json!({}))
        .await;
    assert_eq!(approved.body["approved"], true, "{}", approved.body);
    let v2 = json!({"name": "late", "kind": "reply", "channel": "sms", "body": "Sorry {{contact.first_name}}, 20 minutes."});
    api.post("/v1/templates", &editor, &v2).await;
    let sent = api.post(&messages, &key, &reply(None)).await;
    assert_eq!(
        sent.body["text"], "Hi Bo, we run late. Room 2",
        "{}",
        sent.body
    );
    api.post("/v1/templates/late/versions/2/approve", &key, &json!({}))
        .await;
    let newest = api.post(&messages, &key, &reply(None)).await;
    assert_eq!(
        newest.body["text"], "Sorry Bo, 20 minutes.",
        "{}",
        newest.body
    );
    let pinned = api.post(&messages, &key, &reply(Some(1))).await;
    assert_eq!(
        pinned.body["text"], "Hi Bo, we run late. Room 2",
        "{}",
        pinned.body
    );
    let stray = json!({"text": "hi", "template_version": 1});
    let refused = api.post(&messages, &key, &stray).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    let email = json!({"template": "welcome"});
    assert_eq!(
        api.post(&messages, &key, &email).await.status,
        StatusCode::CONFLICT,
        "welcome has no approved version"
    );

    // Bounded: a template keeps 200 versions.
    for _ in 3..=200 {
        let written = api.post("/v1/templates", &editor, &v2).await;
        assert_eq!(written.status, StatusCode::CREATED, "{}", written.body);
    }
    let past = api.post("/v1/templates", &editor, &v2).await;
    assert_eq!(past.status, StatusCode::CONFLICT, "{}", past.body);

    // Another tenant sees none of it.
    let other = api.tenant("salon").await;
    assert_eq!(
        api.get("/v1/templates", &other).await.body["data"],
        json!([])
    );
    assert_eq!(
        api.get("/v1/templates/late", &other).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.post("/v1/templates/late/versions/1/approve", &other, &json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

common::place::on_both_backends!(
    library,
    "templates",
    the_template_library_works_on_sqlite,
    the_template_library_works_on_postgres
);
