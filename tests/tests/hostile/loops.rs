//! Loops a tenant writes: a `for_each` nested in another (100 × 100 iterations with nothing
//! to wait for) ends its run at the per-advance step budget, and a list from the event of 500
//! items, or of 50 long texts (100 KB), fails its step at the 100-item or the 64 KiB bound;
//! each run fails alone, with the reason.

use axum::http::StatusCode;
use serde_json::json;

use super::common::client::Client;
use super::publish;

const NESTED: &str = "id: spinner
trigger: {event: x.nested}
steps:
  - id: outer
    for_each: 'event.data.hundred'
    do:
      - id: inner
        for_each: 'event.data.hundred'
        do:
          - set: {n: 'steps.outer.index * 100 + steps.inner.index'}
";

const FROM_THE_EVENT: &str = "id: lister
trigger: {event: x.listed}
steps:
  - id: each
    for_each: 'event.data.items'
    do:
      - notify: {text: '{{steps.each.item}}'}
";

/// Each loop's run fails with its bound named, and only that run.
pub async fn loop_limits(api: &Client, admin: &str, editor: &str) {
    for flow in [NESTED, FROM_THE_EVENT] {
        let answer = publish(api, editor, flow).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    let hundred: Vec<u32> = (0..100).collect();
    let items: Vec<u32> = (0..500).collect();
    let cases = [
        (
            "x.nested",
            json!({ "hundred": hundred }),
            "more than 10000 steps in one go",
        ),
        (
            "x.listed",
            json!({ "items": items }),
            "for_each gave 500 items; a loop takes at most 100",
        ),
        (
            "x.listed",
            json!({ "items": vec!["x".repeat(2_000); 50] }),
            "a loop's list is at most 64 KiB",
        ),
    ];
    for (n, (event_type, data, reason)) in cases.into_iter().enumerate() {
        for copy in 0..3 {
            let event = json!({"type": event_type, "data": data,
                "contact": {"id": format!("loop{n}-{copy}"), "phone": format!("+1512{}", 5_000_000 + 10 * n + copy)}});
            let accepted = api.post("/v1/events", admin, &event).await;
            assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
            let run = accepted.body["started"][0].as_str().unwrap().to_owned();
            let ended = api
                .run_until(admin, &run, |r| r["run"]["status"] == "failed")
                .await;
            let said = ended["run"]["end_reason"].as_str().unwrap_or_default();
            assert!(said.contains(reason), "{event_type}: {}", ended);
        }
    }
}
