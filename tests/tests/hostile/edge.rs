//! The hostile tenant's attacks on what reaches beyond the flow language: a flood of webhooks
//! on its web form and on made-up hook tokens, and module installs and KPI requests at their
//! limits. `hostile.rs` runs them while the victim tenant is served.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::json;

use crate::common::client::Client;

pub const HOOK_RATE: &str = "20";

/// Turns on the tenant's web form and answers its URL.
pub async fn form_url(api: &Client, admin: &str) -> String {
    let settings = json!({"sources": {"form": {}}});
    let answer = api
        .send(
            Method::PATCH,
            "/v1/settings",
            admin,
            "application/json",
            settings.to_string(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let token = api.get("/v1/settings", admin).await.body["hook_token"]
        .as_str()
        .unwrap()
        .to_owned();
    format!("{}/hooks/{token}/form", api.base)
}

/// Posts `count` distinct leads (numbered from 0) to `url`, `at_once` at a time: how each
/// was answered, by number.
async fn flood(api: &Client, url: &str, count: usize, at_once: usize) -> Vec<(usize, StatusCode)> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut posters = tokio::task::JoinSet::new();
    for _ in 0..at_once {
        let (http, url, next) = (api.http.clone(), url.to_owned(), next.clone());
        posters.spawn(async move {
            let mut answers = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return answers;
                }
                let lead = json!({"name": "Flood", "phone": flood_phone(n)});
                let posted = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(lead.to_string())
                    .send()
                    .await
                    .unwrap();
                answers.push((n, posted.status()));
            }
        });
    }
    posters.join_all().await.concat()
}

fn flood_phone(n: usize) -> String {
    format!("+1512{}", 5_000_000 + n)
}

/// A flood on a tenant's web form is cut by its own webhook bucket before anything is
/// stored, and made-up hook tokens cost nothing but a 404; the victim's own form still works.
pub async fn webhook_flood(api: &Client, mallory: &str, victim_form: &str) {
    let url = form_url(api, mallory).await;
    let answers = flood(api, &url, 400, 16).await;
    let (accepted, limited): (Vec<_>, Vec<_>) =
        answers.iter().partition(|(_, status)| status.is_success());
    assert!(
        limited
            .iter()
            .all(|(_, status)| *status == StatusCode::TOO_MANY_REQUESTS),
        "{limited:?}"
    );
    assert!(!limited.is_empty(), "the flood was never limited");
    assert!(!accepted.is_empty(), "the form took nothing");
    // Every accepted post made its lead; a few refused ones made nothing.
    let stored = |n: usize| async move {
        let path = format!("/v1/contacts?phone={}", flood_phone(n).replace('+', "%2B"));
        let page = api.get(&path, mallory).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        page.body["data"].as_array().unwrap().len()
    };
    for (n, _) in &accepted {
        assert_eq!(stored(*n).await, 1, "accepted lead {n}");
    }
    for (n, _) in limited.iter().take(10) {
        assert_eq!(stored(*n).await, 0, "refused lead {n}");
    }

    let made_up = format!("{}/hooks/{}/form", api.base, "0".repeat(64));
    let answers = flood(api, &made_up, 200, 16).await;
    assert!(
        answers.iter().all(|(_, s)| *s == StatusCode::NOT_FOUND),
        "{answers:?}"
    );
    let answers = flood(api, victim_form, 3, 1).await;
    assert!(answers.iter().all(|(_, s)| s.is_success()), "{answers:?}");
}

/// A module install whose copy could never be sent (far over an SMS's limit) is refused
/// before anything is stored, and the longest KPI period is answered, not refused or stalled.
pub async fn module_limits(api: &Client, mallory: &str) {
    let huge = format!("Hi {{{{contact.first_name}}}} {}", "x".repeat(200_000));
    let body = json!({"config": {"booking_link": "https://mallory.example/book"},
        "templates": {"first_reply": huge}});
    let answer = api
        .post("/v1/modules/speed-to-lead/install", mallory, &body)
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    let installed = api.get("/v1/installations", mallory).await;
    assert_eq!(
        installed.body["data"],
        json!([]),
        "the refused install stored nothing"
    );
    let year = "/v1/metrics?from=2025-11-01T00:00:00Z&to=2026-12-01T00:00:00Z";
    for _ in 0..20 {
        assert_eq!(api.get(year, mallory).await.status, StatusCode::OK);
    }
    let longer = "/v1/metrics?from=2024-01-01T00:00:00Z&to=2026-12-01T00:00:00Z";
    assert_eq!(
        api.get(longer, mallory).await.status,
        StatusCode::BAD_REQUEST
    );
}
