//! A tenant whose calls hang cannot take every place of the worker, on the real binary and
//! both backends. Tenant `mallory` starts 100 runs whose `http` step calls a URL that accepts
//! the request and never answers (the test servers advance 32 runs at once); tenant `victim`
//! then sends five leads, and each is texted while every one of mallory's calls still hangs.
//! By default (a quarter of the places: 8), mallory holds its share of the process's calls
//! and no more reach the URL. (Without the share, `--tenant-calls 0`, 32 of mallory's calls
//! held every place of the worker's in-memory lane, and the victim's texts went out only
//! after the reconciler moved them to the durable queue, about 10 s later.) Four such
//! tenants together hold no more than three quarters of the places with calls (24, and one
//! for the last, which had none), where their shares would otherwise fill all 32.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use common::Backend;
use common::client::Client;
use reqwest::Method;
use serde_json::json;

/// The calls a tenant may have in flight by default: a quarter of the test server's 32.
const SHARE: usize = 8;
/// The calls the process may have in flight: three quarters of its 32 places.
const PROCESS_CALLS: usize = 24;

/// A URL that takes every request and never answers; answers how many arrived.
async fn tarpit() -> (
    String,
    Arc<AtomicUsize>,
    tokio::sync::watch::Receiver<usize>,
) {
    let arrived = Arc::new(AtomicUsize::new(0));
    let (tell, told) = tokio::sync::watch::channel(0);
    let count = arrived.clone();
    let app = axum::Router::new().fallback(move || {
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        tell.send_replace(n);
        std::future::pending::<()>()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/slow", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, arrived, told)
}

/// `stalled` tenants each start 100 runs whose calls hang, and `in_flight` of those calls
/// reach the URL; then the victim's five texts go out one after the other, and no more of
/// the stalled calls have reached the URL.
async fn stalled_tenants_beside_a_victim(
    backend: &Backend,
    dir: &std::path::Path,
    stalled: usize,
    in_flight: usize,
) {
    let (url, arrived, mut told) = tarpit().await;
    let (_server, base) = common::start_server(dir, backend, "all");
    let api = Client::new(&base);
    let victim = api.tenant("victim").await;
    let stall = format!(
        "id: stall\ntrigger: {{event: lead.created}}\nsteps:\n  - http: {{url: '{url}', timeout: 120s}}\n"
    );
    let welcome = "id: welcome\npurpose: transactional\ntrigger: {event: lead.created}\nsteps:\n  - send_sms: {body: 'Hi {{contact.first_name}}'}\n";
    let published = api.yaml(Method::POST, "/v1/flows", &victim, welcome).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    for t in 0..stalled {
        let mallory = api.tenant(&format!("mallory{t}")).await;
        let published = api.yaml(Method::POST, "/v1/flows", &mallory, &stall).await;
        assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
        let leads: Vec<_> = (0..100)
            .map(|n| json!({"type": "lead.created", "contact": {"id": format!("m{n}")}}))
            .collect();
        let accepted = api
            .post("/v1/events/batch", &mallory, &json!({"events": leads}))
            .await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
        told.wait_for(|n| *n >= in_flight.min(SHARE * (t + 1)))
            .await
            .unwrap();
    }

    for n in 0..5 {
        let lead = json!({"type": "lead.created",
            "contact": {"id": format!("v{n}"), "phone": format!("+1512555{:04}", n), "first_name": "Vi"}});
        let accepted = api.post("/v1/events", &victim, &lead).await;
        assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
        let run = accepted.body["started"][0].as_str().unwrap().to_owned();
        let done = api
            .run_until(&victim, &run, |r| r["run"]["status"] == "completed")
            .await;
        assert_eq!(done["run"]["status"], "completed", "{done}");
    }
    assert!(
        api.metrics()
            .await
            .contains("stepwise_calls_deferred_total"),
        "the deferrals are counted"
    );
    told.wait_for(|n| *n >= in_flight).await.unwrap();
    assert_eq!(
        arrived.load(Ordering::SeqCst),
        in_flight,
        "the stalled tenants' other calls waited"
    );
}

async fn hanging_calls_leave_room_for_others(backend: &Backend, dir: &std::path::Path) {
    stalled_tenants_beside_a_victim(backend, dir, 1, SHARE).await;
}

async fn stalled_tenants_together_leave_room(backend: &Backend, dir: &std::path::Path) {
    // Three shares fill the process's three quarters (24); the fourth tenant still gets the
    // one call a tenant without any always gets, and no more. (Without the process's bound
    // all four shares went out, 32 calls in all the places, and the victim waited ~10 s.)
    stalled_tenants_beside_a_victim(backend, dir, 4, PROCESS_CALLS + 1).await;
}

common::place::on_both_backends!(
    hanging_calls_leave_room_for_others,
    "callshare",
    hanging_calls_leave_room_for_others_on_sqlite,
    hanging_calls_leave_room_for_others_on_postgres
);

common::place::on_both_backends!(
    stalled_tenants_together_leave_room,
    "callshare3",
    stalled_tenants_together_leave_room_on_sqlite,
    stalled_tenants_together_leave_room_on_postgres
);
