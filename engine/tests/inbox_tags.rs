//! The inbox's tag filter reads a bounded window a request, on SQLite and (when
//! `STEPWISE_TEST_DATABASE_URL` is set) PostgreSQL: over 2,600 conversations where only the
//! five oldest contacts have the tag, the first request reads its 2,000 newest conversations,
//! finds none and says where it stopped; following that, the second finds the five and says
//! the listing ended. Another tenant's tagged contacts never show.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::TestDb;
use jiff::Timestamp;
use stepwise_engine::ports::{ConversationFilter, ConversationStore};
use stepwise_engine::store::SqlStore;

const CONVERSATIONS: usize = 2_600;

/// `count` conversations of `tenant`, the contact `c{i}`'s newer as `i` grows; the contacts
/// below `tagged` have the tag `vip`.
async fn seed(store: &SqlStore, tenant: &str, count: usize, tagged: usize) {
    let start = Timestamp::now().as_microsecond() - 86_400_000_000;
    for chunk in (0..count).collect::<Vec<_>>().chunks(200) {
        let (mut contacts, mut conversations) = (Vec::new(), Vec::new());
        for &i in chunk {
            let tag = if i < tagged { "vip" } else { "customer" };
            contacts.push(format!(
                "('{tenant}', 'c{i}', '{{\"id\":\"c{i}\",\"tags\":[\"{tag}\"]}}', {start})"
            ));
            conversations.push(format!(
                "('{tenant}', '{tenant}-cv{i}', 'c{i}', 'sms', 'open', 0, {}, 'inbound', {start})",
                start + i as i64 * 1_000_000
            ));
        }
        for (table, columns, rows) in [
            ("contacts", "tenant_id, id, doc, updated_at", contacts),
            (
                "conversations",
                "tenant_id, id, contact_id, channel, status, unread, last_message_at, last_direction, created_at",
                conversations,
            ),
        ] {
            let sql = format!("INSERT INTO {table} ({columns}) VALUES {}", rows.join(", "));
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(store.pool())
                .await
                .unwrap();
        }
    }
}

async fn tag_filter_is_bounded(store: &SqlStore) {
    seed(store, "busy", CONVERSATIONS, 5).await;
    seed(store, "other", 10, 10).await;
    let mut filter = ConversationFilter {
        tag: Some("vip".into()),
        ..ConversationFilter::default()
    };
    let mut pages = Vec::new();
    loop {
        let rows = store.conversations("busy", &filter, 51).await.unwrap();
        let next = if rows.len() > 50 {
            rows.get(49).map(|c| (c.last_message_at, c.id.clone()))
        } else {
            store.tag_scan_end("busy", &filter).await.unwrap()
        };
        pages.push(
            rows.iter()
                .map(|c| c.contact_id.clone())
                .collect::<Vec<_>>(),
        );
        match next {
            Some(cursor) => filter.before = Some(cursor),
            None => break,
        }
        assert!(pages.len() < 10, "{pages:?}");
    }
    assert_eq!(
        pages,
        [vec![], vec!["c4", "c3", "c2", "c1", "c0"]],
        "the first window (the 2,000 newest) holds none; the second the five"
    );
    // Without the tag the listing is not windowed.
    let all = store
        .conversations("busy", &ConversationFilter::default(), 1_000)
        .await
        .unwrap();
    assert_eq!(all.len(), 1_000);
    assert_eq!(
        store
            .tag_scan_end("busy", &ConversationFilter::default())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn tag_filter_is_bounded_on_sqlite() {
    let db = TestDb::sqlite("stepwise_inbox_tags").await;
    tag_filter_is_bounded(&db.store).await;
    db.finish().await;
}

#[tokio::test]
async fn tag_filter_is_bounded_on_postgres() {
    let Some(db) = TestDb::postgres("stepwise_inbox_tags").await else {
        return;
    };
    tag_filter_is_bounded(&db.store).await;
    db.finish().await;
}
