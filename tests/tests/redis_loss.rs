//! Redis loses the queue while the server runs (a Redis restart without persistence forgets
//! every task and every worker's registration): the worker process registers again and every
//! run completes. The API and the worker are separate processes, so that the events' tasks
//! reach the worker only through Redis (a process that runs both hands them over in memory),
//! and the worker's reconciler waits an hour, so that only a worker that registered again can
//! fetch the tasks pushed after the loss. Runs where `STEPWISE_TEST_DATABASE_URL` / `STEPWISE_TEST_REDIS_URL` are set (`.cargo/config.toml` sets them).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::{
    call, forget_queue, lead, postgres_and_redis, setup, spawn, start_server, two_call_flow,
};

const RUNS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_complete_when_redis_forgets_the_queue_under_a_running_server() {
    let Some((backend, cleanup)) = postgres_and_redis("redis_loss").await else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("stepwise-redis-loss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (sink, mut progress) = common::Sink::start().await;
    let (_server, base) = start_server(&dir, &backend, "api");
    let worker = spawn(&dir, &backend, &["worker", "--reconcile-every", "3600"]);
    assert!(
        worker.first_line.starts_with("stepwise worker started"),
        "{}",
        worker.first_line
    );
    let client = common::http();
    setup(&client, &base, two_call_flow("lossy", &sink.url, "2s")).await;
    let post = |n: usize| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            call(
                &client,
                reqwest::Method::POST,
                format!("{base}/v1/events"),
                lead(n),
            )
            .await
            .unwrap();
        }
    };

    // Half the runs make their first call and sleep; then Redis forgets everything.
    for n in 0..RUNS / 2 {
        post(n).await;
    }
    progress.wait_for(|seen| *seen >= RUNS / 2).await.unwrap();
    let (url, queue, db) = backend.redis.clone().unwrap();
    forget_queue(&url, db, &queue);

    // The other half arrive after the loss.
    for n in RUNS / 2..RUNS {
        post(n).await;
    }
    let arrived = tokio::time::timeout(Duration::from_secs(60), async {
        while sink.distinct_keys() < 2 * RUNS {
            progress.changed().await.unwrap();
        }
    })
    .await;
    let distinct = sink.distinct_keys();
    cleanup.run().await;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        arrived.is_ok(),
        "both calls of every run arrive: {distinct} of {}",
        2 * RUNS
    );
}
