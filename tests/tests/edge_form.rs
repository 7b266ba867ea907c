//! A website's lead form through the real binary: a plain HTML form post becomes
//! `lead.created` (and a run) and the browser goes to the thank-you page; a bot that fills the
//! honeypot gets the same answer and changes nothing; a double-click makes one lead; a page on
//! a listed origin may post with `fetch` (CORS), any other origin gets no CORS grant.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::Backend;
use common::client::Client;
use reqwest::Method;
use serde_json::json;

const FLOW: &str = "id: speed-to-lead
purpose: transactional
trigger: {event: lead.created}
steps:
  - id: hello
    send_sms: {body: 'Hi {{contact.first_name}}, thanks for asking about {{event.data.service}}!'}
";

const SITE: &str = "https://brightsmile.example";

async fn forms_make_leads(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = common::start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let settings = json!({"sources": {"form": {"allowed_origins": [SITE], "thank_you_url": format!("{SITE}/thanks")}}});
    let patched = api.patch("/v1/settings", &key, &settings).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let bad = json!({"sources": {"form": {"allowed_origins": ["not an origin"]}}});
    let refused = api.patch("/v1/settings", &key, &bad).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(
        api.yaml(Method::POST, "/v1/flows", &key, FLOW).await.status,
        StatusCode::CREATED
    );
    let token = api.get("/v1/settings", &key).await.body["hook_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{base}/hooks/{token}/form");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|_| common::http());

    let form = "name=Ana+D%C3%ADaz&phone=5125550177&service=cleaning&_gotcha=";
    for _ in 0..2 {
        let posted = http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), StatusCode::SEE_OTHER);
        assert_eq!(posted.headers()["location"], format!("{SITE}/thanks"));
    }
    let bot = "name=Spam&email=bot%40spam.example&_gotcha=http%3A%2F%2Fspam.example";
    let posted = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(bot)
        .send()
        .await
        .unwrap();
    assert_eq!(
        posted.status(),
        StatusCode::SEE_OTHER,
        "the bot sees success"
    );
    assert_eq!(
        api.count("/v1/contacts", &key).await,
        1,
        "one lead: the double-click and the bot made none"
    );
    let runs = api.get("/v1/runs", &key).await.body;
    assert_eq!(runs["data"].as_array().unwrap().len(), 1, "{runs}");
    let run_id = runs["data"][0]["id"].as_str().unwrap().to_owned();
    let run = api
        .run_until(&key, &run_id, |r| r["run"]["status"] == "completed")
        .await;
    assert!(
        run.to_string().contains("thanks for asking about cleaning"),
        "{run}"
    );

    // fetch from the listed site: allowed; from anywhere else: no grant.
    let preflight = http
        .request(Method::OPTIONS, &url)
        .header("origin", SITE)
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers()["access-control-allow-origin"], SITE);
    let fetched = http
        .post(&url)
        .header("origin", SITE)
        .header("content-type", "application/json")
        .body(json!({"email": "bo@example.com", "first_name": "Bo"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.headers()["access-control-allow-origin"], SITE);
    let elsewhere = http
        .request(Method::OPTIONS, &url)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        elsewhere
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let empty = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"message\": \"hi\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        empty.status(),
        StatusCode::BAD_REQUEST,
        "a form with no phone or email"
    );
    assert_eq!(api.count("/v1/contacts", &key).await, 2);
}

common::place::on_both_backends!(
    forms_make_leads,
    "form",
    forms_make_leads_on_sqlite,
    forms_make_leads_on_postgres
);
