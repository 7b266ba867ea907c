//! A hostile tenant on the real binary and both backends. While tenant `mallory` runs one
//! attack of each class (recursive and exploding templates, blocking expressions, a
//! simulation that never ends, a flow whose `when` fails, loops past their bounds (nested, or
//! over a list from the event), characters the database cannot
//! store, a letter in a phone number, a malformed Authorization header, a flood of webhooks
//! on its web form and on made-up hook tokens, a module install with unsendable copy, KPI
//! requests over the longest period, a text tracking too many links, a flood of clicks, CSV
//! files past their limits or abandoned mid-upload, segments past theirs, a campaign at the
//! highest rate over thousands of contacts, more inbox streams than allowed, a template past
//! its version cap, oversized template and reply texts, too many takeover keywords, a flow
//! naming thousands of library templates, a bounce report naming 20,000 recipients),
//! tenant `victim` keeps sending events and reading its runs: every one of its requests is
//! answered, p99 under 1 s, and the server never restarts. Each attack is also checked for
//! its own answer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

#[path = "hostile/audience.rs"]
mod audience;
mod common;
#[path = "hostile/edge.rs"]
mod edge;
#[path = "hostile/inbox.rs"]
mod inbox;
#[path = "hostile/loops.rs"]
mod loops;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::client::Client;
use common::place::on_both_backends;
use common::{Backend, start_server, start_server_with};
use edge::{
    HOOK_RATE, PUBLIC_URL, bounce_reports, form_url, link_flood, module_limits, webhook_flood,
};
use reqwest::Method;
use serde_json::{Value, json};

const VICTIM_FLOW: &str = "id: welcome
purpose: transactional
trigger: {event: lead.created}
steps:
  - id: hello
    send_sms: {body: 'Hi {{contact.first_name}}'}
";

/// The victim's requests, one after another until `stop`: each one's latency and status.
async fn probe(api: Client, key: String, stop: Arc<AtomicBool>) -> Vec<(Duration, StatusCode)> {
    let mut seen = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let began = Instant::now();
        let lead = json!({"type": "lead.created", "external_id": format!("v-{n}"),
            "contact": {"id": format!("v{n}"), "phone": format!("+1512{}", 3_000_000 + n), "first_name": "Vi"}});
        let answer = api.post("/v1/events", &key, &lead).await;
        seen.push((began.elapsed(), answer.status));
        let began = Instant::now();
        let answer = api.get("/v1/runs?limit=5", &key).await;
        seen.push((began.elapsed(), answer.status));
    }
    seen
}

async fn publish(api: &Client, key: &str, yaml: &str) -> common::client::Answer {
    api.yaml(Method::POST, "/v1/flows", key, yaml).await
}

/// Recursive snippets and inline partials are refused where they are written.
async fn recursive_templates(api: &Client, admin: &str, editor: &str) {
    let looping = json!({"snippets": {"p": "{{> q}}", "q": "and {{> p}}"}});
    let answer = api
        .send(
            Method::PATCH,
            "/v1/settings",
            admin,
            "application/json",
            looping.to_string(),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("loop"),
        "{}",
        answer.body
    );
    let inline = "id: inline\ntrigger: {event: lead.created}\nsteps:\n  - id: s\n    send_sms: {body: '{{#*inline \"r\"}}{{> r}}{{/inline}}{{> r}}'}\n";
    let answer = publish(api, editor, inline).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    assert_eq!(answer.code(), "invalid_definition");
}

