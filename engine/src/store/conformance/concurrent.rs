//! Transitions applied concurrently (as a worker's many advances and event ingestion do, and
//! as the SQL store commits them in groups): each run moves once per `seq`, losers are told
//! `Conflict` and leave no history, and every winner's records and contact are kept. First
//! events of new contacts arriving together each keep their own outcome. Settings changed
//! together each keep their change.

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::json;

use super::{contact, new_run, record};
use crate::model::{Contact, ContactChange, Event, Run};
use crate::ports::{AuditEntry, Store, StoreError, StoredEvent, Transition};
use crate::runtime::Happening;

/// Runs started for the check; each gets two competing transitions.
const RUNS: usize = 40;

pub async fn concurrent_transitions_apply_once(store: Arc<dyn Store>) {
    store.put_tenant(&super::tenant("g")).await.expect("tenant");
    store
        .put_contact("g", &contact("c1"))
        .await
        .expect("contact");
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let run = new_run("g");
        store.create_run("g", &run, &[]).await.expect("create");
        runs.push(run);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, run) in runs.iter().enumerate() {
        for contender in 0..2usize {
            let mut next = run.clone();
            next.seq = 1;
            next.pc = contender + 1;
            let mut changed = contact("c1");
            changed.tags = vec![format!("run{i}-contender{contender}")];
            let transition = Transition {
                expected_seq: 0,
                run: next,
                records: vec![record(Happening::Woke {
                    by: format!("contender{contender}"),
                })],
                contact: Some(ContactChange::between(&contact("c1"), &changed)),
                audit: None,
            };
            let store = store.clone();
            tasks.spawn(async move { (contender, store.apply("g", transition).await) });
        }
    }
    let mut won = 0;
    let mut lost = 0;
    while let Some(result) = tasks.join_next().await {
        match result.expect("task") {
            (_, Ok(())) => won += 1,
            (_, Err(StoreError::Conflict { expected: 0, .. })) => lost += 1,
            (_, Err(e)) => panic!("a concurrent transition failed: {e}"),
        }
    }
    assert_eq!(
        (won, lost),
        (RUNS, RUNS),
        "one winner and one loser per run"
    );
    let mut winners = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let stored = store.run("g", run.id).await.expect("run");
        winners.push(format!("run{i}-contender{}", stored.pc - 1));
        assert_eq!(stored.seq, 1, "each run moved once");
        let history = store.records("g", run.id).await.expect("records");
        assert_eq!(history.len(), 1, "only the winner's record is kept");
        let Happening::Woke { by } = &history[0].what else {
            panic!("unexpected record {:?}", history[0]);
        };
        assert_eq!(
            by,
            &format!("contender{}", stored.pc - 1),
            "the record is the one of the state that won"
        );
    }
    let mut tags = store.contact("g", "c1").await.expect("contact").tags;
    tags.sort();
    winners.sort();
    assert_eq!(
        tags, winners,
        "every winner's contact change is kept, and no loser's"
    );
}

/// First events of new contacts arriving together (committed in shared batches where the store
/// batches) each keep their own outcome: new leads are stored, a phone taken twice at once
/// makes one contact, a known phone stores nothing, and an event sent four times at once is
/// stored once.
pub async fn concurrent_first_events_keep_their_own_outcome(store: Arc<dyn Store>) {
    store
        .put_contact("m", &lead("known", "+15125550300"))
        .await
        .expect("known contact");
    let mut cases = Vec::new();
    for i in 0..20 {
        cases.push((
            "new",
            format!("lead-{i}"),
            lead(&format!("new{i}"), &format!("+151255504{i:02}")),
        ));
    }
    for i in 0..6 {
        cases.push((
            "twin",
            format!("twin-{i}"),
            lead(&format!("twin{i}"), "+15125550301"),
        ));
    }
    for i in 0..3 {
        cases.push(("same id", format!("same-{i}"), lead("same", "+15125550302")));
    }
    for i in 0..4 {
        cases.push((
            "known",
            format!("known-{i}"),
            lead(&format!("k{i}"), "+15125550300"),
        ));
        cases.push((
            "repeat",
            "once".into(),
            lead(&format!("rep{i}"), &format!("+151255505{i:02}")),
        ));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (n, (kind, external_id, contact)) in cases.into_iter().enumerate() {
        let store = store.clone();
        tasks.spawn(async move {
            let mut event = Event::new("lead.created", json!({}));
            event.external_id = Some(external_id);
            let stored_event = StoredEvent {
                id: format!("m-event-{n}"),
                event,
                contact_id: Some(contact.id.clone()),
                received_at: Timestamp::now(),
            };
            let run = Run {
                contact_id: contact.id.clone(),
                ..new_run("m")
            };
            let stored = store
                .record_first_event("m", &stored_event, &contact, vec![(run.clone(), vec![])])
                .await
                .expect("first event");
            (kind, stored, contact.id, run.id)
        });
    }
    let mut stored_by_kind = std::collections::BTreeMap::<&str, usize>::new();
    for (kind, stored, contact_id, run_id) in tasks.join_all().await {
        *stored_by_kind.entry(kind).or_default() += usize::from(stored);
        // (Three events share the contact "same": one of them stores it.)
        assert!(
            store.contact("m", &contact_id).await.is_ok() == stored || kind == "same id",
            "{contact_id} is stored exactly when its first event is"
        );
        assert_eq!(
            store.run("m", run_id).await.is_ok(),
            stored,
            "and so is its run"
        );
    }
    assert_eq!(
        stored_by_kind,
        [
            ("known", 0),
            ("new", 20),
            ("repeat", 1),
            ("same id", 1),
            ("twin", 1)
        ]
        .into(),
        "new leads stored; one first event per new contact; known phones and repeats store nothing"
    );
}

fn lead(id: &str, phone: &str) -> Contact {
    Contact {
        id: id.into(),
        phone: Some(phone.into()),
        ..Contact::default()
    }
}

/// Eight changes to one tenant's settings at once, each adding a sender of its own: every
/// sender is kept (a read-modify-write that let another change in between would lose some).
/// This bites on PostgreSQL; the SQLite store has one connection, which queues them anyway
/// (its `BEGIN IMMEDIATE` guards against other processes writing the same file).
pub async fn concurrent_settings_changes_all_apply(store: Arc<dyn Store>) {
    store
        .put_tenant(&super::tenant("settings"))
        .await
        .expect("tenant");
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..8 {
        let store = store.clone();
        tasks.spawn(async move {
            let audit = AuditEntry::now("k", None, "settings.update", "settings", json!({}));
            let add = move |mut tenant: crate::model::Tenant| {
                tenant
                    .senders
                    .insert(format!("sms-{n}"), format!("+1512555010{n}"));
                Some(tenant)
            };
            store
                .update_tenant("settings", &add, &audit)
                .await
                .expect("update")
        });
    }
    while let Some(done) = tasks.join_next().await {
        assert!(done.expect("join").is_some());
    }
    let senders = store.tenant("settings").await.expect("tenant").senders;
    assert_eq!(senders.len(), 8, "every change kept: {senders:?}");
    let unchanged = store
        .update_tenant(
            "settings",
            &|_| None,
            &AuditEntry::now("k", None, "x", "y", json!({})),
        )
        .await
        .expect("no change");
    assert_eq!(unchanged, None);
}
