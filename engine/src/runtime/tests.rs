//! Executor tests on the simulator (memory store, memory queue, virtual clock) with a
//! scripted connector: retries, error policies, uncertain sends, concurrency, wait filters.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::*;
use crate::model::{Event, Tenant};
use crate::ports::{ConnectorError, Response};
use crate::testing::{RecordingConnector, ana};

fn start() -> Timestamp {
    "2026-06-01T15:00:00Z".parse().unwrap() // 10:00 in Chicago
}

pub(super) async fn run(
    yaml: &str,
    connector: Arc<RecordingConnector>,
    injections: Vec<Injection>,
) -> Vec<Value> {
    let tenant = Tenant {
        id: "t1".into(),
        timezone: "America/Chicago".into(),
        ..Tenant::default()
    };
    let input = SimulationInput {
        source: yaml.to_owned(),
        event: Event::new("lead.created", json!({"message": "hello"})),
        contact: ana(),
        tenant,
        config: json!({}),
        templates: json!({}),
        start: start(),
        injections,
        horizon: SignedDuration::from_hours(24 * 30),
    };
    let sim = simulate(input, connector).await.unwrap();
    sim.entries
        .iter()
        .map(|e| e.to_json(sim.start, &sim.zone))
        .collect()
}

fn kinds(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn retryable() -> Result<Response, ConnectorError> {
    Err(ConnectorError::Retryable {
        message: "503 from provider".into(),
        retry_after: None,
    })
}

const ONE_NOTIFY: &str = "id: f\ntrigger: {event: lead.created}\nsteps:\n  - id: n\n    notify: {text: hi}\n    retry: {max: 2, backoff: 10s, max_backoff: 1m}\n";

#[tokio::test]
async fn retries_with_backoff_then_succeeds() {
    let connector = Arc::new(RecordingConnector::default());
    connector.script([retryable(), retryable()]);
    let entries = run(ONE_NOTIFY, connector.clone(), vec![]).await;
    assert_eq!(
        kinds(&entries),
        [
            "started",
            "retry_scheduled",
            "woke",
            "retry_scheduled",
            "woke",
            "called",
            "ended"
        ]
    );
    let keys: Vec<String> = connector
        .keys()
        .iter()
        .map(|key| key.rsplit(':').next().unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["1", "2", "3"], "one attempt number per call");
    let first_retry: Timestamp = entries[1]["at"].as_str().unwrap().parse().unwrap();
    let second: Timestamp = entries[3]["at"].as_str().unwrap().parse().unwrap();
    let gap = second.as_second() - first_retry.as_second();
    assert!(
        (5..=10).contains(&gap),
        "first backoff {gap}s not within [5, 10]"
    );
    assert_eq!(entries.last().unwrap()["status"], "completed");
}

#[tokio::test]
async fn exhausted_retries_fail_the_run_as_a_dead_letter() {
    let connector = Arc::new(RecordingConnector::default());
    connector.script([retryable(), retryable(), retryable()]);
    let entries = run(ONE_NOTIFY, connector.clone(), vec![]).await;
    let last = entries.last().unwrap();
    assert_eq!(last["status"], "failed");
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{last}"
    );
    assert_eq!(connector.calls().len(), 3);
}

#[tokio::test]
async fn permanent_errors_follow_on_error() {
    let yaml = "id: f\ntrigger: {event: lead.created}\nsteps:\n  - id: a\n    notify: {text: one}\n    on_error: goto c\n  - id: b\n    notify: {text: skipped}\n  - id: c\n    notify: {text: 'error was {{steps.a.error}}'}\n";
    let connector = Arc::new(RecordingConnector::default());
    connector.script([Err(ConnectorError::Permanent {
        code: "21610".into(),
        message: "unsubscribed".into(),
    })]);
    let entries = run(yaml, connector.clone(), vec![]).await;
    assert_eq!(
        kinds(&entries),
        ["started", "error_handled", "called", "ended"]
    );
    let texts: Vec<Value> = connector
        .calls()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap_or_default()["text"].clone())
        .collect();
    assert_eq!(
        texts,
        [json!("one"), json!("error was unsubscribed (code 21610)")]
    );
}

#[tokio::test]
async fn an_uncertain_send_is_flagged_not_repeated() {
    let yaml = "id: f\ntrigger: {event: lead.created}\nsteps:\n  - id: s\n    send_sms: {body: hi}\n  - id: after\n    notify: {text: '{{steps.s.status}}'}\n";
    let connector = Arc::new(RecordingConnector::default());
    connector.script([Err(ConnectorError::Uncertain {
        message: "timed out after sending".into(),
    })]);
    let entries = run(yaml, connector.clone(), vec![]).await;
    assert_eq!(kinds(&entries), ["started", "uncertain", "called", "ended"]);
    assert_eq!(
        serde_json::to_value(&connector.calls()[1]).unwrap_or_default()["text"],
        "uncertain"
    );
}

