//! A flow's text from a sender pool (`send_sms: {pool: main}`) through the real binary, on
//! both backends: every contact hears from one number of the pool each time (the first text
//! picks it, later ones keep it), the pool's numbers are all used, the number is what the
//! contact's conversation remembers; `from` and `pool` together are refused at publish; a
//! pool the business does not have fails the run, naming it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::audience::{send_json, zone_at};
use common::client::Client;
use common::{Backend, start_server};
use reqwest::Method;
use serde_json::{Value, json};

const NOTE: &str = "id: note
purpose: transactional
trigger: {event: x.note}
steps:
  - id: text
    send_sms: {body: 'A note for you, {{contact.first_name}}.', pool: main}
";

const POOL: [&str; 2] = ["+15125550401", "+15125550402"];

/// The number run `id` texted from (once it completed; a text may first wait for its
/// number's slot).
async fn sent_from(api: &Client, key: &str, id: &str) -> String {
    let run = api
        .run_until(key, id, |r| {
            r["run"]["status"] == "completed" || r["run"]["status"] == "failed"
        })
        .await;
    assert_eq!(run["run"]["status"], "completed", "{run}");
    let sent: Vec<&Value> = run["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "sent")
        .collect();
    sent[0]["from"]
        .as_str()
        .unwrap_or_else(|| panic!("{run}"))
        .to_owned()
}

async fn pool_sends(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("shop").await;
    let pool: Vec<Value> = POOL
        .iter()
        .map(|n| json!({"number": n, "kind": "long_code", "per_second": 20}))
        .collect();
    let settings = json!({"timezone": zone_at(12), "sender_pools": {"main": pool}});
    let patched = send_json(&api, Method::PATCH, "/v1/settings", &key, &settings).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let published = api.yaml(Method::POST, "/v1/flows", &key, NOTE).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);

    // Six contacts text once; then the pool gains a number (which changes whose turn is
    // whose) and they text again: each keeps the number it heard from.
    let mut first = Vec::new();
    for round in 0..2 {
        if round == 1 {
            let mut grown = pool.clone();
            grown.insert(
                0,
                json!({"number": "+15125550403", "kind": "long_code", "per_second": 20}),
            );
            let settings = json!({"sender_pools": {"main": grown}});
            let patched = send_json(&api, Method::PATCH, "/v1/settings", &key, &settings).await;
            assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
        }
        for n in 0..6 {
            let contact = json!({"id": format!("c{n}"), "phone": format!("+1512555051{n}"), "first_name": "Al"});
            let event = json!({"type": "x.note", "external_id": format!("{n}-{round}"), "contact": contact});
            let answer = api.post("/v1/events", &key, &event).await.body;
            let run = answer["started"][0].as_str().unwrap().to_owned();
            let from = sent_from(&api, &key, &run).await;
            if round == 0 {
                assert!(POOL.contains(&from.as_str()), "{from}");
                first.push(from);
            } else {
                assert_eq!(from, first[n], "c{n} hears from one number");
            }
        }
    }
    let conversations = api.get("/v1/conversations", &key).await.body;
    for (n, from) in first.iter().enumerate() {
        let sender = conversations["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["contact_id"] == format!("c{n}"))
            .map(|c| c["sender"].clone());
        assert_eq!(sender, Some(json!(from)), "{conversations}");
    }
    let used: BTreeSet<&String> = first.iter().collect();
    assert_eq!(used.len(), 2, "both numbers of the pool are used: {used:?}");

    // `from` and `pool` together say two things: refused with the step located.
    let both = NOTE.replace("pool: main}", "pool: main, from: '+15125550499'}");
    let refused = api.yaml(Method::POST, "/v1/flows", &key, &both).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.to_string().contains("not both"),
        "{}",
        refused.body
    );

    // A pool the business has not set up fails the run, naming it.
    let other = NOTE
        .replace("id: note", "id: other")
        .replace("x.note", "x.other")
        .replace("pool: main", "pool: vip");
    let published = api.yaml(Method::POST, "/v1/flows", &key, &other).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    let event = json!({"type": "x.other", "contact_id": "c0"});
    let answer = api.post("/v1/events", &key, &event).await.body;
    let run = answer["started"][0].as_str().unwrap().to_owned();
    let failed = api
        .run_until(&key, &run, |r| r["run"]["status"] == "failed")
        .await;
    assert!(
        failed["run"]["end_reason"]
            .as_str()
            .unwrap()
            .contains("no sender pool named \"vip\""),
        "{failed}"
    );
}

common::place::on_both_backends!(
    pool_sends,
    "poolsends",
    flows_send_from_a_pool_on_sqlite,
    flows_send_from_a_pool_on_postgres
);
