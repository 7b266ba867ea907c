//! Conformance checks for what the background loops rely on: due runs, timer claims,
//! schedule ticks and contact paging.

use super::{at, contact, new_run};
use crate::model::{Contact, RunStatus};
use crate::ports::{Schedule, Store, Transition};

pub(super) async fn due_runs_span_tenants_in_wake_order(store: &dyn Store) {
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

pub(super) async fn timers_are_claimed_once_per_seq(store: &dyn Store) {
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
                audit: None,
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

pub(super) async fn schedules_tick_once(store: &dyn Store) {
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

pub(super) async fn contacts_page_in_id_order(store: &dyn Store) {
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