#[tokio::test]
async fn a_template_error_at_run_time_fails_with_the_variable_named() {
    let yaml = "id: f\ntrigger: {event: lead.created}\nsteps:\n  - send_sms: {body: 'Hi {{event.data.nickname}}'}\n";
    let entries = run(yaml, Arc::new(RecordingConnector::default()), vec![]).await;
    let reason = entries.last().unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.contains("{{event.data.nickname}}"), "{reason}");
}

#[tokio::test]
async fn wait_for_match_ignores_events_that_do_not_match() {
    let yaml = "id: f\ntrigger: {event: lead.created}\nsteps:\n  - id: reply\n    wait_for: {event: message.received, match: 'lower(incoming.data.body) == \"yes\"', timeout: 1h}\n  - notify: {text: 'got {{steps.reply.event.data.body}}'}\n";
    let at = |m: i64, body: &str| Injection {
        after: SignedDuration::from_mins(m),
        event: Event::new("message.received", json!({"body": body})),
    };
    let connector = Arc::new(RecordingConnector::default());
    let entries = run(yaml, connector.clone(), vec![at(5, "maybe"), at(10, "YES")]).await;
    assert_eq!(
        serde_json::to_value(&connector.calls()[0]).unwrap_or_default()["text"],
        "got YES"
    );
    assert!(entries.iter().any(
        |e| e["kind"] == "note" && e["text"].as_str().unwrap().contains("nothing was waiting")
    ));
}

#[tokio::test]
async fn a_wait_for_several_types_ends_on_the_first_to_arrive() {
    let yaml = "id: f\ntrigger: {event: lead.created}\nsteps:\n  - id: either\n    wait_for: {event: [link.clicked, message.received], timeout: 1d}\n  - notify: {text: 'got {{steps.either.event.type}}'}\n";
    let at = |m: i64, kind: &str| Injection {
        after: SignedDuration::from_mins(m),
        event: Event::new(kind, json!({})),
    };
    let connector = Arc::new(RecordingConnector::default());
    let entries = run(
        yaml,
        connector.clone(),
        vec![at(5, "appointment.booked"), at(10, "message.received")],
    )
    .await;
    let calls = connector.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        serde_json::to_value(&calls[0]).unwrap_or_default()["text"],
        "got message.received"
    );
    let waiting = entries
        .iter()
        .find(|e| e["kind"] == "waiting_for")
        .unwrap_or_else(|| panic!("{entries:?}"));
    assert_eq!(waiting["or"], json!(["message.received"]), "{waiting}");
}

#[tokio::test]
async fn concurrency_skip_and_replace() {
    let base = "id: f\ntrigger: {event: lead.created}\nsteps:\n  - wait: {for: 1h}\n  - notify: {text: done}\n";
    let again = || {
        vec![Injection {
            after: SignedDuration::from_mins(10),
            event: Event::new("lead.created", json!({})),
        }]
    };
    let skip = base.replace("steps:", "concurrency: {on_conflict: skip}\nsteps:");
    let connector = Arc::new(RecordingConnector::default());
    run(&skip, connector.clone(), again()).await;
    assert_eq!(
        connector.calls().len(),
        1,
        "skip: the second lead starts nothing"
    );
    let replace = base.replace("steps:", "concurrency: {on_conflict: replace}\nsteps:");
    let connector = Arc::new(RecordingConnector::default());
    let entries = run(&replace, connector.clone(), again()).await;
    assert_eq!(
        connector.calls().len(),
        1,
        "replace: only the newer run finishes"
    );
    assert!(entries.iter().any(|e| e["status"] == "cancelled"));
    let queue = base.replace("steps:", "concurrency: {on_conflict: queue}\nsteps:");
    let connector = Arc::new(RecordingConnector::default());
    run(&queue, connector.clone(), again()).await;
    assert_eq!(
        connector.calls().len(),
        2,
        "queue: the second run runs after the first"
    );
}

#[tokio::test]
async fn transactional_flows_ignore_quiet_hours_unless_asked() {
    let night: &str = "id: f\ntrigger: {event: lead.created}\npurpose: transactional\nsteps:\n  - wait: {for: 12h}\n  - send_sms: {body: hi}\n";
    let connector = Arc::new(RecordingConnector::default());
    let entries = run(night, connector.clone(), vec![]).await;
    assert!(
        !kinds(&entries).contains(&"quiet_hold".to_owned()),
        "22:00 local, transactional: sent"
    );
    let asked = night.replace(
        "purpose: transactional",
        "purpose: transactional\nquiet_hours: inherit",
    );
    let entries = run(&asked, Arc::new(RecordingConnector::default()), vec![]).await;
    assert!(kinds(&entries).contains(&"quiet_hold".to_owned()));
}

/// The engine over memory store, memory queue and a virtual clock, with tenant `t1` in
/// Chicago and [`ana`] as contact.
struct Harness {
    store: Arc<crate::store::MemoryStore>,
    queue: Arc<crate::queue::MemoryQueue>,
    clock: Arc<crate::ports::VirtualClock>,
    connector: Arc<RecordingConnector>,
    engine: Engine,
}

