//! PostgreSQL row-level security: a session as the application role `stepwise_app` that
//! forgets its tenant filter still sees only the tenant it named, and nothing when it named
//! none; it cannot write another tenant's rows or change the audit log. The store's own
//! reads and writes run as that role with their tenant set, so the policies bind them too.
//! Runs where
//! `STEPWISE_TEST_DATABASE_URL` / `STEPWISE_TEST_REDIS_URL` are set (`.cargo/config.toml` sets them).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::postgres_and_redis;
use stepwise_engine::model::{Contact, Tenant};
use stepwise_engine::ports::Store;
use stepwise_engine::store::SqlStore;

/// Counts `table`'s rows, with no tenant filter, as `stepwise_app` with `tenant` set (or
/// none).
async fn visible(store: &SqlStore, table: &str, tenant: Option<&str>) -> i64 {
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE stepwise_app")
        .execute(&mut *tx)
        .await
        .unwrap();
    if let Some(tenant) = tenant {
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    n
}

#[tokio::test]
async fn row_level_security_hides_other_tenants_rows() {
    let Some((backend, cleanup)) = postgres_and_redis("rls").await else {
        return;
    };
    let store = SqlStore::connect(&backend.database_url).await.unwrap();
    store.migrate().await.unwrap();
    for (tenant, contacts) in [("alpha", 3), ("beta", 2)] {
        let settings = Tenant {
            id: tenant.into(),
            ..Tenant::default()
        };
        store.put_tenant(&settings).await.unwrap();
        for n in 0..contacts {
            let contact = Contact {
                id: format!("{tenant}-{n}"),
                ..Contact::default()
            };
            store.put_contact(tenant, &contact).await.unwrap();
        }
    }

    // The migrating account owns the tables and sees everything.
    let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(all, 5);
    // The application role sees only the tenant it names, with no WHERE clause at all.
    assert_eq!(visible(&store, "contacts", Some("alpha")).await, 3);
    assert_eq!(visible(&store, "contacts", Some("beta")).await, 2);
    assert_eq!(visible(&store, "tenants", Some("beta")).await, 1);
    assert_eq!(
        visible(&store, "contacts", None).await,
        0,
        "no tenant, no rows"
    );
    assert_eq!(visible(&store, "tenants", None).await, 0);

    // Writing another tenant's rows is refused, not silently done.
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE stepwise_app")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT set_config('app.tenant_id', 'alpha', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let updated = sqlx::query("UPDATE contacts SET doc = '{}' WHERE tenant_id = 'beta'")
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(updated, 0, "beta's rows are invisible to alpha's session");
    let insert = sqlx::query(
        "INSERT INTO contacts (tenant_id, id, doc, updated_at) VALUES ('beta', 'sneaky', '{}', 0)",
    )
    .execute(&mut *tx)
    .await;
    let error = insert
        .expect_err("a row for another tenant is refused")
        .to_string();
    assert!(error.contains("row-level security"), "{error}");
    tx.rollback().await.unwrap();

    // The audit log is append-only for the application role.
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE stepwise_app")
        .execute(&mut *tx)
        .await
        .unwrap();
    let deleted = sqlx::query("DELETE FROM audit_log").execute(&mut *tx).await;
    assert!(
        deleted.is_err(),
        "stepwise_app may not delete audit entries"
    );
    tx.rollback().await.unwrap();

    cleanup.run().await;
}

#[tokio::test]
async fn the_stores_own_queries_run_under_row_level_security() {
    let Some((backend, cleanup)) = postgres_and_redis("rls_store").await else {
        return;
    };
    let store = SqlStore::connect(&backend.database_url).await.unwrap();
    store.migrate().await.unwrap();
    let tenant = Tenant {
        id: "alpha".into(),
        ..Tenant::default()
    };
    store.put_tenant(&tenant).await.unwrap();

    // Writes: a trigger notes who wrote each contact row, and for which tenant.
    for statement in [
        "CREATE TABLE writers (who TEXT, tenant TEXT)",
        "GRANT INSERT ON writers TO stepwise_app",
        "CREATE FUNCTION note_writer() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         INSERT INTO writers VALUES (current_user, current_setting('app.tenant_id', true)); \
         RETURN NEW; END $$",
        "CREATE TRIGGER note_writer BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION note_writer()",
    ] {
        sqlx::query(statement).execute(store.pool()).await.unwrap();
    }
    let contact = Contact {
        id: "ana".into(),
        ..Contact::default()
    };
    store.put_contact("alpha", &contact).await.unwrap();
    let writers: Vec<(String, String)> = sqlx::query_as("SELECT who, tenant FROM writers")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(writers, [("stepwise_app".to_owned(), "alpha".to_owned())]);

    // Reads: with the policy narrowed to no tenant at all, the store's own filtered read finds
    // nothing, so it is the policy, not only the query's WHERE clause, that decides.
    assert_eq!(store.contact("alpha", "ana").await.unwrap().id, "ana");
    sqlx::query("ALTER POLICY tenant_isolation ON contacts USING (false)")
        .execute(store.pool())
        .await
        .unwrap();
    let hidden = store.contact("alpha", "ana").await;
    assert!(hidden.is_err(), "the policy hides the row: {hidden:?}");

    cleanup.run().await;
}