/// Snippets that double at each level: a text that must exceed its channel is refused at
/// publish; one that may (inside a block) fails its run at the limit, and nothing is sent.
async fn exploding_templates(api: &Client, admin: &str, editor: &str) {
    let mut snippets = serde_json::Map::new();
    snippets.insert("s0".into(), Value::String("x".repeat(1_000)));
    for i in 1..8 {
        snippets.insert(
            format!("s{i}"),
            Value::String(format!("{{{{> s{0}}}}}{{{{> s{0}}}}}", i - 1)),
        );
    }
    let patch = json!({ "snippets": snippets }).to_string();
    let answer = api
        .send(
            Method::PATCH,
            "/v1/settings",
            admin,
            "application/json",
            patch,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let always = "id: always\ntrigger: {event: x.boom}\nsteps:\n  - id: s\n    send_sms: {body: '{{> s7}}'}\n";
    let answer = publish(api, editor, always).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    assert!(
        answer
            .body
            .to_string()
            .contains("at least 128000 characters"),
        "{}",
        answer.body
    );
    let maybe = "id: maybe\ntrigger: {event: x.boom}\nsteps:\n  - id: s\n    send_sms: {body: '{{#if contact.first_name}}{{> s7}}{{/if}}'}\n";
    let answer = publish(api, editor, maybe).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let event = json!({"type": "x.boom", "contact": {"id": "m1", "phone": "+15125550177", "first_name": "M"}});
    let accepted = api.post("/v1/events", admin, &event).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let run_id = accepted.body["started"][0].as_str().unwrap().to_owned();
    let run = api
        .run_until(admin, &run_id, |r| r["run"]["status"] == "failed")
        .await;
    let reason = run["run"]["end_reason"].to_string();
    assert!(reason.contains("longer than 1600 characters"), "{reason}");
    assert_eq!(
        api.count("/v1/messages", admin).await,
        0,
        "nothing was sent"
    );
}

/// Blocking, clock and unknown functions are publish errors.
async fn blocking_expressions(api: &Client, editor: &str) {
    for when in [
        "sleep(15)",
        "timestamp() > 0",
        "contians_any(event.type, [\"a\"])",
    ] {
        let flow = format!(
            "id: sleepy\ntrigger: {{event: lead.created, when: '{when}'}}\nsteps:\n  - id: s\n    set: {{a: '1'}}\n"
        );
        let answer = publish(api, editor, &flow).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{when}: {}",
            answer.body
        );
        assert!(
            answer.body.to_string().contains("unknown function"),
            "{when}: {}",
            answer.body
        );
    }
}

/// A viewer's simulation of a flow that loops forever is stopped with a limit error.
async fn endless_simulation(api: &Client, editor: &str, viewer: &str) {
    let spin = "id: spin\ntrigger: {event: x.spin}\nsteps:\n  - id: pause\n    wait: {for: 1s}\n  - id: again\n    notify: {text: '{{event.data.nope}}'}\n    on_error: goto pause\n";
    let answer = publish(api, editor, spin).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let body = json!({"event": {"type": "x.spin", "data": {}}, "horizon": "366d"});
    let began = Instant::now();
    let answer = api.post("/v1/flows/spin/simulate", viewer, &body).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    assert_eq!(answer.code(), "limit_exceeded");
    assert!(began.elapsed() < Duration::from_secs(30));
}