impl Harness {
    async fn new(start: Timestamp, flow: &str) -> Self {
        use crate::ports::{FlowDocument, Store};
        let store = Arc::new(crate::store::MemoryStore::new());
        let queue = Arc::new(crate::queue::MemoryQueue::new());
        let clock = Arc::new(crate::ports::VirtualClock::new(start));
        let connector = Arc::new(RecordingConnector::default());
        let engine = Engine::new(
            store.clone(),
            queue.clone(),
            clock.clone(),
            connector.clone(),
        );
        let tenant = Tenant {
            id: "t1".into(),
            timezone: "America/Chicago".into(),
            ..Tenant::default()
        };
        store.put_tenant(&tenant).await.unwrap();
        store.put_contact("t1", &ana()).await.unwrap();
        let doc = FlowDocument {
            source: flow.into(),
            config: json!({}),
            templates: json!({}),
            origin: None,
        };
        engine.publish("t1", doc, None).await.unwrap();
        Self {
            store,
            queue,
            clock,
            connector,
            engine,
        }
    }

    /// Advances every run whose task is due now.
    async fn drain(&self) {
        use crate::ports::Clock;
        while let Some(task) = self.queue.pop_due(self.clock.now()) {
            self.engine.advance(task).await.unwrap();
        }
    }
}

#[tokio::test]
async fn a_failed_run_can_be_retried_from_the_failed_step() {
    use crate::model::RunStatus;
    use crate::ports::Store;
    let yaml = "id: f\ntrigger: {event: lead.created}\nsteps:\n  - id: before\n    set: {x: '1'}\n  - id: n\n    notify: {text: hi}\n";
    let h = Harness::new(start(), yaml).await;
    h.connector.script([Err(ConnectorError::Permanent {
        code: "500".into(),
        message: "down".into(),
    })]);
    let outcome = h
        .engine
        .ingest("t1", "c1", Event::new("lead.created", json!({})))
        .await
        .unwrap();
    let run_id = outcome.started[0];
    h.drain().await;
    assert_eq!(
        h.store.run("t1", run_id).await.unwrap().status,
        RunStatus::Failed
    );
    h.engine.retry_run("t1", run_id, None).await.unwrap();
    h.drain().await;
    assert_eq!(
        h.store.run("t1", run_id).await.unwrap().status,
        RunStatus::Completed
    );
    let kinds: Vec<String> = h
        .store
        .records("t1", run_id)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::to_value(r).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        ["started", "computed", "ended", "woke", "called", "ended"],
        "the earlier step is not run again"
    );
    assert_eq!(h.connector.calls().len(), 2);
    assert!(
        h.engine.retry_run("t1", run_id, None).await.is_err(),
        "a completed run cannot be retried"
    );
}

#[tokio::test]
async fn a_schedule_enrols_its_audience_once_per_reenrolment_period() {
    use crate::ports::Store;
    let yaml = "id: reactivation\npurpose: transactional\ntrigger:\n  schedule: '0 9 * * *'\n  audience: 'contact.tags.contains(\"lapsed\")'\n  reenroll_after: 2d\nsteps:\n  - notify: {text: 'come back {{contact.first_name}}'}\n";
    // Friday 2026-03-06 12:00 in Chicago.
    let h = Harness::new("2026-03-06T18:00:00Z".parse().unwrap(), yaml).await;
    let mut lapsed = ana();
    lapsed.tags = vec!["lapsed".into()];
    h.store.put_contact("t1", &lapsed).await.unwrap();
    let mut active = ana();
    active.id = "c2".into();
    active.phone = Some("+15125550101".into());
    h.store.put_contact("t1", &active).await.unwrap();
    let mut fired = Vec::new();
    // Saturday, Sunday (the DST change), Monday and Tuesday mornings.
    for day in [
        "2026-03-07T15:00:00Z",
        "2026-03-08T14:00:00Z",
        "2026-03-09T14:00:00Z",
        "2026-03-10T14:00:00Z",
    ] {
        h.clock.advance_to(day.parse().unwrap());
        let started = h.engine.fire_schedules_once().await.unwrap();
        h.drain().await;
        fired.push((day, started));
        assert_eq!(
            h.engine.fire_schedules_once().await.unwrap(),
            0,
            "{day}: a tick fires once"
        );
    }
    // Only the lapsed contact; again only after two days have passed.
    assert_eq!(
        fired,
        [
            ("2026-03-07T15:00:00Z", 1),
            ("2026-03-08T14:00:00Z", 0),
            ("2026-03-09T14:00:00Z", 1),
            ("2026-03-10T14:00:00Z", 0)
        ]
    );
    let texts: Vec<Value> = h
        .connector
        .calls()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap_or_default()["text"].clone())
        .collect();
    assert_eq!(texts, [json!("come back Ana"), json!("come back Ana")]);
}
