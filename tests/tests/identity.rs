//! Who an incoming contact is, through the real binary: a lead with a new phone and the email
//! of a known contact who has another phone (a family's shared inbox) is a new contact, and the
//! known contact's phone is never overwritten; a known email without a phone takes the phone.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::Backend;
use common::client::Client;
use serde_json::json;

async fn a_shared_inbox_never_takes_over_a_phone(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = common::start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let mom = json!({"id": "mom", "phone": "+15125550100", "email": "family@example.com"});
    assert_eq!(
        api.post("/v1/contacts", &key, &mom).await.status,
        StatusCode::CREATED
    );

    let kid = json!({"type": "lead.created", "contact": {"phone": "+15125550111", "email": "family@example.com", "first_name": "Kid"}});
    let accepted = api.post("/v1/events", &key, &kid).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let kid_id = accepted.body["contact_id"].as_str().unwrap().to_owned();
    assert_ne!(kid_id, "mom", "a new person, not a takeover");
    assert_eq!(
        api.get("/v1/contacts/mom", &key).await.body["phone"],
        "+15125550100",
        "mom's phone kept"
    );
    assert_eq!(
        api.get(&format!("/v1/contacts/{kid_id}"), &key).await.body["phone"],
        "+15125550111"
    );

    // Through the upsert route too.
    let upsert = json!({"phone": "+15125550122", "email": "family@example.com"});
    let answer = api.post("/v1/contacts/upsert", &key, &upsert).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_eq!(
        api.get("/v1/contacts/mom", &key).await.body["phone"],
        "+15125550100"
    );

    // A known email whose contact has no phone does take the phone.
    let dee = json!({"id": "dee", "email": "dee@example.com"});
    api.post("/v1/contacts", &key, &dee).await;
    let lead = json!({"type": "lead.created", "contact": {"phone": "+15125550133", "email": "dee@example.com"}});
    let accepted = api.post("/v1/events", &key, &lead).await;
    assert_eq!(accepted.body["contact_id"], "dee", "{}", accepted.body);
    assert_eq!(
        api.get("/v1/contacts/dee", &key).await.body["phone"],
        "+15125550133"
    );
}

common::place::on_both_backends!(
    a_shared_inbox_never_takes_over_a_phone,
    "identity",
    a_shared_inbox_never_takes_over_a_phone_on_sqlite,
    a_shared_inbox_never_takes_over_a_phone_on_postgres
);
