//! The store conformance suite on SQLite (always) and PostgreSQL (when
//! `STEPWISE_TEST_DATABASE_URL` is set; then an unreachable server fails the test, it is not
//! skipped). Each run gets a fresh database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::TestDb;
use stepwise_engine::store::{SqlStore, conformance};

#[tokio::test]
async fn sqlite_conforms() {
    let db = TestDb::sqlite("stepwise_conformance").await;
    let store = db.store.clone();
    store.migrate().await.expect("migrations are idempotent");
    conformance::run_all(&store).await;
    admin_writes_commit_with_their_audit_entries(&store).await;
    flow_run_and_settings_writes_commit_with_their_entries(&store).await;
    conformance::concurrent_transitions_apply_once(std::sync::Arc::new(store.clone())).await;
    conformance::concurrent_first_events_keep_their_own_outcome(std::sync::Arc::new(store.clone()))
        .await;
    conformance::concurrent_settings_changes_all_apply(std::sync::Arc::new(store.clone())).await;
    number_slots_are_spaced_and_bounded(&store).await;
    drop(store);
    db.finish().await;
}

#[tokio::test]
async fn postgres_conforms() {
    let Some(db) = TestDb::postgres("stepwise_t").await else {
        return;
    };
    let store = db.store.clone();
    store.migrate().await.expect("migrations are idempotent");
    conformance::run_all(&store).await;
    admin_writes_commit_with_their_audit_entries(&store).await;
    flow_run_and_settings_writes_commit_with_their_entries(&store).await;
    conformance::concurrent_transitions_apply_once(std::sync::Arc::new(store.clone())).await;
    conformance::concurrent_first_events_keep_their_own_outcome(std::sync::Arc::new(store.clone()))
        .await;
    conformance::concurrent_settings_changes_all_apply(std::sync::Arc::new(store.clone())).await;
    young_tables_get_statistics(&store).await;
    number_slots_are_spaced_and_bounded(&store).await;
    drop(store);
    db.finish().await;
}

/// A pool number's slots: reserved at the same moment, each is one interval after the one
/// before, none past the horizon; another number, and another tenant's same number, are free.
async fn number_slots_are_spaced_and_bounded(store: &SqlStore) {
    use jiff::{SignedDuration, Timestamp};
    use stepwise_engine::ports::CampaignStore;

    let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
    let every = SignedDuration::from_millis(250);
    let horizon = SignedDuration::from_secs(1);
    let mut slots = Vec::new();
    while let Some(slot) = store
        .reserve_number_slot("t1", "+15125550201", now, every, horizon)
        .await
        .unwrap()
    {
        slots.push(slot);
        assert!(
            slots.len() <= 10,
            "the horizon bounds the bookings: {slots:?}"
        );
    }
    let expected: Vec<Timestamp> = (0..5).map(|i| now + every * i).collect();
    assert_eq!(
        slots, expected,
        "a slot each interval, up to a second ahead"
    );
    let other = store
        .reserve_number_slot("t1", "+15125550202", now, every, horizon)
        .await
        .unwrap();
    assert_eq!(other, Some(now));
    let tenant = store
        .reserve_number_slot("t2", "+15125550201", now, every, horizon)
        .await
        .unwrap();
    assert_eq!(tenant, Some(now), "numbers are paced per tenant");
    // Later, the number is free again from then on.
    let later = now + SignedDuration::from_secs(5);
    let again = store
        .reserve_number_slot("t1", "+15125550201", later, every, horizon)
        .await
        .unwrap();
    assert_eq!(again, Some(later));
}

