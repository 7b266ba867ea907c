//! Crash safety with a real provider: the server is killed with SIGKILL six times while 300
//! leads each get a text through the Twilio connector (a fake Twilio on 127.0.0.1), and
//! restarted each time. Afterwards every run has completed (nothing lost) and no lead got two
//! texts: Twilio does not de-duplicate, so a send caught in flight by a kill is recorded
//! `uncertain` and never repeated, and every other lead's text was accepted exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{Backend, admin_key, call};
use stepwise_engine::runtime::run_id_for;

const RUNS: usize = 300;
const KILLS: usize = 6;

const FLOW: &str = "id: texty
purpose: transactional
trigger: {event: lead.created}
steps:
  - id: hello
    send_sms: {body: 'Hi, thanks for reaching out! (lead {{event.data.n}})'}
";

async fn texts_survive_sigkill(backend: &Backend, dir: &Path) {
    let marks = (1..=KILLS).map(|kill| kill * RUNS / (KILLS + 1));
    let (twilio, mut server, base) =
        common::fake_twilio::leads_through_kills((dir, backend), FLOW, RUNS, marks).await;
    let client = common::http();

    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    let mut uncertain = 0;
    for n in 0..RUNS {
        let run_id = run_id_for("acme", "api", &format!("lead-{n}"), "texty");
        let run = common::completed_run(&client, &base, run_id, Duration::from_secs(60)).await;
        let kinds: Vec<&str> = run["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .collect();
        let sent = kinds.iter().filter(|k| **k == "sent").count();
        let unsure = kinds.iter().filter(|k| **k == "uncertain").count();
        assert_eq!(
            sent + unsure,
            1,
            "lead {n}: one send, recorded once: {kinds:?}"
        );
        uncertain += unsure;
        let phone = format!("+1512{}", 2_000_000 + n);
        let times = twilio
            .sends()
            .iter()
            .filter(|s| s.sid.is_some() && s.field("To") == Some(phone.as_str()))
            .count();
        accepted.insert(phone.clone(), times);
        if sent == 1 {
            assert_eq!(times, 1, "lead {n}: its recorded text was accepted once");
        } else {
            assert!(times <= 1, "lead {n}: an uncertain send is never repeated");
        }
    }
    let outbox = call(
        &client,
        reqwest::Method::GET,
        format!("{base}/v1/messages?limit=200"),
        String::new(),
    )
    .await
    .unwrap();
    assert!(!outbox["data"].as_array().unwrap().is_empty());
    eprintln!(
        "{RUNS} texts, {KILLS} kills: {} accepted, {uncertain} uncertain, {} requests",
        accepted.values().sum::<usize>(),
        twilio.sends().len()
    );
    assert!(twilio.violations().is_empty(), "{:?}", twilio.violations());
    assert!(!admin_key().is_empty());
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

common::place::on_both_backends!(
    texts_survive_sigkill,
    "crash_twilio",
    texts_survive_sigkill_on_sqlite,
    texts_survive_sigkill_on_postgres
);
