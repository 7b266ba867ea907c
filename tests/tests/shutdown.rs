//! Graceful shutdown: SIGTERM while a step's provider call is in flight lets that call finish
//! and its result be recorded before the process exits; the run then goes on after a restart,
//! with the call made exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use common::{Backend, call, completed_run, lead, setup, start_server, two_call_flow};
use stepwise_engine::runtime::run_id_for;
use tokio::sync::{Notify, watch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_call_in_flight_finish() {
    let dir = std::env::temp_dir().join(format!("stepwise-shutdown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let backend = Backend {
        database_url: format!("sqlite://{}/stepwise.db", dir.display()),
        redis: None,
    };

    // A provider that holds the first request until released.
    let release = Arc::new(Notify::new());
    let keys: Arc<Mutex<Vec<String>>> = Arc::default();
    let (arrived_tx, mut arrived) = watch::channel(0usize);
    let app = Router::new().route(
        "/{step}",
        post({
            let (release, keys) = (release.clone(), keys.clone());
            move |headers: HeaderMap| {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let count = {
                    let mut keys = keys.lock().unwrap();
                    keys.push(key);
                    keys.len()
                };
                arrived_tx.send_replace(count);
                let release = release.clone();
                async move {
                    if count == 1 {
                        release.notified().await;
                    }
                    "{}"
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (server, base) = start_server(&dir, &backend, "all");
    let client = common::http();
    setup(&client, &base, two_call_flow("graceful", &sink, "1s")).await;
    call(
        &client,
        reqwest::Method::POST,
        format!("{base}/v1/events"),
        lead(0),
    )
    .await
    .unwrap();

    arrived.wait_for(|n| *n == 1).await.unwrap(); // the first call is in flight
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    release.notify_one();
    let status = tokio::task::spawn_blocking(move || {
        let mut server = server;
        server.child.wait().unwrap()
    })
    .await
    .unwrap();
    assert!(
        status.success(),
        "stepwise exits cleanly after SIGTERM: {status}"
    );

    let run_id = run_id_for("acme", "api", "lead-0", "graceful");
    let (mut server, base) = start_server(&dir, &backend, "all");
    let run = completed_run(&client, &base, run_id, Duration::from_secs(60)).await;
    let history = run["timeline"].as_array().unwrap();
    assert!(
        !history.iter().any(|r| r["kind"] == "uncertain"),
        "the interrupted call was not left uncertain"
    );
    let keys = keys.lock().unwrap().clone();
    assert_eq!(
        keys,
        [format!("{run_id}:first:1"), format!("{run_id}:second:1")],
        "each call made once"
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