/// A young table's statistics are taken by the store's maintenance once it has grown, so that
/// a lookup by primary key plans as one (see `store/sql/statistics.rs`).
async fn young_tables_get_statistics(store: &SqlStore) {
    use stepwise_engine::model::{Event, Run};
    use stepwise_engine::ports::Store;

    let generic_plan = || async {
        let mut conn = store.pool().acquire().await.expect("connection");
        let explain = "SET plan_cache_mode = force_generic_plan; \
            PREPARE by_id(text, text) AS SELECT state FROM runs WHERE tenant_id = $1 AND id = $2";
        sqlx::raw_sql(sqlx::AssertSqlSafe(explain))
            .execute(&mut *conn)
            .await
            .expect("prepare");
        let plan: Vec<String> = sqlx::query_scalar("EXPLAIN EXECUTE by_id('stats', 'x')")
            .fetch_all(&mut *conn)
            .await
            .expect("explain");
        sqlx::raw_sql("DEALLOCATE by_id; RESET plan_cache_mode")
            .execute(&mut *conn)
            .await
            .expect("deallocate");
        plan.join("\n")
    };
    for n in 0..400 {
        let run = Run::start(
            "stats",
            "f",
            1,
            &format!("c{n}"),
            Event::new("x", serde_json::json!({})),
            jiff::Timestamp::now(),
        );
        store
            .create_run("stats", &run, &[])
            .await
            .expect("create run");
    }
    // The activity statistics reach PostgreSQL's counters within a second or so.
    let mut poll = tokio::time::interval(std::time::Duration::from_millis(100));
    let analyzed = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            poll.tick().await;
            let done = store.maintain().await.expect("maintain");
            if done.iter().any(|d| d.ends_with(" runs")) {
                return done;
            }
        }
    })
    .await
    .expect("the runs table was analyzed once it had grown");
    assert!(!analyzed.is_empty());
    let plan = generic_plan().await;
    assert!(
        plan.contains("runs_pkey"),
        "a lookup by id uses the primary key:\n{plan}"
    );
    assert!(
        !store
            .maintain()
            .await
            .expect("maintain")
            .iter()
            .any(|d| d.ends_with(" runs")),
        "a table analyzed is left alone until it doubles"
    );
}

/// An admin write of the access store and the audit entry that records it are stored
/// together or not at all: an entry that cannot be written (here, a reused id) takes its
/// action back with it.
async fn admin_writes_commit_with_their_audit_entries(store: &SqlStore) {
    use stepwise_engine::model::Tenant;
    use stepwise_engine::ports::{AccessStore, ApiKey, AuditEntry, Role, StoreError};

    let entry = |id: &str, action: &str| AuditEntry {
        id: id.into(),
        ..AuditEntry::now("operator", None, action, "target", serde_json::Value::Null)
    };
    let key = |id: &str| ApiKey {
        id: id.into(),
        tenant_id: "audited".into(),
        name: id.into(),
        role: Role::Admin,
        prefix: format!("sw_{id}"),
        created_at: jiff::Timestamp::now(),
        last_used_at: None,
        revoked_at: None,
        member_id: None,
    };
    let tenant = Tenant {
        id: "audited".into(),
        name: "Audited".into(),
        timezone: "America/Chicago".into(),
        ..Tenant::default()
    };
    store
        .create_tenant(
            &tenant,
            &key("k1"),
            "digest-1",
            &entry("a1", "tenant.create"),
        )
        .await
        .expect("tenant");

    let refused = store
        .create_key(&key("k2"), "digest-2", &entry("a1", "key.create"))
        .await;
    assert!(refused.is_err(), "an entry id used twice is refused");
    let keys = store.keys("audited", None, 10).await.expect("keys");
    assert_eq!(keys.len(), 1, "the key went with its entry: {keys:?}");

    let refused = store
        .put_secret(
            "audited",
            "token",
            "sealed",
            "",
            &entry("a1", "credential.set"),
        )
        .await;
    assert!(refused.is_err());
    assert!(store.secrets("audited").await.expect("secrets").is_empty());

    let refused = store
        .revoke_key(
            "audited",
            "k1",
            jiff::Timestamp::now(),
            &entry("a1", "key.revoke"),
        )
        .await;
    assert!(refused.is_err());
    assert!(
        store.keys("audited", None, 10).await.expect("keys")[0]
            .revoked_at
            .is_none()
    );

    let missing = store
        .delete_secret("audited", "nothing", &entry("a2", "credential.delete"))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    let log = store.audit("audited", None, 10).await.expect("audit");
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["tenant.create"],
        "only the action that happened is in the log"
    );
}

