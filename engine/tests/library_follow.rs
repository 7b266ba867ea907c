//! Flows follow the template library across processes, on the SQL store (SQLite, and
//! PostgreSQL when `STEPWISE_TEST_DATABASE_URL` is set): two engines share one database, as
//! two workers do; an approval made elsewhere (straight in the store, so neither engine is
//! told) reaches a worker's compiled flow once its copy is a second old by the engine's
//! clock, and not before; a pinned use never moves.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::sync::Arc;

use common::TestDb;
use serde_json::json;
use stepwise_engine::model::{Contact, Event, Tenant};
use stepwise_engine::ports::{
    AuditEntry, Channel, Clock, FlowDocument, Store, TemplateDraft, TemplateKind, TemplateStore,
    VirtualClock,
};
use stepwise_engine::queue::MemoryQueue;
use stepwise_engine::runtime::Engine;
use stepwise_engine::store::SqlStore;
use stepwise_engine::testing::RecordingConnector;

const FLOW: &str = "id: remind
purpose: transactional
trigger: {event: visit.booked}
steps:
  - notify: {text: '{{library \"reminder\"}} | {{library \"reminder\" version=1}}'}
";

async fn follows(store: SqlStore) {
    let store = Arc::new(store);
    let queue = Arc::new(MemoryQueue::new());
    let clock = Arc::new(VirtualClock::new("2026-03-06T14:00:00Z".parse().unwrap()));
    let connector = Arc::new(RecordingConnector::default());
    let worker = || {
        Engine::new(
            store.clone(),
            queue.clone(),
            clock.clone(),
            connector.clone(),
        )
        .with_library(store.clone())
    };
    let (publisher, other) = (worker(), worker());
    store
        .put_tenant(&Tenant {
            id: "t1".into(),
            ..Tenant::default()
        })
        .await
        .unwrap();
    let contact = Contact {
        id: "c1".into(),
        first_name: Some("Ana".into()),
        ..Contact::default()
    };
    store.put_contact("t1", &contact).await.unwrap();
    let audit = || {
        AuditEntry::now(
            "test",
            None,
            "template.write",
            "template:reminder",
            json!({}),
        )
    };
    let write = |body: &str| TemplateDraft {
        name: "reminder".into(),
        kind: TemplateKind::Outreach,
        channel: Channel::Sms,
        subject: None,
        body: body.into(),
        tags: Vec::new(),
        author: "test".into(),
    };
    store
        .add_template_version("t1", &write("v1 {{contact.first_name}}"), &audit())
        .await
        .unwrap();
    store
        .approve_template("t1", "reminder", 1, "test", &audit())
        .await
        .unwrap();
    let doc = FlowDocument {
        source: FLOW.into(),
        config: json!({}),
        templates: json!({}),
        origin: None,
    };
    publisher.publish("t1", doc, None).await.unwrap();

    let mut sent = 0;
    let mut run_on_other = || {
        let (other, queue, clock, connector) =
            (&other, queue.clone(), clock.clone(), connector.clone());
        sent += 1;
        let n = sent;
        async move {
            let event = Event::new("visit.booked", json!({}));
            other.ingest("t1", "c1", event).await.unwrap();
            while let Some(task) = queue.pop_due(clock.now()) {
                other.advance(task).await.unwrap();
            }
            let calls = connector.calls();
            assert_eq!(calls.len(), n, "{calls:?}");
            serde_json::to_value(&calls[n - 1]).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(run_on_other().await, "v1 Ana | v1 Ana");

    // Approved elsewhere: this worker's copy is fresh, so the next run still says v1 …
    store
        .add_template_version("t1", &write("v2 {{contact.first_name}}"), &audit())
        .await
        .unwrap();
    store
        .approve_template("t1", "reminder", 2, "test", &audit())
        .await
        .unwrap();
    assert_eq!(run_on_other().await, "v1 Ana | v1 Ana");
    // … and once it is a second old, it reads the library again; the pin holds.
    clock.advance_to(clock.now() + jiff::SignedDuration::from_secs(1));
    assert_eq!(run_on_other().await, "v2 Ana | v1 Ana");
}

#[tokio::test]
async fn approvals_reach_other_workers_on_sqlite() {
    let db = TestDb::sqlite("library_follow").await;
    follows(db.store.clone()).await;
    db.finish().await;
}

#[tokio::test]
async fn approvals_reach_other_workers_on_postgres() {
    let Some(db) = TestDb::postgres("library_follow").await else {
        return;
    };
    follows(db.store.clone()).await;
    db.finish().await;
}
