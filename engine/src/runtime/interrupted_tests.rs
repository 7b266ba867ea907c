//! A call a process started and never recorded (it stopped in between): a send is flagged
//! uncertain and not repeated unless the step says `on_uncertain: resend`; an idempotent call
//! is repeated under the same key. A call put off for its tenant's share of calls is no
//! attempt, and an interrupted one put off keeps its key.

use jiff::Timestamp;
use serde_json::json;

use super::*;
use crate::model::{Event, Tenant};
use crate::testing::ana;

fn start() -> Timestamp {
    "2026-06-01T15:00:00Z".parse().unwrap() // 10:00 in Chicago
}

fn interrupted(yaml: &str) -> (Pause, Vec<Happening>) {
    let (pause, _, records) = advanced(yaml, true, |_, pause| pause);
    (pause, records)
}

/// The run (interrupted in its call, or not) advanced, then `then` given the pause: what
/// `then` answers, the run after it, and what it recorded.
fn advanced(
    yaml: &str,
    interrupted: bool,
    then: impl FnOnce(&mut RunCx<'_>, Pause) -> Pause,
) -> (Pause, crate::model::Run, Vec<Happening>) {
    let (flow, _) = crate::definition::load_flow("t.yaml", yaml, None).unwrap();
    let tenant = Tenant::default();
    let mut run = crate::model::Run::start(
        "t",
        "f",
        1,
        "c1",
        Event::new("lead.created", json!({})),
        start(),
    );
    if interrupted {
        run.attempt = 1;
        run.in_flight = Some(format!("{}:s:1", run.id));
    }
    let mut cx = RunCx {
        flow: &flow,
        tenant: &tenant,
        run,
        contact: ana(),
        contact_read: ana(),
        bindings: crate::expr::Bindings::empty(),
        records: Vec::new(),
        contact_changed: false,
        now: start(),
        link_scope: None,
        tracked: Vec::new(),
        picked_sender: None,
        slot: None,
        fresh_attempt: false,
    };
    let pause = cx.advance();
    let pause = then(&mut cx, pause);
    (
        pause,
        cx.run,
        cx.records.into_iter().map(|r| r.what).collect(),
    )
}

#[test]
fn an_interrupted_send_is_flagged_uncertain_and_not_repeated() {
    let yaml = "id: f\ntrigger: {event: lead.created}\npurpose: transactional\nsteps:\n  - id: s\n    send_sms: {body: hi, to: '+15125550100'}\n";
    let (pause, records) = interrupted(yaml);
    assert_eq!(pause, Pause::Ended);
    assert!(
        matches!(records[0], Happening::Uncertain { .. }),
        "{records:?}"
    );
}

#[test]
fn an_interrupted_idempotent_call_is_repeated_with_the_same_key() {
    let yaml = "id: f\ntrigger: {event: lead.created}\nsteps:\n  - id: s\n    http: {url: 'http://127.0.0.1:9/hook'}\n";
    let (pause, _) = interrupted(yaml);
    let Pause::Call(request) = pause else {
        panic!("expected the call again, got {pause:?}")
    };
    assert!(
        request.idempotency_key.ends_with(":s:1"),
        "{}",
        request.idempotency_key
    );
}

#[test]
fn resend_opts_into_repeating_an_interrupted_send() {
    let yaml = "id: f\ntrigger: {event: lead.created}\npurpose: transactional\nsteps:\n  - id: s\n    send_sms: {body: hi, to: '+15125550100'}\n    on_uncertain: resend\n";
    let (pause, _) = interrupted(yaml);
    assert!(matches!(pause, Pause::Call(_)), "{pause:?}");
}

const HOOK: &str = "id: f\ntrigger: {event: lead.created}\nsteps:\n  - id: s\n    http: {url: 'http://127.0.0.1:9/hook'}\n";

fn put_off(cx: &mut RunCx<'_>, pause: Pause) -> Pause {
    assert!(matches!(pause, Pause::Call(_)), "{pause:?}");
    cx.put_off_call(jiff::SignedDuration::from_secs(2))
}

#[test]
fn a_call_put_off_for_the_tenants_share_gives_its_attempt_back() {
    let (pause, run, records) = advanced(HOOK, false, put_off);
    assert_eq!(
        pause,
        Pause::Sleep(start() + jiff::SignedDuration::from_secs(2))
    );
    assert_eq!(run.attempt, 0, "waiting is not an attempt");
    assert_eq!(run.in_flight, None, "nothing is in flight");
    assert_eq!(run.hold.as_deref(), Some(call_share::CALL_SHARE_HOLD));
    assert!(records.is_empty(), "{records:?}");
}

#[test]
fn an_interrupted_call_put_off_keeps_its_attempt_and_key() {
    let (pause, run, _) = advanced(HOOK, true, put_off);
    assert!(matches!(pause, Pause::Sleep(_)), "{pause:?}");
    assert_eq!(run.attempt, 1);
    assert_eq!(
        run.in_flight,
        Some(format!("{}:s:1", run.id)),
        "the key is kept"
    );
}
