//! The behaviour every [`Store`] must have, as one suite each implementation runs (memory
//! here, SQLite and PostgreSQL in `engine/tests/store_conformance.rs`). Each check panics
//! with a message saying which promise broke.

use jiff::Timestamp;
use serde_json::json;

use crate::model::{Contact, Event, Run, RunStatus, Tenant, Waiting};
use crate::ports::{
    EventInsert, FlowDocument, Schedule, Store, StoreError, StoredEvent, Transition,
};
use crate::runtime::{Happening, StepRecord};

fn at(s: &str) -> Timestamp {
    s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
}

fn tenant(id: &str) -> Tenant {
    Tenant {
        id: id.into(),
        name: format!("Business {id}"),
        timezone: "America/Chicago".into(),
        ..Tenant::default()
    }
}

fn contact(id: &str) -> Contact {
    Contact {
        id: id.into(),
        phone: Some("+15125550100".into()),
        first_name: Some("Ana".into()),
        ..Contact::default()
    }
}

fn record(what: Happening) -> StepRecord {
    StepRecord {
        at: at("2026-06-01T15:00:00Z"),
        step: Some("s".into()),
        attempt: 0,
        what,
    }
}

/// Runs every check against `store`, which must be empty.
pub async fn run_all(store: &dyn Store) {
    tenants_and_contacts(store).await;
    events_are_stored_once(store).await;
    flow_versions_are_immutable(store).await;
    transitions_apply_once(store).await;
    tenants_are_isolated(store).await;
    due_runs_span_tenants_in_wake_order(store).await;
    timers_are_claimed_once_per_seq(store).await;
    schedules_tick_once(store).await;
    contacts_page_in_id_order(store).await;
}

async fn schedules_tick_once(store: &dyn Store) {
    let schedule = Schedule {
        tenant_id: "d".into(),
        flow_id: "daily".into(),
        version: 1,
        next_fire_at: at("2026-08-01T14:00:00Z"),
    };
    store.save_schedule(&schedule).await.expect("save schedule");
    assert!(
        store
            .due_schedules(at("2026-08-01T13:59:00Z"), 10)
            .await
            .expect("due")
            .iter()
            .all(|s| s.tenant_id != "d")
    );
    let due = store
        .due_schedules(at("2026-08-01T14:00:00Z"), 10)
        .await
        .expect("due");
    assert!(
        due.contains(&schedule),
        "a schedule is due at its tick: {due:?}"
    );
    assert!(
        store
            .advance_schedule(&schedule, at("2026-08-02T14:00:00Z"))
            .await
            .expect("advance"),
        "the first taker wins"
    );
    assert!(
        !store
            .advance_schedule(&schedule, at("2026-08-02T14:00:00Z"))
            .await
            .expect("advance again"),
        "a tick is taken once"
    );
    let due = store
        .due_schedules(at("2026-08-01T15:00:00Z"), 10)
        .await
        .expect("due");
    assert!(
        !due.iter().any(|s| s.tenant_id == "d"),
        "the next tick is not due yet"
    );
}

async fn contacts_page_in_id_order(store: &dyn Store) {
    for id in ["p3", "p1", "p2"] {
        store.put_contact("e", &contact(id)).await.expect("put");
    }
    let first = store.contacts("e", None, 2).await.expect("page 1");
    let second = store.contacts("e", Some("p2"), 2).await.expect("page 2");
    let ids = |page: &[Contact]| page.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        (ids(&first), ids(&second)),
        (vec!["p1".to_owned(), "p2".into()], vec!["p3".to_owned()])
    );
    assert!(
        store
            .contacts("f", None, 10)
            .await
            .expect("other tenant")
            .is_empty(),
        "contacts are per tenant"
    );
    let run = new_run("e");
    store.create_run("e", &run, &[]).await.expect("create");
    assert_eq!(
        store.last_run_started("e", "f", "c1").await.expect("last"),
        Some(run.started_at)
    );
    assert_eq!(
        store.last_run_started("e", "f", "p1").await.expect("none"),
        None
    );
}

async fn tenants_and_contacts(store: &dyn Store) {
    store.put_tenant(&tenant("a")).await.expect("put tenant");
    assert_eq!(
        store.tenant("a").await.expect("tenant a"),
        tenant("a"),
        "a tenant reads back as written"
    );
    let mut ana = contact("c1");
    store.put_contact("a", &ana).await.expect("put contact");
    ana.tags.push("vip".into());
    store.put_contact("a", &ana).await.expect("update contact");
    assert_eq!(
        store.contact("a", "c1").await.expect("contact"),
        ana,
        "a contact update replaces it"
    );
    assert!(
        matches!(store.tenant("zz").await, Err(StoreError::NotFound { .. })),
        "unknown tenant is NotFound"
    );
}