/// A `when` that fails at run time fails its own flow's run; the event is kept and starts
/// the tenant's other flows.
async fn one_bad_flow(api: &Client, admin: &str, editor: &str) {
    let broken = "id: broken\ntrigger: {event: order.placed, when: 'lower(event.data.n) == \"x\"'}\nsteps:\n  - id: s\n    set: {a: '1'}\n";
    let good = "id: good\ntrigger: {event: order.placed}\nsteps:\n  - id: s\n    set: {a: '1'}\n";
    for flow in [broken, good] {
        let answer = publish(api, editor, flow).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    let event = json!({"type": "order.placed", "data": {"n": 4}, "contact": {"id": "m2", "phone": "+15125550178"}});
    let accepted = api.post("/v1/events", admin, &event).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    assert_eq!(
        accepted.body["started"].as_array().unwrap().len(),
        1,
        "{}",
        accepted.body
    );
    let failed = accepted.body["failed"][0].as_str().unwrap();
    let run = api.get(&format!("/v1/runs/{failed}"), admin).await;
    assert_eq!(run.body["run"]["flow_id"], "broken", "{}", run.body);
    assert_eq!(run.body["run"]["status"], "failed", "{}", run.body);
}

/// Characters the database cannot store, letters in a phone number and malformed
/// Authorization headers are refused as bad input.
async fn bad_inputs(api: &Client, admin: &str) {
    let nul_event = json!({"type": "lead.created", "data": {"note": "a\u{0}b"}, "contact": {"id": "m3", "phone": "+15125550179"}});
    let answer = api.post("/v1/events", admin, &nul_event).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    let nul_contact = json!({"id": "m4", "first_name": "A\u{0}"});
    let answer = api.post("/v1/contacts", admin, &nul_contact).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    let nul_flow = "id: nul\ntrigger: {event: lead.created}\nsteps:\n  - id: s\n    send_sms: {body: \"a\\0b\"}\n";
    let answer = publish(api, admin, nul_flow).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    let answer = api.get("/v1/contacts/a%00b", admin).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    let lettered = json!({"id": "m5", "phone": "+1512555010O"});
    let answer = api.post("/v1/contacts", admin, &lettered).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    assert!(
        !answer.body.to_string().contains("010O"),
        "the hint repeats the value"
    );
    let url = format!("{}/v1/settings", api.base);
    for headers in [
        vec![format!("Bearer {admin}"), format!("Bearer {admin}")],
        vec![format!("Bearer  {admin}")],
        vec![format!("bearer {admin}")],
        vec![format!("Bearer {admin} x")],
    ] {
        let mut request = api.http.get(&url);
        for value in &headers {
            request = request.header("authorization", value);
        }
        let status = request.send().await.unwrap().status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
    }
}

/// The webhook rate of the server under attack (bursts of twice that).
async fn hostile_tenant(backend: &Backend, dir: &std::path::Path) {
    let (mut server, base) = start_server_with(
        dir,
        backend,
        "all",
        &[
            ("STEPWISE_HOOK_RATE_LIMIT", HOOK_RATE),
            ("STEPWISE_PUBLIC_URL", PUBLIC_URL),
        ],
    );
    let api = Client::new(&base);
    let victim = api.tenant("victim").await;
    assert_eq!(
        publish(&api, &victim, VICTIM_FLOW).await.status,
        StatusCode::CREATED
    );
    let victim_form = form_url(&api, &victim).await;
    let mallory = api.tenant("mallory").await;
    let (editor, _) = api.key(&mallory, "editor").await;
    let (viewer, _) = api.key(&mallory, "viewer").await;

    let stop = Arc::new(AtomicBool::new(false));
    let probing = tokio::spawn(probe(api.clone(), victim.clone(), stop.clone()));
    recursive_templates(&api, &mallory, &editor).await;
    exploding_templates(&api, &mallory, &editor).await;
    blocking_expressions(&api, &editor).await;
    endless_simulation(&api, &editor, &viewer).await;
    one_bad_flow(&api, &mallory, &editor).await;
    loops::loop_limits(&api, &mallory, &editor).await;
    bad_inputs(&api, &mallory).await;
    bounce_reports(&api, &mallory).await;
    webhook_flood(&api, &mallory, &victim_form).await;
    module_limits(&api, &mallory).await;
    link_flood(&api, &mallory).await;
    audience::import_limits(&api, &mallory).await;
    audience::segment_limits(&api, &mallory).await;
    audience::campaign_flood(&api, &mallory).await;
    inbox::inbox_limits(&api, &mallory, &victim).await;
    stop.store(true, Ordering::Relaxed);
    let seen = probing.await.unwrap();

    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server is still up"
    );
    assert!(seen.len() >= 2, "the victim's requests ran");
    let refused: Vec<_> = seen.iter().filter(|(_, s)| !s.is_success()).collect();
    assert!(refused.is_empty(), "the victim was refused: {refused:?}");
    let mut latencies: Vec<Duration> = seen.iter().map(|(d, _)| *d).collect();
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99).div_ceil(100) - 1];
    eprintln!(
        "victim: {} requests during the attacks, p99 {p99:?}",
        latencies.len()
    );
    assert!(p99 < Duration::from_secs(1), "victim p99 {p99:?}");

    // Sandbox message ids stay unique across a restart.
    let send = |n: usize| json!({"type": "lead.created", "external_id": format!("r-{n}"), "contact": {"id": format!("r{n}"), "phone": format!("+1512{}", 4_000_000 + n), "first_name": "R"}});
    let before = api.post("/v1/events", &victim, &send(1)).await;
    let run = before.body["started"][0].as_str().unwrap().to_owned();
    api.run_until(&victim, &run, |r| r["run"]["status"] == "completed")
        .await;
    drop(server);
    let (_server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let after = api.post("/v1/events", &victim, &send(2)).await;
    let run = after.body["started"][0].as_str().unwrap().to_owned();
    api.run_until(&victim, &run, |r| r["run"]["status"] == "completed")
        .await;
    let mut ids = Vec::new();
    let mut path = "/v1/messages?limit=200".to_owned();
    loop {
        let page = api.get(&path, &victim).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for message in page.body["data"].as_array().unwrap() {
            ids.extend(message["provider_id"].as_str().map(str::to_owned));
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/messages?limit=200&cursor={cursor}"),
            None => break,
        }
    }
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "provider ids repeat: {ids:?}");

    // The embedded database, its WAL and the queue file are readable by their owner only.
    if backend.redis.is_none() {
        use std::os::unix::fs::PermissionsExt;
        for file in ["stepwise.db", "stepwise.db-wal", "stepwise.queue.db"] {
            let mode = std::fs::metadata(dir.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}: {mode:o}");
        }
    }
}

on_both_backends!(
    hostile_tenant,
    "hostile",
    a_hostile_tenant_hurts_no_one_on_sqlite,
    a_hostile_tenant_hurts_no_one_on_postgres
);
