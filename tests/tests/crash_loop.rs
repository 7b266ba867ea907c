//! Crash safety inside a `for_each`: 60 leads each get five texts from one loop step through
//! the Twilio connector (a fake Twilio on 127.0.0.1) while the server is killed with SIGKILL
//! four times and restarted. Afterwards every run has completed, each of the five texts of
//! each lead was recorded once, and Twilio accepted it at most once (once when recorded
//! `sent`), with its own row in the outbox: each iteration's send has its own idempotency
//! key, and a run killed mid-loop resumes in the iteration it was in.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Backend, call};
use stepwise_engine::runtime::run_id_for;

const RUNS: usize = 60;
const TEXTS: usize = 5;
const KILLS: usize = 4;

const FLOW: &str = "id: texty
purpose: transactional
trigger: {event: lead.created}
steps:
  - id: each
    for_each: '[1, 2, 3, 4, 5]'
    do:
      - id: hello
        send_sms: {body: 'Text {{steps.each.item}} of 5 for lead {{event.data.n}}'}
";

async fn loop_texts_survive_sigkill(backend: &Backend, dir: &Path) {
    let marks = (1..=KILLS).map(|kill| kill * RUNS * TEXTS / (KILLS + 1));
    let (twilio, mut server, base) =
        common::fake_twilio::leads_through_kills((dir, backend), FLOW, RUNS, marks).await;
    let client = common::http();

    let mut uncertain = 0;
    for n in 0..RUNS {
        let run_id = run_id_for("acme", "api", &format!("lead-{n}"), "texty");
        let run = common::completed_run(&client, &base, run_id, Duration::from_secs(60)).await;
        let recorded: Vec<&str> = run["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .filter(|k| *k == "sent" || *k == "uncertain")
            .collect();
        assert_eq!(
            recorded.len(),
            TEXTS,
            "lead {n}: five sends, each recorded once: {recorded:?}"
        );
        let unsure = recorded.iter().filter(|k| **k == "uncertain").count();
        uncertain += unsure;
        // Each iteration's text is its own row of the outbox (its key is its own).
        let id = run["run"]["id"].as_str().unwrap();
        let messages = call(
            &client,
            reqwest::Method::GET,
            format!("{base}/v1/runs/{id}/messages"),
            String::new(),
        )
        .await
        .unwrap();
        let rows = messages["data"].as_array().unwrap().len();
        assert_eq!(
            rows,
            TEXTS - unsure,
            "lead {n}: one outbox row per text sent: {messages}"
        );
        let phone = format!("+1512{}", 2_000_000 + n);
        for item in 1..=TEXTS {
            let body = format!("Text {item} of 5 for lead {n}");
            let accepted = twilio
                .sends()
                .iter()
                .filter(|s| s.sid.is_some() && s.field("To") == Some(phone.as_str()))
                .filter(|s| s.field("Body") == Some(body.as_str()))
                .count();
            assert!(
                accepted <= 1,
                "lead {n}: {body:?} accepted {accepted} times"
            );
        }
    }
    let accepted = twilio.sends().iter().filter(|s| s.sid.is_some()).count();
    assert!(
        accepted + uncertain >= RUNS * TEXTS,
        "every text went out or is flagged: {accepted} accepted, {uncertain} uncertain"
    );
    eprintln!(
        "{RUNS} runs × {TEXTS} texts, {KILLS} kills: {accepted} accepted, {uncertain} uncertain"
    );
    assert!(twilio.violations().is_empty(), "{:?}", twilio.violations());
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

common::place::on_both_backends!(
    loop_texts_survive_sigkill,
    "crash_loop",
    loop_texts_survive_sigkill_on_sqlite,
    loop_texts_survive_sigkill_on_postgres
);