async fn events_are_stored_once(store: &dyn Store) {
    let mut event = Event::new("lead.created", json!({"n": 1}));
    event.external_id = Some("form-42".into());
    let first = StoredEvent {
        id: "e1".into(),
        event: event.clone(),
        contact_id: Some("c1".into()),
        received_at: at("2026-06-01T15:00:00Z"),
    };
    assert_eq!(
        store.record_event("a", &first).await.expect("insert"),
        EventInsert::Inserted
    );
    let again = StoredEvent {
        id: "e2".into(),
        ..first.clone()
    };
    assert_eq!(
        store.record_event("a", &again).await.expect("duplicate"),
        EventInsert::Duplicate {
            id: "e1".into(),
            processed: false
        },
        "a repeat of (source, external_id) answers the first id, not yet processed"
    );
    store
        .mark_event_processed("a", "e1")
        .await
        .expect("mark processed");
    assert_eq!(
        store.record_event("a", &again).await.expect("duplicate"),
        EventInsert::Duplicate {
            id: "e1".into(),
            processed: true
        },
    );
    assert_eq!(
        store.record_event("b", &again).await.expect("other tenant"),
        EventInsert::Inserted,
        "dedupe is per tenant"
    );
    let other_source = StoredEvent {
        id: "e3".into(),
        event: Event {
            source: "twilio".into(),
            ..event
        },
        ..first
    };
    assert_eq!(
        store
            .record_event("a", &other_source)
            .await
            .expect("other source"),
        EventInsert::Inserted
    );
}

async fn flow_versions_are_immutable(store: &dyn Store) {
    let v1 = FlowDocument {
        source: "id: f\n".into(),
        config: json!({"k": 1}),
        templates: json!({}),
    };
    let v2 = FlowDocument {
        source: "id: f # v2\n".into(),
        config: json!({"k": 2}),
        templates: json!({"t": "x"}),
    };
    assert_eq!(store.save_flow("a", "f", &v1).await.expect("save v1"), 1);
    assert_eq!(
        store.save_flow("a", "f", &v2).await.expect("save v2"),
        2,
        "saving makes a new version"
    );
    assert_eq!(
        store.flow_version("a", "f", 1).await.expect("v1"),
        v1,
        "old versions stay as they were"
    );
    let live = store.live_flows("a").await.expect("live");
    assert_eq!(
        (live.len(), live[0].version, &live[0].doc),
        (1, 2, &v2),
        "live flows use the newest version"
    );
    store
        .set_flow_enabled("a", "f", false)
        .await
        .expect("disable");
    assert!(
        store.live_flows("a").await.expect("live").is_empty(),
        "a disabled flow is not live"
    );
    assert_eq!(
        store
            .flow_version("a", "f", 2)
            .await
            .expect("v2 still readable"),
        v2
    );
    store
        .set_flow_enabled("a", "f", true)
        .await
        .expect("enable");
    assert!(matches!(
        store.set_flow_enabled("a", "nope", true).await,
        Err(StoreError::NotFound { .. })
    ));
}

fn new_run(tenant_id: &str) -> Run {
    Run::start(
        tenant_id,
        "f",
        1,
        "c1",
        Event::new("lead.created", json!({})),
        at("2026-06-01T15:00:00Z"),
    )
}

async fn transitions_apply_once(store: &dyn Store) {
    let run = new_run("a");
    let started = record(Happening::Started {
        flow: "f".into(),
        version: 1,
        trigger: "lead.created".into(),
    });
    store
        .create_run("a", &run, std::slice::from_ref(&started))
        .await
        .expect("create run");
    assert_eq!(store.run("a", run.id).await.expect("run"), run);
    let mut next = run.clone();
    next.seq = 1;
    next.pc = 2;
    next.status = RunStatus::Waiting;
    next.waiting = Some(Waiting {
        event: "appointment.booked".into(),
        timeout_at: Some(at("2026-06-01T15:15:00Z")),
    });
    next.wake_at = Some(at("2026-06-01T15:15:00Z"));
    let mut changed = contact("c1");
    changed.tags = vec!["hot".into()];
    let waiting = record(Happening::WaitingFor {
        event: "appointment.booked".into(),
        timeout_at: next.wake_at,
    });
    let transition = Transition {
        expected_seq: 0,
        run: next.clone(),
        records: vec![waiting.clone()],
        contact: Some(changed.clone()),
    };
    store
        .apply("a", transition.clone())
        .await
        .expect("first apply");
    let again = store.apply("a", transition).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { expected: 0, .. })),
        "a stale seq is refused: {again:?}"
    );
    assert_eq!(
        store.run("a", run.id).await.expect("run"),
        next,
        "the run has the new state"
    );
    assert_eq!(
        store.records("a", run.id).await.expect("records"),
        [started, waiting],
        "history is appended in order, once"
    );
    assert_eq!(
        store.contact("a", "c1").await.expect("contact").tags,
        ["hot"],
        "the contact changed with the run"
    );
    let active = store.active_runs("a", "c1").await.expect("active");
    assert_eq!(active.iter().map(|r| r.id).collect::<Vec<_>>(), [run.id]);
    let mut done = next.clone();
    done.seq = 2;
    done.status = RunStatus::Completed;
    done.wake_at = None;
    store
        .apply(
            "a",
            Transition {
                expected_seq: 1,
                run: done,
                records: vec![],
                contact: None,
            },
        )
        .await
        .expect("complete");
    assert!(
        store
            .active_runs("a", "c1")
            .await
            .expect("active")
            .is_empty(),
        "ended runs are not active"
    );
}

