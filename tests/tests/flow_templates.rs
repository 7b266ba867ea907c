//! Flows naming library templates, through the real binary on both backends: publishing a
//! flow that names a missing template, or one with no approved version, is a located error;
//! a flow sends the newest approved version; an unapproved edit is not used; approving it is,
//! at once; a pinned version holds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::client::Client;
use common::{Backend, start_server};
use reqwest::Method;
use serde_json::json;

fn flow(id: &str, body: &str) -> String {
    format!(
        "id: {id}\npurpose: transactional\nquiet_hours: off\ntrigger: {{event: visit.booked}}\nsteps:\n  - id: remind\n    send_sms:\n      body: '{body}'\n"
    )
}

/// The texts the runs started by one `visit.booked` sent, by flow id.
async fn sent(api: &Client, key: &str, n: usize) -> Vec<(String, String)> {
    let event = json!({"type": "visit.booked", "contact": {"phone": format!("+1512555{:04}", 100 + n), "first_name": "Ana"}});
    let accepted = api.post("/v1/events", key, &event).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let mut texts = Vec::new();
    for run in accepted.body["started"].as_array().unwrap() {
        let run = run.as_str().unwrap();
        let done = api
            .run_until(key, run, |r| r["run"]["status"] == "completed")
            .await;
        let messages = api.get(&format!("/v1/runs/{run}/messages"), key).await.body;
        texts.push((
            done["run"]["flow_id"].as_str().unwrap().to_owned(),
            messages["data"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    texts.sort();
    texts
}

async fn flows_follow_approvals(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let (editor, _) = api.key(&key, "editor").await;
    let write = |body: &str| json!({"name": "reminder", "kind": "outreach", "channel": "sms", "body": body});
    let first = api
        .post(
            "/v1/templates",
            &editor,
            &write("Hi {{contact.first_name}}, see you soon (v1)"),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);

    // Nothing approved yet, and a name that does not exist: located errors, nothing stored.
    let unpinned = flow("remind-newest", "{{library \"reminder\"}}");
    let pinned = flow("remind-pinned", "{{library \"reminder\" version=1}}");
    for (source, why) in [
        (unpinned.clone(), "has no approved version"),
        (
            flow("remind-missing", "{{library \"remindr\"}}"),
            "no template \"remindr\"",
        ),
    ] {
        for path in ["/v1/flows", "/v1/flows/validate"] {
            let refused = api.yaml(Method::POST, path, &key, &source).await;
            assert_eq!(
                refused.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}",
                refused.body
            );
            let problem = &refused.body["error"]["details"]["diagnostics"][0];
            assert!(
                problem["message"].as_str().unwrap().contains(why),
                "{problem}"
            );
            assert_eq!(problem["pointer"], "/steps/0/send_sms/body", "{problem}");
            assert_eq!(problem["line"], 8, "{problem}");
        }
    }
    // A flow may name 50 library templates: each is read when it compiles.
    let many: String = (0..51)
        .map(|i| format!("{{{{library \"t{i}\"}}}}"))
        .collect();
    let refused = api
        .yaml(Method::POST, "/v1/flows", &key, &flow("remind-many", &many))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.to_string().contains("at most 50"),
        "{}",
        refused.body
    );
    assert_eq!(api.count("/v1/flows", &key).await, 0);

    let approve = |version: u32| format!("/v1/templates/reminder/versions/{version}/approve");
    assert_eq!(
        api.post(&approve(1), &key, &json!({})).await.status,
        StatusCode::OK
    );
    for source in [&unpinned, &pinned] {
        let published = api.yaml(Method::POST, "/v1/flows", &key, source).await;
        assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    }
    let v1 = "Hi Ana, see you soon (v1)";
    let both = |newest: &str| {
        vec![
            ("remind-newest".to_owned(), newest.to_owned()),
            ("remind-pinned".to_owned(), v1.to_owned()),
        ]
    };
    assert_eq!(sent(&api, &key, 1).await, both(v1));

    // An edit is a draft: flows go on sending the approved text.
    let second = api
        .post(
            "/v1/templates",
            &editor,
            &write("Hello {{contact.first_name}}, see you tomorrow (v2)"),
        )
        .await;
    assert_eq!(second.body["version"], 2, "{}", second.body);
    assert_eq!(sent(&api, &key, 2).await, both(v1));

    // Approved: the unpinned flow sends it from the next run on; the pinned one holds.
    assert_eq!(
        api.post(&approve(2), &key, &json!({})).await.status,
        StatusCode::OK
    );
    assert_eq!(
        sent(&api, &key, 3).await,
        both("Hello Ana, see you tomorrow (v2)")
    );
}

common::place::on_both_backends!(
    flows_follow_approvals,
    "flow_templates",
    flows_follow_approvals_on_sqlite,
    flows_follow_approvals_on_postgres
);