/// Publishing, enabling, archiving, settings, contact deletion and a run's cancel or retry
/// store their audit entry in the action's transaction: an entry that cannot be written (an
/// id used twice) leaves the action undone, and an action that changes nothing leaves no
/// entry. Runs after `admin_writes_commit_with_their_audit_entries`, on its tenant.
async fn flow_run_and_settings_writes_commit_with_their_entries(store: &SqlStore) {
    use stepwise_engine::model::{Contact, Event, Run, RunStatus};
    use stepwise_engine::ports::{
        AccessStore, AuditEntry, FlowDocument, Listings, Store, StoreError, Transition,
    };

    let entry = |id: &str, action: &str| AuditEntry {
        id: id.into(),
        ..AuditEntry::now(
            "k1",
            Some("sw_k1"),
            action,
            "target",
            serde_json::Value::Null,
        )
    };
    let taken = || entry("a1", "reused");
    let tenant = "audited";
    let doc = FlowDocument {
        source: "id: f".into(),
        config: serde_json::json!({}),
        templates: serde_json::json!({}),
        origin: None,
    };

    let rename = |mut settings: stepwise_engine::model::Tenant| {
        settings.name = "Renamed".into();
        Some(settings)
    };
    assert!(
        store
            .update_tenant(tenant, &rename, &taken())
            .await
            .is_err()
    );
    assert_eq!(store.tenant(tenant).await.unwrap().name, "Audited");
    let unchanged = store
        .update_tenant(tenant, &|_| None, &entry("x0", "settings.update"))
        .await
        .expect("no change");
    assert_eq!(unchanged, None, "no change, no entry");
    store
        .update_tenant(tenant, &rename, &entry("b1", "settings.update"))
        .await
        .expect("settings");
    assert_eq!(store.tenant(tenant).await.unwrap().name, "Renamed");

    assert!(
        store
            .save_flow(tenant, "f", &doc, Some(&taken()))
            .await
            .is_err()
    );
    assert!(
        store.live_flows(tenant).await.unwrap().is_empty(),
        "no version without its entry"
    );
    let version = store
        .save_flow(tenant, "f", &doc, Some(&entry("b2", "flow.publish")))
        .await
        .expect("publish");
    assert_eq!(version, 1);

    assert!(
        store
            .set_flow_enabled(tenant, "f", false, Some(&taken()))
            .await
            .is_err()
    );
    assert_eq!(
        store.live_flows(tenant).await.unwrap().len(),
        1,
        "still enabled"
    );
    let missing = store
        .set_flow_enabled(tenant, "nope", false, Some(&entry("x1", "flow.disable")))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    assert!(store.archive_flow(tenant, "f", &taken()).await.is_err());
    assert!(!store.flow(tenant, "f").await.unwrap().archived);
    store
        .archive_flow(tenant, "f", &entry("b3", "flow.archive"))
        .await
        .expect("archive");

    let contact = Contact {
        id: "c1".into(),
        ..Contact::default()
    };
    store.put_contact(tenant, &contact).await.expect("contact");
    let now = jiff::Timestamp::now();
    let run = Run::start(
        tenant,
        "f",
        1,
        "c1",
        Event::new("lead", serde_json::json!({})),
        now,
    );
    store.create_run(tenant, &run, &[]).await.expect("run");
    let cancel = |audit: AuditEntry| {
        let mut cancelled = run.clone();
        cancelled.seq = 1;
        cancelled.status = RunStatus::Cancelled;
        Transition {
            expected_seq: 0,
            run: cancelled,
            records: Vec::new(),
            contact: None,
            audit: Some(audit),
        }
    };
    assert!(store.apply(tenant, cancel(taken())).await.is_err());
    assert_eq!(
        store.run(tenant, run.id).await.unwrap().seq,
        0,
        "not cancelled"
    );
    store
        .apply(tenant, cancel(entry("b4", "run.cancel")))
        .await
        .expect("cancel");
    let stale = store.apply(tenant, cancel(entry("x2", "run.cancel"))).await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );

    assert!(store.delete_contact(tenant, "c1", &taken()).await.is_err());
    assert!(store.contact(tenant, "c1").await.is_ok(), "not deleted");
    store
        .delete_contact(tenant, "c1", &entry("b5", "contact.delete"))
        .await
        .expect("delete");

    let log = store.audit(tenant, None, 10).await.expect("audit");
    let ids: Vec<&str> = log.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        ["b5", "b4", "b3", "b2", "b1", "a1"],
        "each action that happened has its entry, and no other does"
    );
    assert_eq!(
        log[3].details,
        serde_json::json!({ "version": 1 }),
        "a publish records its version"
    );
}
