//! Tracked links through the real binary, on both backends: a text carries a short link
//! instead of the URL; a chat app's preview fetch is not a click; the contact's click
//! redirects, is counted and resumes the run that waits for it; an unknown code is 404; an
//! erase deletes the contact's links.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::Backend;
use common::client::Client;
use reqwest::Method;
use serde_json::json;

const FLOW: &str = "id: proposal
purpose: transactional
trigger: {event: deal.proposal}
steps:
  - id: send
    send_sms: {body: 'Your proposal: {{track event.data.link}}'}
  - id: opened
    wait_for: {event: link.clicked, timeout: 1d, match: 'incoming.data.url == event.data.link'}
  - id: tell
    notify: {text: 'Opened ({{steps.opened.event.data.clicks}})'}
";

const PUBLIC: &str = "https://stepwise.test";
const PROPOSAL: &str = "https://docs.example/proposals/42?v=2";

async fn links_are_tracked(backend: &Backend, dir: &std::path::Path) {
    let env = [("STEPWISE_PUBLIC_URL", PUBLIC)];
    let (_server, base) = common::start_server_with(dir, backend, "all", &env);
    let api = Client::new(&base);
    let key = api.tenant("agency").await;
    let published = api.yaml(Method::POST, "/v1/flows", &key, FLOW).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    let deal = json!({"type": "deal.proposal", "data": {"link": PROPOSAL},
                      "contact": {"id": "dana", "phone": "+15125550160"}});
    let accepted = api.post("/v1/events", &key, &deal).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let run = accepted.body["started"][0].as_str().unwrap().to_owned();
    api.run_until(&key, &run, |r| r["run"]["status"] == "waiting")
        .await;

    // The text carries the short link, not the URL.
    let outbox = api.get("/v1/messages", &key).await.body;
    let text = outbox["data"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{outbox}"))
        .to_owned();
    let short = text
        .strip_prefix("Your proposal: ")
        .unwrap_or_else(|| panic!("{text}"));
    let code = short
        .strip_prefix(&format!("{PUBLIC}/l/"))
        .unwrap_or_else(|| panic!("not a tracked link: {short}"));
    assert_eq!(code.len(), 12, "{code}");

    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let open = |agent: &'static str| {
        browser
            .get(format!("{base}/l/{code}"))
            .header("user-agent", agent)
            .send()
    };
    // iMessage's preview fetch: redirected, not a click.
    let preview = open("facebookexternalhit/1.1 Facebot Twitterbot/1.0")
        .await
        .unwrap();
    assert_eq!(preview.status(), StatusCode::FOUND);
    let status = api.get(&format!("/v1/runs/{run}"), &key).await.body["run"]["status"].clone();
    assert_eq!(status, "waiting", "a preview is not a click");

    // The contact's click: redirected to the URL, recorded, and the run goes on.
    let click = open("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)")
        .await
        .unwrap();
    assert_eq!(click.status(), StatusCode::FOUND);
    assert_eq!(click.headers()["location"], PROPOSAL);
    assert_eq!(click.headers()["cache-control"], "no-store");
    let done = api
        .run_until(&key, &run, |r| r["run"]["status"] == "completed")
        .await;
    assert_eq!(
        done["outputs"]["opened"]["event"]["data"]["clicks"], 1,
        "{done}"
    );
    assert_eq!(
        done["outputs"]["opened"]["event"]["data"]["run_id"],
        run.as_str()
    );
    let again = open("Mozilla/5.0").await.unwrap();
    assert_eq!(again.status(), StatusCode::FOUND);

    let unknown = browser
        .get(format!("{base}/l/AAAAAAAAAAAA"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // Erasing the contact deletes the link: it no longer redirects.
    let erased = api
        .send(
            Method::POST,
            "/v1/contacts/dana/erase",
            &key,
            "application/json",
            String::new(),
        )
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    assert_eq!(erased.body["links"], 1, "{}", erased.body);
    assert_eq!(
        open("Mozilla/5.0").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

common::place::on_both_backends!(
    links_are_tracked,
    "links",
    links_are_tracked_on_sqlite,
    links_are_tracked_on_postgres
);
