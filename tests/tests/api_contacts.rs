//! A phone number names one contact of a tenant, on the real binary and both backends: the
//! same new lead sent many times at once becomes one contact, and neither creating nor
//! changing a contact can take a phone another contact has (409 `phone_taken`, nothing
//! changed). Simultaneous creations of one id store one contact; simultaneous upserts of one
//! new phone make one contact holding every upsert's data.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::client::Client;
use common::{Backend, start_server};
use reqwest::Method;
use serde_json::json;

const PHONE: &str = "+15125550177";

async fn one_contact_per_phone(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = start_server(dir, backend, "api");
    let api = Client::new(&base);
    let key = api.tenant("acme").await;

    // The same new lead, sixteen times at once (a form submitted twice, a retrying sender).
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..16 {
        let body = json!({"type": "lead.created", "external_id": format!("form-{n}"),
                          "contact": {"phone": PHONE, "first_name": "Ana"}});
        let (api, key) = (api.clone(), key.clone());
        sends.spawn(async move { api.post("/v1/events", &key, &body).await });
    }
    let answers = sends.join_all().await;
    let mut named = Vec::new();
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
        named.push(answer.body["contact_id"].as_str().unwrap().to_owned());
    }
    let by_phone = api
        .get(&format!("/v1/contacts?phone=%2B{}", &PHONE[1..]), &key)
        .await;
    let stored = by_phone.body["data"].as_array().unwrap();
    assert_eq!(
        stored.len(),
        1,
        "one contact for one phone: {}",
        by_phone.body
    );
    let ana = stored[0]["id"].as_str().unwrap().to_owned();
    assert!(
        named.iter().all(|id| *id == ana),
        "every answer names {ana}: {named:?}"
    );

    // Neither a new contact nor a changed one may take Ana's phone.
    let before = api.count("/v1/contacts", &key).await;
    let twin = json!({"id": "twin", "phone": PHONE});
    let refused = api.post("/v1/contacts", &key, &twin).await;
    assert_eq!(
        (
            refused.status,
            refused.code(),
            refused.body["error"]["details"]["contact_id"].as_str()
        ),
        (StatusCode::CONFLICT, "phone_taken", Some(ana.as_str())),
        "{}",
        refused.body
    );
    assert_eq!(
        api.count("/v1/contacts", &key).await,
        before,
        "nothing stored"
    );
    let ben = json!({"id": "ben", "phone": "+15125550178"});
    assert_eq!(
        api.post("/v1/contacts", &key, &ben).await.status,
        StatusCode::CREATED
    );
    let patch = api
        .send(
            Method::PATCH,
            "/v1/contacts/ben",
            &key,
            "application/json",
            json!({"phone": PHONE}).to_string(),
        )
        .await;
    assert_eq!(
        (patch.status, patch.code()),
        (StatusCode::CONFLICT, "phone_taken")
    );
    let ben_now = api.get("/v1/contacts/ben", &key).await.body;
    assert_eq!(ben_now["phone"], "+15125550178", "ben keeps his phone");

    // Eight creations of one id at once: one is stored, the others are told it exists.
    // Eight upserts of one new phone at once: one creates it, the others merge into it.
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..16 {
        let (api, key) = (api.clone(), key.clone());
        sends.spawn(async move {
            let answer = if n < 8 {
                let body = json!({"id": "cy", "first_name": format!("Cy {n}")});
                api.post("/v1/contacts", &key, &body).await
            } else {
                let body = json!({"phone": "+15125550179", "tags": [format!("t{n}")]});
                api.post("/v1/contacts/upsert", &key, &body).await
            };
            (n, answer)
        });
    }
    let mut answers = sends.join_all().await;
    answers.sort_by_key(|(n, _)| *n);
    let answers: Vec<_> = answers.into_iter().map(|(_, answer)| answer).collect();
    let statuses = |range: std::ops::Range<usize>| {
        let mut s: Vec<u16> = answers[range].iter().map(|a| a.status.as_u16()).collect();
        s.sort_unstable();
        s
    };
    assert_eq!(statuses(0..8), [201, 409, 409, 409, 409, 409, 409, 409]);
    assert!(
        answers[..8]
            .iter()
            .all(|a| a.status == StatusCode::CREATED || a.code() == "contact_exists")
    );
    assert_eq!(statuses(8..16), [200, 200, 200, 200, 200, 200, 200, 201]);
    let winner = answers[..8]
        .iter()
        .find(|a| a.status == StatusCode::CREATED)
        .unwrap();
    let cy = api.get("/v1/contacts/cy", &key).await.body;
    assert_eq!(
        cy["first_name"], winner.body["first_name"],
        "the first is kept"
    );
    let merged = api.get("/v1/contacts?phone=5125550179", &key).await.body;
    assert_eq!(merged["data"].as_array().unwrap().len(), 1, "{merged}");
    assert_eq!(
        merged["data"][0]["tags"].as_array().unwrap().len(),
        8,
        "every upsert's tag is kept: {merged}"
    );

    // Another tenant may know the same phone as a contact of its own.
    let other = api.tenant("other").await;
    let theirs = api.post("/v1/contacts", &other, &twin).await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);
}

common::place::on_both_backends!(
    one_contact_per_phone,
    "contacts",
    a_phone_names_one_contact_on_sqlite,
    a_phone_names_one_contact_on_postgres
);
