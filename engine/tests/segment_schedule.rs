//! A schedule whose audience is a saved segment, on the SQL store (SQLite, and PostgreSQL when
//! `STEPWISE_TEST_DATABASE_URL` is set): publishing it needs the segment to exist (a located
//! error otherwise); each tick starts one run per contact in the segment as it is at the
//! tick (a contact tagged since is in, one untagged is out), combined with `audience`; a
//! tick whose segment was deleted starts nothing and the schedule goes on.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::sync::Arc;

use common::TestDb;
use jiff::Timestamp;
use serde_json::json;
use stepwise_engine::audience::segment::{Filter, Segment};
use stepwise_engine::error::EngineError;
use stepwise_engine::model::{Contact, Tenant};
use stepwise_engine::ports::{AudienceStore, AuditEntry, Clock, FlowDocument, Store, VirtualClock};
use stepwise_engine::queue::MemoryQueue;
use stepwise_engine::runtime::Engine;
use stepwise_engine::store::SqlStore;
use stepwise_engine::testing::RecordingConnector;

const FLOW: &str = "id: winback
purpose: transactional
trigger:
  schedule: '0 9 * * *'
  segment: lapsed
  audience: 'contact.first_name != \"Skip\"'
steps:
  - notify: {text: 'win back {{contact.first_name}}'}
";

fn contact(id: &str, name: &str, tags: &[&str]) -> Contact {
    Contact {
        id: id.into(),
        first_name: Some(name.into()),
        phone: Some(format!("+1512555{:04}", id.len() * 1000 + name.len())),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ..Contact::default()
    }
}

fn doc(source: &str) -> FlowDocument {
    FlowDocument {
        source: source.into(),
        config: json!({}),
        templates: json!({}),
        origin: None,
    }
}

async fn segment_schedules(store: SqlStore) {
    let store = Arc::new(store);
    let queue = Arc::new(MemoryQueue::new());
    // Friday 2026-03-06 08:00 in Chicago.
    let clock = Arc::new(VirtualClock::new("2026-03-06T14:00:00Z".parse().unwrap()));
    let connector = Arc::new(RecordingConnector::default());
    let engine = Engine::new(
        store.clone(),
        queue.clone(),
        clock.clone(),
        connector.clone(),
    )
    .with_audiences(store.clone());
    let tenant = Tenant {
        id: "t1".into(),
        timezone: "America/Chicago".into(),
        ..Tenant::default()
    };
    store.put_tenant(&tenant).await.unwrap();
    for c in [
        contact("c1", "Ana", &["lapsed"]),
        contact("c2", "Bo", &[]),
        contact("c3", "Skip", &["lapsed"]),
    ] {
        store.put_contact("t1", &c).await.unwrap();
    }

    // No such segment yet: refused where the flow names it.
    let Err(EngineError::InvalidDefinition(found)) = engine.publish("t1", doc(FLOW), None).await
    else {
        panic!("a flow naming a missing segment was published");
    };
    assert_eq!(
        (found[0].pointer.as_str(), found[0].line),
        ("/trigger/segment", 5),
        "{found:?}"
    );
    assert!(found[0].message.contains("lapsed"), "{found:?}");

    let audit = || AuditEntry::now("test", None, "segment.put", "segment:lapsed", json!({}));
    let lapsed = Segment {
        name: "lapsed".into(),
        description: None,
        filter: Filter {
            tags_all: vec!["lapsed".into()],
            ..Filter::default()
        },
    };
    store.put_segment("t1", &lapsed, &audit()).await.unwrap();
    engine.publish("t1", doc(FLOW), None).await.unwrap();

    let tick = |at: &'static str| {
        let (engine, queue, clock) = (&engine, queue.clone(), clock.clone());
        async move {
            clock.advance_to(at.parse::<Timestamp>().unwrap());
            let started = engine.fire_schedules_once().await.unwrap();
            while let Some(task) = queue.pop_due(clock.now()) {
                engine.advance(task).await.unwrap();
            }
            started
        }
    };
    // Friday 09:00: Ana (in the segment; Skip is in it too but not in `audience`).
    assert_eq!(tick("2026-03-06T15:00:00Z").await, 1);
    // Bo is tagged since: Saturday's tick finds Ana and Bo.
    store
        .put_contact("t1", &contact("c2", "Bo", &["lapsed"]))
        .await
        .unwrap();
    assert_eq!(tick("2026-03-07T15:00:00Z").await, 2);
    // The segment is deleted: Sunday's tick starts nothing, and the schedule goes on.
    store
        .delete_segment("t1", "lapsed", &audit())
        .await
        .unwrap();
    assert_eq!(tick("2026-03-08T14:00:00Z").await, 0);
    store.put_segment("t1", &lapsed, &audit()).await.unwrap();
    assert_eq!(tick("2026-03-09T14:00:00Z").await, 2);

    let texts: Vec<String> = connector
        .calls()
        .iter()
        .map(|c| {
            serde_json::to_value(c).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        texts.iter().filter(|t| *t == "win back Ana").count(),
        3,
        "{texts:?}"
    );
    assert_eq!(
        texts.iter().filter(|t| *t == "win back Bo").count(),
        2,
        "{texts:?}"
    );
    assert!(!texts.iter().any(|t| t.contains("Skip")), "{texts:?}");
}

#[tokio::test]
async fn a_segment_is_a_schedule_audience_on_sqlite() {
    let db = TestDb::sqlite("segment_schedule").await;
    segment_schedules(db.store.clone()).await;
    db.finish().await;
}

#[tokio::test]
async fn a_segment_is_a_schedule_audience_on_postgres() {
    let Some(db) = TestDb::postgres("segment_schedule").await else {
        return;
    };
    segment_schedules(db.store.clone()).await;
    db.finish().await;
}
