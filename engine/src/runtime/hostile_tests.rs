//! What one tenant's bad flow can do to the engine: nothing beyond its own runs. A simulation
//! that never ends is stopped with a limit error; a trigger `when` that fails at run time
//! fails that flow's run and keeps the event for the others; a stored run whose flow version
//! no longer compiles ends failed instead of coming back forever.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::*;
use crate::error::EngineError;
use crate::model::{Event, RunStatus, Tenant};
use crate::ports::{FlowDocument, Store, VirtualClock};
use crate::queue::MemoryQueue;
use crate::store::MemoryStore;
use crate::testing::{RecordingConnector, ana};

fn start() -> Timestamp {
    "2026-06-01T15:00:00Z".parse().unwrap()
}

fn tenant(snippets: &[(&str, &str)]) -> Tenant {
    Tenant {
        id: "t1".into(),
        timezone: "America/Chicago".into(),
        snippets: snippets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        ..Tenant::default()
    }
}

fn doc(source: &str) -> FlowDocument {
    FlowDocument {
        source: source.to_owned(),
        config: json!({}),
        templates: json!({}),
        origin: None,
    }
}

#[tokio::test]
async fn a_simulation_that_loops_forever_is_stopped_with_a_limit_error() {
    // A step that fails on every event (strict templates) and goes back to the wait.
    let looping = "id: spin\ntrigger: {event: lead.created}\nsteps:\n  - id: pause\n    wait: {for: 1s}\n  \
                   - id: again\n    notify: {text: '{{event.data.nope}}'}\n    on_error: goto pause\n";
    let connector = Arc::new(RecordingConnector::default());
    let input = SimulationInput {
        source: looping.to_owned(),
        event: Event::new("lead.created", json!({})),
        contact: ana(),
        tenant: tenant(&[]),
        config: json!({}),
        templates: json!({}),
        start: start(),
        injections: vec![],
        horizon: SignedDuration::from_hours(24 * 366),
    };
    let err = simulate(input, connector).await.unwrap_err();
    let EngineError::LimitExceeded(message) = err else {
        panic!("not a limit error: {err}");
    };
    assert!(message.contains("the simulation was stopped"), "{message}");
}

async fn engine(store: Arc<MemoryStore>, clock: Arc<VirtualClock>) -> (Engine, Arc<MemoryQueue>) {
    let queue = Arc::new(MemoryQueue::new());
    let engine = Engine::new(
        store,
        queue.clone(),
        clock,
        Arc::new(RecordingConnector::default()),
    );
    (engine, queue)
}

#[tokio::test]
async fn a_failing_when_fails_its_own_flow_and_the_event_starts_the_others() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(VirtualClock::new(start()));
    store.put_tenant(&tenant(&[])).await.unwrap();
    store.put_contact("t1", &ana()).await.unwrap();
    let (engine, _) = engine(store.clone(), clock).await;
    // Compiles (the function exists) and fails on this event: `lower` takes no number.
    let broken = "id: broken\ntrigger: {event: lead.created, when: 'lower(event.data.n) == \"x\"'}\nsteps:\n  - id: s\n    set: {a: '1'}\n";
    let good = "id: good\ntrigger: {event: lead.created}\nsteps:\n  - id: s\n    set: {a: '1'}\n";
    engine.publish("t1", doc(broken), None).await.unwrap();
    engine.publish("t1", doc(good), None).await.unwrap();
    let outcome = engine
        .ingest("t1", "c1", Event::new("lead.created", json!({"n": 4})))
        .await
        .unwrap();
    assert_eq!(outcome.started.len(), 1, "{outcome:?}");
    assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
    let failed = store.run("t1", outcome.failed[0]).await.unwrap();
    assert_eq!(failed.flow_id, "broken");
    assert_eq!(failed.status, RunStatus::Failed);
    let reason = failed.end_reason.unwrap_or_default();
    assert!(reason.contains("trigger's `when`"), "{reason}");
    let started = store.run("t1", outcome.started[0]).await.unwrap();
    assert_eq!(started.flow_id, "good");
}

#[tokio::test]
async fn a_stored_run_whose_flow_no_longer_compiles_ends_failed() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(VirtualClock::new(start()));
    store.put_tenant(&tenant(&[("greet", "Hi")])).await.unwrap();
    store.put_contact("t1", &ana()).await.unwrap();
    let (first, _) = engine(store.clone(), clock.clone()).await;
    let flow = "id: later\ntrigger: {event: lead.created}\nsteps:\n  - id: pause\n    wait: {for: 1h}\n  \
                - id: hello\n    notify: {text: '{{> greet}} there'}\n";
    first.publish("t1", doc(flow), None).await.unwrap();
    let outcome = first
        .ingest("t1", "c1", Event::new("lead.created", json!({})))
        .await
        .unwrap();
    let run_id = outcome.started[0];
    // The run starts and sleeps; then the snippet goes, and the process restarts.
    let run = store.run("t1", run_id).await.unwrap();
    let task = crate::ports::AdvanceTask::for_run("t1", &run);
    first.advance(task).await.unwrap();
    assert_eq!(
        store.run("t1", run_id).await.unwrap().status,
        RunStatus::Sleeping
    );
    store.put_tenant(&tenant(&[])).await.unwrap();
    clock.advance_to(start() + SignedDuration::from_hours(2));
    let (restarted, _) = engine(store.clone(), clock.clone()).await;
    let run = store.run("t1", run_id).await.unwrap();
    let task = crate::ports::AdvanceTask::for_run("t1", &run);
    restarted.advance(task).await.unwrap();
    let run = store.run("t1", run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    let reason = run.end_reason.unwrap_or_default();
    assert!(
        reason.contains("cannot run") && reason.contains("greet"),
        "{reason}"
    );
}

#[tokio::test]
async fn an_event_no_flow_listens_for_is_kept_and_named_with_the_nearest_type() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(VirtualClock::new(start()));
    store.put_tenant(&tenant(&[])).await.unwrap();
    store.put_contact("t1", &ana()).await.unwrap();
    let (engine, _) = engine(store.clone(), clock).await;
    let good = "id: good\ntrigger: {event: lead.created}\nsteps:\n  - id: s\n    set: {a: '1'}\n";
    engine.publish("t1", doc(good), None).await.unwrap();
    let outcome = engine
        .ingest("t1", "c1", Event::new("lead.craeted", json!({})))
        .await
        .unwrap();
    assert_eq!(
        outcome.warnings,
        [
            "no live flow listens for lead.craeted (did you mean lead.created?): the event was stored and did nothing"
        ]
    );
    let heard = engine
        .ingest("t1", "c1", Event::new("lead.created", json!({})))
        .await
        .unwrap();
    assert!(heard.warnings.is_empty(), "{heard:?}");
    // The run list names the type until a flow listens for it.
    engine
        .ingest("t1", "c1", Event::new("lead.craeted", json!({})))
        .await
        .unwrap();
    let unheard = engine.unheard_types("t1").await.unwrap();
    assert_eq!(unheard.len(), 1, "{unheard:?}");
    assert_eq!(
        (
            unheard[0].event_type.as_str(),
            unheard[0].count,
            unheard[0].did_you_mean.as_deref()
        ),
        ("lead.craeted", 2, Some("lead.created"))
    );
    assert_eq!(engine.unheard_types("t2").await.unwrap(), []);
    let listens =
        "id: typo\ntrigger: {event: lead.craeted}\nsteps:\n  - id: s\n    set: {a: '1'}\n";
    engine.publish("t1", doc(listens), None).await.unwrap();
    assert_eq!(engine.unheard_types("t1").await.unwrap(), []);
}
