//! The hostile tenant's attacks on what reaches beyond the flow language: a flood of webhooks
//! on its web form and on made-up hook tokens, module installs and KPI requests at their
//! limits, tracked links at theirs (links per text, clicks on one link), and a bounce report
//! naming thousands of recipients. `hostile.rs` runs them while the
//! victim tenant is served.

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
/// A bounce report naming 20,000 recipients (1.4 MB, under the body limit, which
/// `api_bad_bodies.rs` holds to) is read for a bounded few and changes nothing (it names no
/// email of mallory's); so are Exim's and qmail's plain-text bounces naming as many.
pub async fn bounce_reports(api: &Client, mallory: &str) {
    let token = api.get("/v1/settings", mallory).await.body["hook_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let report = |recipients: usize| {
        let block =
            "Final-Recipient: rfc822; x@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n";
        format!(
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
             --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n{}\
             --B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <m@x>\r\n\r\n--B--\r\n",
            block.repeat(recipients)
        )
    };
    let post = |body: String| {
        let url = format!("{}/hooks/{token}/bounce", api.base);
        async move {
            reqwest::Client::new()
                .post(url)
                .header("content-type", "message/rfc822")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(post(report(20_000)).await, StatusCode::NO_CONTENT);
    // The plain-text kinds (no RFC 3464 report): Exim's and qmail's, as long.
    let exim = format!(
        "From: Mail Delivery System <Mailer-Daemon@x>\r\nSubject: Mail delivery failed\r\n\r\n\
         A message that you sent could not be delivered to one or more of its recipients.\r\n\
         The following address(es) failed:\r\n\r\n{}\
         ------ This is a copy of the message, including all the headers. ------\r\n\
         Message-ID: <m@x>\r\n",
        "  x@example.com\r\n    host mx.example.com said: 550 5.1.1 no such user\r\n"
            .repeat(20_000)
    );
    let qmail = format!(
        "From: MAILER-DAEMON@x\r\nSubject: failure notice\r\n\r\n\
         Hi. This is the qmail-send program at x.\r\nI'm afraid I wasn't able to deliver your message.\r\n\r\n{}\
         --- Below this line is a copy of the message.\r\n\r\nMessage-ID: <m@x>\r\n",
        "<x@example.com>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n\r\n".repeat(20_000)
    );
    assert!(exim.len() < 2 << 20 && qmail.len() < 2 << 20);
    assert_eq!(post(exim).await, StatusCode::NO_CONTENT);
    assert_eq!(post(qmail).await, StatusCode::NO_CONTENT);
    assert_eq!(api.count("/v1/suppressions", mallory).await, 0);
}

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

/// The public base of tracked links on the server under attack.
pub const PUBLIC_URL: &str = "https://stepwise.test";

/// A flow that tracks as many links as one text may, and one that tracks one more.
fn tracking_flow(id: &str, links: usize) -> String {
    let body: Vec<String> = (0..links)
        .map(|n| format!("{{{{track \"https://m.example/{n}\"}}}}"))
        .collect();
    format!(
        "id: {id}\npurpose: transactional\ntrigger: {{event: {id}.go}}\nsteps:\n  - id: send\n    send_sms: {{body: '{}'}}\n",
        body.join(" ")
    )
}

/// Tracked links at their limits: a text tracks at most 20 links (the 21st fails that run,
/// not the server); a flood of clicks on one link is redirected every time but recorded
/// once a minute, so it starts one run, not hundreds; made-up codes are 404.
pub async fn link_flood(api: &Client, mallory: &str) {
    for (id, links) in [("many", 20), ("toomany", 21)] {
        let published = api
            .yaml(
                Method::POST,
                "/v1/flows",
                mallory,
                &tracking_flow(id, links),
            )
            .await;
        assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    }
    let counter = "id: clicked\npurpose: transactional\ntrigger: {event: link.clicked}\nsteps:\n  - id: note\n    set: {clicks: 'event.data.clicks'}\n";
    let published = api.yaml(Method::POST, "/v1/flows", mallory, counter).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);

    let go = |id: &str| json!({"type": format!("{id}.go"), "contact": {"id": "m-links", "phone": "+15125550999"}});
    let mut runs = Vec::new();
    for id in ["many", "toomany"] {
        let accepted = api.post("/v1/events", mallory, &go(id)).await;
        assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
        let run = accepted.body["started"][0].as_str().unwrap().to_owned();
        let done = api
            .run_until(mallory, &run, |r| {
                r["run"]["status"] == "completed" || r["run"]["status"] == "failed"
            })
            .await;
        runs.push(done);
    }
    assert_eq!(runs[0]["run"]["status"], "completed", "{}", runs[0]);
    assert_eq!(runs[1]["run"]["status"], "failed", "{}", runs[1]);
    assert!(
        runs[1].to_string().contains("at most 20 links"),
        "{}",
        runs[1]
    );

    let outbox = api.get("/v1/messages?limit=5", mallory).await.body;
    let text = outbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|m| m["text"].as_str().filter(|t| t.contains("/l/")))
        .unwrap_or_else(|| panic!("no tracked text: {outbox}"))
        .to_owned();
    let codes: Vec<&str> = text
        .split(' ')
        .map(|link| link.strip_prefix(&format!("{PUBLIC_URL}/l/")).unwrap())
        .collect();
    assert_eq!(codes.len(), 20, "{text}");

    let clicks = flood_get(&format!("{}/l/{}", api.base, codes[0]), 300, 16).await;
    assert!(clicks.iter().all(|s| *s == StatusCode::FOUND), "{clicks:?}");
    let made_up = flood_get(&format!("{}/l/{}", api.base, "Z".repeat(12)), 100, 8).await;
    assert!(
        made_up.iter().all(|s| *s == StatusCode::NOT_FOUND),
        "{made_up:?}"
    );
    // The one recorded click started its run; the rest started none.
    let counted = api.get("/v1/runs?flow_id=clicked", mallory).await;
    assert_eq!(counted.status, StatusCode::OK, "{}", counted.body);
    assert_eq!(
        counted.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        counted.body
    );
}

/// Sends `count` GETs to `url`, `at_once` at a time, following no redirect: their statuses.
async fn flood_get(url: &str, count: usize, at_once: usize) -> Vec<StatusCode> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut getters = tokio::task::JoinSet::new();
    for _ in 0..at_once {
        let (browser, url, next) = (browser.clone(), url.to_owned(), next.clone());
        getters.spawn(async move {
            let mut answers = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                answers.push(browser.get(&url).send().await.unwrap().status());
            }
            answers
        });
    }
    getters.join_all().await.concat()
}