async fn tenants_are_isolated(store: &dyn Store) {
    let run = new_run("a");
    store.create_run("a", &run, &[]).await.expect("create");
    store.put_tenant(&tenant("b")).await.expect("tenant b");
    assert!(
        matches!(
            store.run("b", run.id).await,
            Err(StoreError::NotFound { .. })
        ),
        "b cannot read a's run"
    );
    assert!(
        matches!(
            store.records("b", run.id).await,
            Err(StoreError::NotFound { .. })
        ),
        "b cannot read a's history"
    );
    assert!(
        matches!(
            store.contact("b", "c1").await,
            Err(StoreError::NotFound { .. })
        ),
        "b cannot read a's contact"
    );
    assert!(
        store
            .active_runs("b", "c1")
            .await
            .expect("active")
            .is_empty(),
        "b sees none of a's runs"
    );
    assert!(
        store.live_flows("b").await.expect("flows").is_empty(),
        "b sees none of a's flows"
    );
    assert!(matches!(
        store.flow_version("b", "f", 1).await,
        Err(StoreError::NotFound { .. })
    ));
    let mut hijack = run.clone();
    hijack.seq = 1;
    hijack.status = RunStatus::Cancelled;
    let result = store
        .apply(
            "b",
            Transition {
                expected_seq: 0,
                run: hijack,
                records: vec![],
                contact: None,
            },
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::NotFound { .. })),
        "b cannot change a's run: {result:?}"
    );
    assert_eq!(
        store.run("a", run.id).await.expect("run").status,
        RunStatus::Ready,
        "a's run is unchanged"
    );
}

async fn due_runs_span_tenants_in_wake_order(store: &dyn Store) {
    let mut late = new_run("b");
    late.status = RunStatus::Sleeping;
    late.wake_at = Some(at("2026-06-02T10:00:00Z"));
    let mut early = new_run("a");
    early.status = RunStatus::Sleeping;
    early.wake_at = Some(at("2026-06-02T09:00:00Z"));
    let mut future = new_run("a");
    future.wake_at = Some(at("2030-01-01T00:00:00Z"));
    for (tenant_id, run) in [("b", &late), ("a", &early), ("a", &future)] {
        store.create_run(tenant_id, run, &[]).await.expect("create");
    }
    let due = store
        .due_runs(at("2026-06-03T00:00:00Z"), 10)
        .await
        .expect("due");
    let ids: Vec<_> = due
        .iter()
        .map(|t| (t.tenant_id.as_str(), t.run_id))
        .collect();
    assert!(
        ids.starts_with(&[("a", early.id), ("b", late.id)]),
        "oldest wake first, every tenant: {ids:?}"
    );
    assert!(
        !ids.iter().any(|(_, id)| *id == future.id),
        "runs not yet due are left alone"
    );
    assert_eq!(
        store
            .due_runs(at("2026-06-03T00:00:00Z"), 1)
            .await
            .expect("due")
            .len(),
        1,
        "the limit holds"
    );
}

async fn timers_are_claimed_once_per_seq(store: &dyn Store) {
    let mut sleeping = new_run("c");
    sleeping.status = RunStatus::Sleeping;
    sleeping.wake_at = Some(at("2026-07-01T10:00:00Z"));
    let mut later = new_run("c");
    later.status = RunStatus::Waiting;
    later.wake_at = Some(at("2026-07-01T12:00:00Z"));
    let mut ready = new_run("c");
    ready.wake_at = Some(at("2026-07-01T09:00:00Z"));
    for run in [&sleeping, &later, &ready] {
        store.create_run("c", run, &[]).await.expect("create");
    }
    let until = at("2026-07-01T11:00:00Z");
    let claimed = store.claim_timers(until, 100).await.expect("claim");
    let ids: Vec<_> = claimed
        .iter()
        .filter(|(t, _)| t.tenant_id == "c")
        .map(|(t, at)| (t.run_id, *at))
        .collect();
    assert_eq!(
        ids,
        [(sleeping.id, at("2026-07-01T10:00:00Z"))],
        "only sleeping or waiting runs due by then"
    );
    let again = store.claim_timers(until, 100).await.expect("claim again");
    assert!(
        !again.iter().any(|(t, _)| t.run_id == sleeping.id),
        "a timer is claimed once per seq"
    );
    let mut next = sleeping.clone();
    next.seq = 1;
    store
        .apply(
            "c",
            Transition {
                expected_seq: 0,
                run: next,
                records: vec![],
                contact: None,
            },
        )
        .await
        .expect("apply");
    let renewed = store
        .claim_timers(until, 100)
        .await
        .expect("claim after a transition");
    assert!(
        renewed
            .iter()
            .any(|(t, _)| t.run_id == sleeping.id && t.seq == 1),
        "a new seq can be claimed again"
    );
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_store_conforms() {
        super::run_all(&super::super::MemoryStore::new()).await;
    }
}
