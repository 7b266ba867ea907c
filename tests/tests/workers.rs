//! Several processes share the work: one `stepwise serve --role api` and two `stepwise worker`
//! processes on PostgreSQL + Redis process a backlog; every run completes and no step is
//! executed twice (with no crash, each provider call happens exactly once).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{
    Sink, call, completed_run, lead, postgres_and_redis, setup, spawn, start_server, two_call_flow,
};
use stepwise_engine::runtime::run_id_for;

const RUNS: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_a_backlog_without_doing_anything_twice() {
    let Some((backend, cleanup)) = postgres_and_redis("workers").await else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("stepwise-workers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let outcome = tokio::spawn({
        let dir = dir.clone();
        async move {
            let (sink, mut progress) = Sink::start().await;
            let (mut api, base) = start_server(&dir, &backend, "api");
            let client = common::http();
            let ready: serde_json::Value = client
                .get(format!("{base}/readyz"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(
                ready,
                serde_json::json!({"database": true, "queue": true}),
                "PostgreSQL and Redis reachable"
            );
            let flow = two_call_flow("shared", &sink.url, "1s");
            setup(&client, &base, flow).await;
            // The backlog is accepted before any worker runs.
            for n in 0..RUNS {
                call(
                    &client,
                    reqwest::Method::POST,
                    format!("{base}/v1/events"),
                    lead(n),
                )
                .await
                .unwrap();
            }
            let mut workers: Vec<_> = (0..2)
                .map(|_| spawn(&dir, &backend, &["worker", "--reconcile-every", "1"]))
                .collect();
            for worker in &workers {
                assert!(
                    worker.first_line.starts_with("stepwise worker started"),
                    "{}",
                    worker.first_line
                );
            }
            tokio::time::timeout(Duration::from_secs(300), async {
                while sink.distinct_keys() < 2 * RUNS {
                    progress.changed().await.unwrap();
                }
            })
            .await
            .expect("every call arrives");
            let seen = sink.seen.lock().unwrap().clone();
            let keys: HashSet<&String> = seen.iter().map(|(_, k)| k).collect();
            assert_eq!(seen.len(), keys.len(), "no call was made twice");
            assert_eq!(keys.len(), 2 * RUNS);
            for n in 0..RUNS {
                let run_id = run_id_for("acme", "api", &format!("lead-{n}"), "shared");
                let run = completed_run(&client, &base, run_id, Duration::from_secs(60)).await;
                let called = run["timeline"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["kind"] == "called")
                    .count();
                assert_eq!(called, 2, "run {n}: each step once");
            }
            for process in workers.iter_mut().chain(std::iter::once(&mut api)) {
                process.child.kill().unwrap();
                process.child.wait().unwrap();
            }
        }
    })
    .await;
    cleanup.run().await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}
