//! The REST API end to end, as a newcomer walks it, on the real `stepwise` binary: on SQLite,
//! and on PostgreSQL + Redis when `STEPWISE_TEST_DATABASE_URL` / `STEPWISE_TEST_REDIS_URL`
//! are set. Create a tenant → mint keys → POST a YAML flow → POST an event → see the
//! sandbox SMS in the run's timeline → cancel a waiting run → retry a failed one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use common::client::Client;
use common::{Backend, start_server};
use reqwest::Method;
use serde_json::{Value, json};

const WELCOME: &str = "id: welcome
purpose: transactional
trigger: {event: lead.created}
steps:
  - id: hello
    send_sms: {body: 'Hi {{contact.first_name}}, thanks for reaching out!'}
";

const SLOW: &str = "id: slow
trigger: {event: consult.requested}
steps:
  - id: later
    wait: {for: 1h}
  - id: note
    set: {done: 'true'}
";

/// A provider that refuses (400) until it is switched on.
async fn switchable_sink() -> (String, Arc<AtomicBool>) {
    let on = Arc::new(AtomicBool::new(false));
    let flag = on.clone();
    let app = Router::new().route(
        "/hook",
        post(move || {
            let ok = flag.load(Ordering::SeqCst);
            async move {
                if ok {
                    (StatusCode::OK, "{\"ok\":true}")
                } else {
                    (StatusCode::BAD_REQUEST, "{\"error\":\"not yet\"}")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, on)
}

fn first_run(answer: &Value) -> String {
    answer["started"][0]
        .as_str()
        .unwrap_or_else(|| panic!("a run started: {answer}"))
        .to_owned()
}

async fn newcomer_path(backend: &Backend, dir: &std::path::Path) {
    let (mut server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);

    // The operator creates the tenant; its admin key comes back once.
    let admin = api.tenant("bright-smile").await;
    let (editor, _) = api.key(&admin, "editor").await;

    // A YAML flow, as written.
    let published = api.yaml(Method::POST, "/v1/flows", &editor, WELCOME).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    assert_eq!(published.body["version"], 1);
    let yaml = api.get("/v1/flows/welcome?format=yaml", &editor).await;
    assert_eq!(yaml.status, StatusCode::OK);
    assert_eq!(api.count("/v1/flows", &editor).await, 1);

    // An event with its contact inline; the phone is normalised to E.164.
    let event = json!({"type": "lead.created", "external_id": "form-1",
                       "contact": {"phone": "(512) 555-0100", "first_name": "Ana"}});
    let accepted = api.post("/v1/events", &editor, &event).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let run_id = first_run(&accepted.body);
    let contact_id = accepted.body["contact_id"].as_str().unwrap().to_owned();
    let contact = api
        .get(&format!("/v1/contacts/{contact_id}"), &editor)
        .await;
    assert_eq!(contact.body["phone"], "+15125550100");

    // The same event again answers the first result, starts nothing and changes nothing,
    // even when it carries other contact data.
    let mut repeat = event.clone();
    repeat["contact"]["first_name"] = json!("Mallory");
    let again = api.post("/v1/events", &editor, &repeat).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["event_id"], accepted.body["event_id"]);
    assert_eq!(first_run(&again.body), run_id);
    let unchanged = api
        .get(&format!("/v1/contacts/{contact_id}"), &editor)
        .await;
    assert_eq!(unchanged.body["first_name"], "Ana");

    // The run's timeline shows the sandbox SMS.
    let run = api
        .run_until(&editor, &run_id, |r| r["run"]["status"] == "completed")
        .await;
    let sent: Vec<&Value> = run["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "sent")
        .collect();
    assert_eq!(sent.len(), 1, "{run}");
    assert_eq!(sent[0]["channel"], "sms");
    assert_eq!(sent[0]["to"], "+15125550100");
    assert_eq!(sent[0]["text"], "Hi Ana, thanks for reaching out!");
    let outbox = api
        .get(&format!("/v1/messages?run_id={run_id}"), &editor)
        .await;
    assert_eq!(outbox.body["data"].as_array().unwrap().len(), 1);

    // Cancel a run that waits for an hour.
    api.yaml(Method::POST, "/v1/flows", &editor, SLOW).await;
    let waiting = api
        .post(
            "/v1/events",
            &editor,
            &json!({"type": "consult.requested", "contact_id": contact_id}),
        )
        .await;
    let slow_id = first_run(&waiting.body);
    api.run_until(&editor, &slow_id, |r| r["run"]["status"] == "sleeping")
        .await;
    let cancelled = api
        .post(
            &format!("/v1/runs/{slow_id}/cancel"),
            &editor,
            &json!({"reason": "booked by phone"}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["end_reason"], "booked by phone");
    let again = api
        .post(&format!("/v1/runs/{slow_id}/cancel"), &editor, &json!({}))
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "conflict")
    );

    // A run that fails is a dead letter; once the provider is fixed, retry finishes it.
    let (hook, provider_on) = switchable_sink().await;
    let flaky = format!(
        "id: flaky\ntrigger: {{event: payment.received}}\nsteps:\n  - id: notify\n    http: {{url: '{hook}', body: {{n: '1'}}}}\n"
    );
    api.yaml(Method::POST, "/v1/flows", &editor, &flaky).await;
    let paid = api
        .post(
            "/v1/events",
            &editor,
            &json!({"type": "payment.received", "contact_id": contact_id}),
        )
        .await;
    let flaky_id = first_run(&paid.body);
    api.run_until(&editor, &flaky_id, |r| r["run"]["status"] == "failed")
        .await;
    let dead = api.get("/v1/dead-letters", &editor).await;
    assert_eq!(
        dead.body["data"][0]["id"],
        flaky_id.as_str(),
        "{}",
        dead.body
    );
    provider_on.store(true, Ordering::SeqCst);
    let retried = api
        .post(&format!("/v1/runs/{flaky_id}/retry"), &editor, &json!({}))
        .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    api.run_until(&editor, &flaky_id, |r| r["run"]["status"] == "completed")
        .await;
    assert_eq!(api.count("/v1/dead-letters", &editor).await, 0);

    // Every admin action is in the audit log once, with the key that did it; the refused
    // second cancel left no entry.
    let audit = api.get("/v1/audit", &admin).await;
    let actions: Vec<&str> = audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "tenant.create",
        "key.create",
        "flow.publish",
        "run.cancel",
        "run.retry",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let cancels = actions.iter().filter(|a| **a == "run.cancel").count();
    assert_eq!(cancels, 1, "{actions:?}");

    // Prometheus metrics count what happened.
    let metrics = api.metrics().await;
    for name in [
        "stepwise_events_ingested_total",
        "stepwise_runs_started_total",
        "stepwise_runs_completed_total",
        "stepwise_runs_failed_total",
        "stepwise_runs_cancelled_total",
        "stepwise_advance_duration_seconds_bucket",
        "stepwise_http_requests_total",
    ] {
        let value: f64 = metrics
            .lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(value >= 1.0, "{name} counted: {metrics}");
    }
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("stepwise_queue_depth")),
        "the queue depth gauge: {metrics}"
    );

    // Every answer carries a request id: the caller's own, or one made for it.
    let made = api.get("/v1/flows", &editor).await;
    let made = made.headers["x-request-id"].to_str().unwrap();
    assert!(!made.is_empty());
    let echoed = api
        .http
        .get(format!("{base}/v1/flows"))
        .bearer_auth(&editor)
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-42");

    // The API describes itself, and its docs page needs no internet.
    let spec = api.get("/openapi.json", "").await;
    assert_eq!(spec.body["openapi"], "3.1.0");
    assert!(spec.body["paths"]["/v1/events"]["post"].is_object());
    let page = api.http.get(format!("{base}/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js"), "{html}");
    for asset in ["swagger-ui-bundle.js", "swagger-initializer.js"] {
        let js = api
            .http
            .get(format!("{base}/docs/{asset}"))
            .send()
            .await
            .unwrap();
        assert_eq!(js.status(), StatusCode::OK, "{asset}");
        let js = js.text().await.unwrap();
        for cdn in ["cdn.", "unpkg.com", "jsdelivr", "googleapis"] {
            assert!(!js.contains(cdn), "{asset} loads from {cdn}");
        }
    }

    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

common::place::on_both_backends!(
    newcomer_path,
    "api",
    a_newcomer_walks_the_api_on_sqlite,
    a_newcomer_walks_the_api_on_postgres
);
