//! Every text from a pool number keeps the number's rate, not only a campaign contact's first
//! one, on the SQL store (SQLite, and PostgreSQL when `STEPWISE_TEST_DATABASE_URL` is set):
//! three runs that each send two texts from a number allowed one a second, all at once, go
//! out one slot apart (the number's planned rate), each run's texts in order; a text from a
//! number outside the pools is not held. Time is the engine's virtual clock.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::sync::Arc;

use common::TestDb;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use stepwise_engine::audience::pools::PoolNumber;
use stepwise_engine::model::{Contact, Event, Tenant};
use stepwise_engine::ports::{Clock, FlowDocument, Store, VirtualClock};
use stepwise_engine::queue::MemoryQueue;
use stepwise_engine::runtime::Engine;
use stepwise_engine::store::SqlStore;
use stepwise_engine::testing::RecordingConnector;

const NUMBER: &str = "+15125550201";

const FLOW: &str = "id: promo
purpose: transactional
quiet_hours: off
trigger: {event: promo.due}
steps:
  - send_sms: {from: '+15125550201', body: 'first for {{contact.first_name}}'}
  - send_sms: {from: '+15125550201', body: 'second for {{contact.first_name}}'}
  - send_sms: {from: '+15125550299', body: 'unpooled for {{contact.first_name}}'}
";

async fn paces(store: SqlStore) {
    let store = Arc::new(store);
    let queue = Arc::new(MemoryQueue::new());
    let clock = Arc::new(VirtualClock::new("2026-03-06T14:00:00Z".parse().unwrap()));
    let connector = Arc::new(RecordingConnector::default());
    let engine = Engine::new(
        store.clone(),
        queue.clone(),
        clock.clone(),
        connector.clone(),
    )
    .with_pacing(store.clone());
    let pool: PoolNumber =
        serde_json::from_value(json!({"number": NUMBER, "kind": "long_code", "per_second": 1}))
            .unwrap();
    let interval = pool.planned_interval();
    let tenant = Tenant {
        id: "t1".into(),
        sender_pools: [("main".to_owned(), vec![pool])].into(),
        ..Tenant::default()
    };
    store.put_tenant(&tenant).await.unwrap();
    let doc = FlowDocument {
        source: FLOW.into(),
        config: json!({}),
        templates: json!({}),
        origin: None,
    };
    engine.publish("t1", doc, None).await.unwrap();
    for (n, (id, name)) in [("c1", "Ana"), ("c2", "Bo"), ("c3", "Cy")]
        .into_iter()
        .enumerate()
    {
        let contact = Contact {
            id: id.into(),
            first_name: Some(name.into()),
            phone: Some(format!("+1512555{:04}", 300 + n)),
            ..Contact::default()
        };
        store.put_contact("t1", &contact).await.unwrap();
        engine
            .ingest("t1", id, Event::new("promo.due", json!({})))
            .await
            .unwrap();
    }

    // Run everything due, then move the clock to the next task, until nothing is left;
    // note the time of each text.
    let start = clock.now();
    let mut sent: Vec<(Timestamp, String, String)> = Vec::new();
    for _ in 0..200 {
        while let Some(task) = queue.pop_due(clock.now()) {
            engine.advance(task).await.unwrap();
            for call in &connector.calls()[sent.len()..] {
                let call = serde_json::to_value(call).unwrap();
                let field = |k: &str| call[k].as_str().unwrap_or_default().to_owned();
                sent.push((clock.now(), field("from"), field("body")));
            }
        }
        match queue.next_due() {
            Some(at) => clock.advance_to(at.max(clock.now())),
            None => break,
        }
    }
    assert_eq!(sent.len(), 9, "{sent:?}");
    let pooled: Vec<&(Timestamp, String, String)> =
        sent.iter().filter(|(_, from, _)| from == NUMBER).collect();
    assert_eq!(pooled.len(), 6, "{sent:?}");
    for pair in pooled.windows(2) {
        let gap = pair[1].0.duration_since(pair[0].0);
        assert!(
            gap >= interval - SignedDuration::from_millis(1),
            "two texts from the number {gap:?} apart, under its {interval:?}: {sent:?}"
        );
    }
    let last = pooled[5].0.duration_since(start);
    assert!(
        last < interval * 6,
        "the slots are used back to back ({last:?}): {sent:?}"
    );
    for name in ["Ana", "Bo", "Cy"] {
        let own: Vec<&str> = sent
            .iter()
            .filter(|(_, _, body)| body.ends_with(name))
            .map(|(_, _, body)| body.split(' ').next().unwrap())
            .collect();
        assert_eq!(own, ["first", "second", "unpooled"], "{sent:?}");
    }
}

#[tokio::test]
async fn pool_numbers_keep_their_rate_on_sqlite() {
    let db = TestDb::sqlite("pacing").await;
    paces(db.store.clone()).await;
    db.finish().await;
}

#[tokio::test]
async fn pool_numbers_keep_their_rate_on_postgres() {
    let Some(db) = TestDb::postgres("pacing").await else {
        return;
    };
    paces(db.store.clone()).await;
    db.finish().await;
}
