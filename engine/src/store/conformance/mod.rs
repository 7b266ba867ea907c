//! The behaviour every [`Store`] must have, as one suite each implementation runs (memory
//! here, SQLite and PostgreSQL in `engine/tests/store_conformance.rs`). Each check panics
//! with a message saying which promise broke.

mod concurrent;
mod contacts;
mod events;
mod messages;
mod suppressions;
mod timers;

pub use concurrent::{
    concurrent_first_events_keep_their_own_outcome, concurrent_settings_changes_all_apply,
    concurrent_transitions_apply_once,
};

use jiff::Timestamp;
use serde_json::json;

use crate::model::{Contact, ContactChange, Event, Run, RunStatus, Tenant, Waiting};
use crate::ports::{FlowDocument, Store, StoreError, Transition};
use crate::runtime::{Happening, StepRecord};

pub(super) fn at(s: &str) -> Timestamp {
    s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
}

pub(super) fn tenant(id: &str) -> Tenant {
    Tenant {
        id: id.into(),
        name: format!("Business {id}"),
        timezone: "America/Chicago".into(),
        ..Tenant::default()
    }
}

/// A contact with a phone of its own (a phone names one contact of a tenant).
pub(super) fn contact(id: &str) -> Contact {
    let n = id
        .bytes()
        .fold(0u32, |n, b| (n * 31 + u32::from(b)) % 10_000);
    Contact {
        id: id.into(),
        phone: Some(format!("+1512555{n:04}")),
        first_name: Some("Ana".into()),
        ..Contact::default()
    }
}

pub(super) fn record(what: Happening) -> StepRecord {
    StepRecord {
        at: at("2026-06-01T15:00:00Z"),
        step: Some("s".into()),
        attempt: 0,
        what,
    }
}

/// Runs every check against `store`, which must be empty.
pub async fn run_all(store: &dyn Store) {
    contacts::tenants_and_contacts(store).await;
    events::events_are_stored_once(store).await;
    events::unheard_types_are_counted_per_tenant(store).await;
    flow_versions_are_immutable(store).await;
    transitions_apply_once(store).await;
    tenants_are_isolated(store).await;
    long_histories_keep_their_order(store).await;
    messages::sends_are_in_the_outbox(store).await;
    timers::due_runs_span_tenants_in_wake_order(store).await;
    timers::timers_are_claimed_once_per_seq(store).await;
    timers::schedules_tick_once(store).await;
    timers::contacts_page_in_id_order(store).await;
    contacts::a_phone_names_one_contact(store).await;
    contacts::creating_never_replaces(store).await;
    contacts::first_events_store_new_contacts_only(store).await;
    contacts::changes_apply_to_the_latest_contact(store).await;
    suppressions::opt_outs_outlive_their_contacts(store).await;
}

async fn flow_versions_are_immutable(store: &dyn Store) {
    let v1 = FlowDocument {
        source: "id: f\n".into(),
        config: json!({"k": 1}),
        templates: json!({}),
        origin: None,
    };
    let v2 = FlowDocument {
        source: "id: f # v2\n".into(),
        config: json!({"k": 2}),
        templates: json!({"t": "x"}),
        origin: None,
    };
    assert_eq!(
        store.save_flow("a", "f", &v1, None).await.expect("save v1"),
        1
    );
    assert_eq!(
        store.save_flow("a", "f", &v2, None).await.expect("save v2"),
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
        .set_flow_enabled("a", "f", false, None)
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
        .set_flow_enabled("a", "f", true, None)
        .await
        .expect("enable");
    assert!(matches!(
        store.set_flow_enabled("a", "nope", true, None).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub(super) fn new_run(tenant_id: &str) -> Run {
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
        or: vec!["message.received".into()],
        timeout_at: Some(at("2026-06-01T15:15:00Z")),
    });
    next.wake_at = Some(at("2026-06-01T15:15:00Z"));
    let mut changed = contact("c1");
    changed.tags = vec!["hot".into()];
    let waiting = record(Happening::WaitingFor {
        event: "appointment.booked".into(),
        or: Vec::new(),
        timeout_at: next.wake_at,
    });
    let transition = Transition {
        expected_seq: 0,
        run: next.clone(),
        records: vec![waiting.clone()],
        contact: Some(ContactChange::between(&contact("c1"), &changed)),
        audit: None,
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
        ["vip", "hot"],
        "the run's change applies to the latest contact: its tag is added, one set before kept"
    );
    let (read, its_contact) = store.run_and_contact("a", run.id).await.expect("both");
    assert_eq!(
        (read, its_contact.tags),
        (next.clone(), vec!["vip".into(), "hot".into()])
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
                audit: None,
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
            store.run_and_contact("b", run.id).await,
            Err(StoreError::NotFound { .. })
        ),
        "b cannot read a's run with its contact"
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
                audit: None,
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

async fn long_histories_keep_their_order(store: &dyn Store) {
    let run = new_run("g");
    store.create_run("g", &run, &[]).await.expect("create");
    let records: Vec<StepRecord> = (0..250)
        .map(|n| {
            record(Happening::Computed {
                output: json!({ "n": n }),
            })
        })
        .collect();
    let mut next = run.clone();
    next.seq = 1;
    let transition = Transition {
        expected_seq: 0,
        run: next,
        records: records.clone(),
        contact: None,
        audit: None,
    };
    store
        .apply("g", transition)
        .await
        .expect("apply a long transition");
    assert_eq!(
        store.records("g", run.id).await.expect("records"),
        records,
        "every record, in order"
    );
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_store_conforms() {
        super::run_all(&super::super::MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn the_memory_store_applies_concurrent_transitions_once() {
        let store = std::sync::Arc::new(super::super::MemoryStore::new());
        super::concurrent_transitions_apply_once(store.clone()).await;
        super::concurrent_first_events_keep_their_own_outcome(store.clone()).await;
        super::concurrent_settings_changes_all_apply(store).await;
    }
}
