//! A person's data on the real binary and both backends: the export holds everything about
//! them; the erase scrubs their phone, email, name and what they wrote from messages, events,
//! runs and timelines, keeps their suppression entry, is audited once, and cannot reach
//! another tenant's contact.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::client::Client;
use common::place::on_both_backends;
use common::{Backend, start_server};
use reqwest::Method;
use serde_json::json;

const FLOW: &str = "id: hello
purpose: transactional
trigger: {event: lead.created}
steps:
  - id: hi
    send_sms: {body: 'Hi {{contact.first_name}}, about {{event.data.message}}'}
  - id: later
    wait: {for: 1h}
";

const PHONE: &str = "+15125550166";
/// What must not be found anywhere after the erase.
const TRACES: [&str; 4] = [PHONE, "Patricia", "pat@example.com", "my secret note"];

async fn personal_data(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let other = api.tenant("other").await;
    assert_eq!(
        api.yaml(Method::POST, "/v1/flows", &key, FLOW).await.status,
        StatusCode::CREATED
    );
    let lead = json!({"type": "lead.created", "data": {"message": "my secret note"},
        "contact": {"id": "pat", "phone": PHONE, "email": "pat@example.com", "first_name": "Patricia"}});
    let accepted = api.post("/v1/events", &key, &lead).await;
    let run = accepted.body["started"][0].as_str().unwrap().to_owned();
    api.run_until(&key, &run, |r| r["run"]["status"] == "sleeping")
        .await;
    let listed = api
        .post(
            "/v1/suppressions",
            &key,
            &json!({"channel": "sms", "address": PHONE}),
        )
        .await;
    assert_eq!(listed.status, StatusCode::CREATED, "{}", listed.body);

    let export = api.get("/v1/contacts/pat/export", &key).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    assert_eq!(export.body["contact"]["first_name"], "Patricia");
    assert_eq!(
        export.body["events"][0]["event"]["data"]["message"],
        "my secret note"
    );
    assert_eq!(export.body["suppressions"][0]["address"], PHONE);
    let exported_run = &export.body["runs"][0];
    assert_eq!(exported_run["messages"][0]["to"], PHONE, "{exported_run}");
    assert!(exported_run["timeline"].to_string().contains("Patricia"));
    assert_eq!(export.body["truncated"], false);

    // Another tenant reaches neither.
    assert_eq!(
        api.get("/v1/contacts/pat/export", &other).await.status,
        StatusCode::NOT_FOUND
    );
    let refused = api
        .send(Method::POST, "/v1/contacts/pat/erase", &other, "", "")
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);

    let erased = api
        .send(Method::POST, "/v1/contacts/pat/erase", &key, "", "")
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    assert_eq!(erased.body["events"], 1, "{}", erased.body);
    assert_eq!(erased.body["runs"], 1);
    assert_eq!(erased.body["messages"], 1);
    assert!(erased.body["timeline_entries"].as_u64().unwrap() > 0);

    assert_eq!(
        api.get("/v1/contacts/pat", &key).await.status,
        StatusCode::NOT_FOUND
    );
    let seen = common::fixture::seen(
        &api,
        &key,
        &[
            "/v1/messages".to_owned(),
            "/v1/runs".to_owned(),
            format!("/v1/runs/{run}"),
            format!("/v1/runs/{run}/messages"),
            "/v1/contacts".to_owned(),
        ],
    )
    .await;
    let text = serde_json::to_string(&seen).unwrap();
    for trace in TRACES {
        assert!(!text.contains(trace), "{trace} is still held: {text}");
    }
    let run = api.get(&format!("/v1/runs/{run}"), &key).await;
    assert_eq!(run.body["run"]["status"], "cancelled", "{}", run.body);
    // The suppression entry stays: it is what protects the person.
    let list = api.get("/v1/suppressions?channel=sms", &key).await;
    assert_eq!(list.body["data"][0]["address"], PHONE, "{}", list.body);
    let audit = api.get("/v1/audit?limit=200", &key).await.body.to_string();
    assert_eq!(
        audit.matches("\"action\":\"contact.erase\"").count(),
        1,
        "{audit}"
    );
}

on_both_backends!(
    personal_data,
    "personal_data",
    personal_data_is_exported_and_erased_on_sqlite,
    personal_data_is_exported_and_erased_on_postgres
);
