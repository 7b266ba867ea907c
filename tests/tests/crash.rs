//! Crash safety: the real `stepwise serve` is killed with SIGKILL at 20 points while 1,000
//! runs of a 4-step flow with a wait go through it, and restarted each time. Afterwards every
//! run has completed, every step's transition was recorded exactly once, and every provider
//! call was made at least once with one idempotency key per step (repeats of a key are the
//! at-least-once window the provider de-duplicates).
//!
//! Kills are timed by progress (the sink's request count), not by sleeping. The same scenario
//! runs on SQLite (always) and on PostgreSQL + Redis (when `STEPWISE_TEST_DATABASE_URL` and
//! `STEPWISE_TEST_REDIS_URL` are set, as `.ci/run` does), where Redis also loses the queue
//! halfway (every key of it deleted, as a restart without persistence would), losing every
//! queued task: the reconciler brings the runs back from the database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use common::{
    Backend, Sink, call, forget_queue, postgres_and_redis, setup, start_server, two_call_flow,
};
use stepwise_engine::runtime::run_id_for;
use tokio::sync::watch;

const RUNS: usize = 1_000;
const KILLS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_survive_sigkill_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("stepwise-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let backend = Backend {
        database_url: format!("sqlite://{}/stepwise.db", dir.display()),
        redis: None,
    };
    scenario(&dir, &backend).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_survive_sigkill_and_a_redis_flush_on_postgres() {
    let Some((backend, cleanup)) = postgres_and_redis("crash").await else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("stepwise-crash-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let outcome = tokio::spawn({
        let dir = dir.clone();
        async move { scenario(&dir, &backend).await }
    })
    .await;
    cleanup.run().await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

async fn scenario(dir: &Path, backend: &Backend) {
    let (sink, mut progress) = Sink::start().await;
    let (mut server, base) = start_server(dir, backend, "all");
    let client = common::http();
    setup(&client, &base, two_call_flow("crashy", &sink.url, "1s")).await;

    let (base_tx, base_rx) = watch::channel(base);
    let poster = common::post_leads_through_kills(client.clone(), base_rx.clone(), RUNS);

    for kill in 1..=KILLS {
        let threshold = kill * 2 * RUNS / (KILLS + 1);
        progress.wait_for(|seen| *seen >= threshold).await.unwrap();
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        if let (Some((url, queue, db)), true) = (&backend.redis, kill == KILLS / 2) {
            forget_queue(url, *db, queue); // every queued task is gone; the database still knows
        }
        let (next, base) = start_server(dir, backend, "all");
        server = next;
        base_tx.send_replace(base);
    }
    poster.await.unwrap();
    let base = base_tx.borrow().clone();

    // Every provider call arrives...
    let arrived = tokio::time::timeout(Duration::from_secs(120), async {
        while sink.distinct_keys() < 2 * RUNS {
            progress.changed().await.unwrap();
        }
    })
    .await;
    if arrived.is_err() {
        panic!(
            "every provider call arrives; missing:\n{}",
            describe_missing(&client, &base, &sink).await
        );
    }

    // ...and every run completes, each step's result recorded once.
    let mut statuses = BTreeMap::new();
    let mut poll = tokio::time::interval(Duration::from_millis(200));
    for attempt in 0.. {
        statuses.clear();
        for n in 0..RUNS {
            let run_id = run_id_for("acme", "api", &format!("lead-{n}"), "crashy");
            let run = call(
                &client,
                reqwest::Method::GET,
                format!("{base}/v1/runs/{run_id}"),
                String::new(),
            )
            .await
            .unwrap();
            let status = run["run"]["status"].as_str().unwrap().to_owned();
            let history = run["timeline"].as_array().unwrap();
            let called: Vec<&str> = history
                .iter()
                .filter(|r| r["kind"] == "called")
                .map(|r| r["step"].as_str().unwrap())
                .collect();
            if status == "completed" {
                assert_eq!(
                    called,
                    ["first", "second"],
                    "run {n}: each step's transition recorded once"
                );
            }
            *statuses.entry(status).or_insert(0) += 1;
        }
        if statuses.get("completed") == Some(&RUNS) || attempt > 150 {
            break;
        }
        poll.tick().await;
    }
    assert_eq!(
        statuses.get("completed"),
        Some(&RUNS),
        "every run completed: {statuses:?}"
    );

    let seen = sink.seen.lock().unwrap().clone();
    let keys: HashSet<&String> = seen.iter().map(|(_, k)| k).collect();
    for n in 0..RUNS {
        let run_id = run_id_for("acme", "api", &format!("lead-{n}"), "crashy");
        for step in ["first", "second"] {
            assert!(
                keys.contains(&format!("{run_id}:{step}:1")),
                "run {n}: {step} reached the provider with attempt 1's key"
            );
        }
    }
    assert_eq!(keys.len(), 2 * RUNS, "one idempotency key per step and run");
    let repeats = seen.len() - keys.len();
    eprintln!(
        "{RUNS} runs, {KILLS} kills: {} provider requests, {repeats} repeats of a key",
        seen.len()
    );
    assert!(
        repeats <= KILLS * common::CONCURRENCY,
        "repeats are bounded by the calls in flight at each kill"
    );

    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// The runs whose calls did not all reach the sink, with their state and last happenings.
async fn describe_missing(client: &reqwest::Client, base: &str, sink: &Sink) -> String {
    let keys: HashSet<String> = sink
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, k)| k.clone())
        .collect();
    let mut report = String::new();
    for n in 0..RUNS {
        let run_id = run_id_for("acme", "api", &format!("lead-{n}"), "crashy");
        if ["first", "second"]
            .iter()
            .all(|step| keys.contains(&format!("{run_id}:{step}:1")))
        {
            continue;
        }
        let run = call(
            client,
            reqwest::Method::GET,
            format!("{base}/v1/runs/{run_id}"),
            String::new(),
        )
        .await;
        let state = match run {
            Ok(run) => {
                let timeline = run["timeline"].as_array().cloned().unwrap_or_default();
                let tail = &timeline[timeline.len().saturating_sub(3)..];
                format!("{} {}", run["run"], serde_json::Value::from(tail.to_vec()))
            }
            Err(e) => format!("not readable: {e}"),
        };
        report.push_str(&format!("run {n} ({run_id}): {state}\n"));
    }
    report
}
