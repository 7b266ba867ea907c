//! Module KPIs on seeded data, with the values worked out by hand (in the comments), on
//! SQLite and (when `STEPWISE_TEST_DATABASE_URL` is set) PostgreSQL: runs outside the period,
//! of another flow or of another tenant do not count.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use jiff::{SignedDuration, Timestamp};
use stepwise_engine::kpi::kpi;
mod common;

use common::TestDb;
use stepwise_engine::store::SqlStore;

const T0: &str = "2026-03-01T00:00:00Z";

fn at(offset_seconds: i64) -> i64 {
    let t0: Timestamp = T0.parse().unwrap();
    (t0 + SignedDuration::from_secs(offset_seconds)).as_microsecond()
}

const H: i64 = 3600;
const D: i64 = 86_400;

async fn exec(store: &SqlStore, sql: &str, binds: &[&dyn ToBind]) {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for b in binds {
        query = b.bind(query);
    }
    query.execute(store.pool()).await.unwrap();
}

trait ToBind: Sync {
    fn bind<'q>(
        &self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;
}
impl ToBind for &str {
    fn bind<'q>(
        &self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        q.bind(self.to_string())
    }
}
impl ToBind for i64 {
    fn bind<'q>(
        &self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        q.bind(*self)
    }
}

async fn run(store: &SqlStore, tenant: &str, id: &str, flow: &str, contact: &str, start: i64) {
    exec(store, "INSERT INTO runs (tenant_id, id, flow_id, flow_version, contact_id, status, seq, format, state, created_at, updated_at) \
                 VALUES ($1, $2, $3, 1, $4, 'completed', 1, 1, '{}', $5, $5)",
        &[&tenant, &id, &flow, &contact, &at(start)]).await;
}

async fn message(store: &SqlStore, tenant: &str, run: &str, n: i64, when: i64) {
    let id = format!("{run}:m{n}");
    exec(store, "INSERT INTO messages (tenant_id, id, run_id, step, channel, to_address, body, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, 's', 'sms', '+15125550100', 'hi', 'sent', $4, $4)",
        &[&tenant, &id.as_str(), &run, &at(when)]).await;
}

async fn event(store: &SqlStore, tenant: &str, n: i64, kind: &str, contact: &str, when: i64) {
    let id = format!("e{n}");
    exec(store, "INSERT INTO events (tenant_id, id, source, external_id, event_type, contact_id, doc, received_at, processed) \
                 VALUES ($1, $2, 'api', $2, $3, $4, '{}', $5, TRUE)",
        &[&tenant, &id.as_str(), &kind, &contact, &at(when)]).await;
}

/// A `payment.succeeded` of `paid` cents leaving `due` cents, to the clinic.
async fn payment(store: &SqlStore, n: i64, contact: &str, when: i64, paid: i64, due: i64) {
    payment_to(store, "clinic", n, contact, when, paid, due).await;
}

async fn payment_to(
    store: &SqlStore,
    tenant: &str,
    n: i64,
    contact: &str,
    when: i64,
    paid: i64,
    due: i64,
) {
    let id = format!("p{n}");
    let doc = format!(
        r#"{{"type":"payment.succeeded","data":{{"amount_paid":{paid},"amount_due":{due}}}}}"#
    );
    exec(store, "INSERT INTO events (tenant_id, id, source, external_id, event_type, contact_id, doc, received_at, processed) \
                 VALUES ($1, $2, 'api', $2, 'payment.succeeded', $3, $4, $5, TRUE)",
        &[&tenant, &id.as_str(), &contact, &doc.as_str(), &at(when)]).await;
}

async fn step(store: &SqlStore, tenant: &str, run: &str, name: &str, when: i64) {
    exec(
        store,
        "INSERT INTO run_steps (tenant_id, run_id, seq, idx, at, step, attempt, kind, doc) \
                 VALUES ($1, $2, 1, 0, $4, $3, 0, 'sent', '{}')",
        &[&tenant, &run, &name, &at(when)],
    )
    .await;
}

async fn scored(store: &SqlStore, tenant: &str, contact: &str, score: i64, when: i64) {
    let nps_at = Timestamp::from_microsecond(at(when)).unwrap().to_string();
    let doc = serde_json::json!({"id": contact, "fields": {"nps_score": score, "nps_at": nps_at}})
        .to_string();
    exec(
        store,
        "INSERT INTO contacts (tenant_id, id, doc, updated_at) VALUES ($1, $2, $3, 0)",
        &[&tenant, &contact, &doc.as_str()],
    )
    .await;
}

async fn seed(store: &SqlStore) {
    let t = "clinic";
    // Four runs of speed-to-lead in the period, one before it, one of another flow, one of
    // another tenant.
    for (id, contact, start) in [
        ("r1", "c1", H),
        ("r2", "c2", 2 * H),
        ("r3", "c3", 3 * H),
        ("r4", "c4", 4 * H),
    ] {
        run(store, t, id, "speed-to-lead", contact, start).await;
    }
    run(store, t, "r5", "speed-to-lead", "c5", -D).await;
    run(store, t, "r6", "drip", "c1", 5 * H).await;
    run(store, "other", "r7", "speed-to-lead", "c1", H).await;
    // First messages 2 s, 4 s, 6 s and 60 s after the start (r1 sends a second one later).
    for (r, start, after) in [
        ("r1", H, 2),
        ("r2", 2 * H, 4),
        ("r3", 3 * H, 6),
        ("r4", 4 * H, 60),
    ] {
        message(store, t, r, 1, start + after).await;
    }
    message(store, t, "r1", 2, H + 100).await;
    message(store, t, "r5", 1, -D + 1).await;
    message(store, t, "r6", 1, 5 * H + 1).await;
    message(store, "other", "r7", 1, H + 1000).await;
    // Bookings: c1 a day after its run (counts), c2 eight days after (too late), c3 before its
    // run started (does not follow it).
    event(store, t, 1, "appointment.booked", "c1", H + D).await;
    event(store, t, 2, "appointment.booked", "c2", 2 * H + 8 * D).await;
    event(store, t, 3, "appointment.booked", "c3", 2 * H).await;
    event(store, "other", 4, "appointment.booked", "c2", 2 * H + D).await;
    // Replies from c2 and c4 within 7 days; one no-show.
    event(store, t, 5, "message.received", "c2", 3 * H).await;
    event(store, t, 6, "message.received", "c4", 4 * H + 2 * D).await;
    event(store, t, 7, "appointment.no_show", "c3", 3 * D).await;
    // c2 marked a no-show by mistake, and the mark taken back.
    event(store, t, 11, "appointment.no_show", "c2", 3 * D).await;
    event(store, t, 12, "appointment.no_show_cleared", "c2", 3 * D + H).await;
    // c3 and c4 opened a tracked link; c1 only 9 days after its run.
    event(store, t, 8, "link.clicked", "c3", 3 * H + 60).await;
    event(store, t, 9, "link.clicked", "c4", 4 * H + D).await;
    event(store, t, 10, "link.clicked", "c1", H + 9 * D).await;
    // Payments: c1 half of 200.00 after 2 days, the rest after 4; c2 100.00 in full after 10
    // days; c4 35.00 after 40 days (outside the 30-day revenue window, inside DSO's 90).
    payment(store, 1, "c1", H + 2 * D, 10_000, 10_000).await;
    payment(store, 2, "c1", H + 4 * D, 10_000, 0).await;
    payment(store, 3, "c2", 2 * H + 10 * D, 10_000, 0).await;
    payment(store, 4, "c4", 4 * H + 40 * D, 3_500, 0).await;
    // r1 reached a `confirmed…` step; r2 only `confirm1`.
    step(store, t, "r1", "confirmed_reply1", H + 60).await;
    step(store, t, "r2", "confirm1", 2 * H + 60).await;
    // r3 reached `complete_message`.
    step(store, t, "r3", "complete_message", 3 * H + 60).await;
    // Scores in the period: 10, 9, 3, 7; one before it (0).
    for (c, score, when) in [
        ("c1", 10, D),
        ("c2", 9, 2 * D),
        ("c3", 3, 3 * D),
        ("c4", 7, 4 * D),
        ("c5", 0, -5 * D),
    ] {
        scored(store, t, c, score, when).await;
    }
}

async fn kpis_are_computed_as_defined(store: &SqlStore) {
    seed(store).await;
    let from: Timestamp = T0.parse().unwrap();
    let to = from + SignedDuration::from_hours(24 * 30);
    let measure = |name: &'static str| async move {
        kpi(name)
            .unwrap()
            .measure(store, "clinic", "speed-to-lead", from, to)
            .await
            .unwrap()
    };
    // [2, 4, 6, 60] s: nearest-rank p50 is the 2nd value, p90 the 4th.
    let first = measure("time_to_first_response").await;
    assert_eq!(
        (first.p50, first.p90, first.denominator),
        (Some(4.0), Some(60.0), 4)
    );
    // 1 of 4 runs followed by a booking within 7 days.
    let booking = measure("booking_rate").await;
    assert_eq!(
        (booking.value, booking.numerator, booking.denominator),
        (Some(25.0), 1, 4)
    );
    // 2 of 4 replied within 7 days.
    assert_eq!(measure("reply_rate").await.value, Some(50.0));
    // Revenue within 30 days: 100.00 + 100.00 (c1) + 100.00 (c2), from 2 of 4 runs.
    let revenue = measure("revived_revenue").await;
    assert_eq!(
        (revenue.value, revenue.numerator, revenue.denominator),
        (Some(30_000.0), 2, 4)
    );
    // Paid in full after 4, 10 and 40 days: mean 18 days; p50 10, p90 40.
    let dso = measure("days_sales_outstanding").await;
    assert_eq!(
        (dso.value, dso.p50, dso.p90, dso.numerator, dso.denominator),
        (Some(18.0), Some(10.0), Some(40.0), 3, 4)
    );
    // 2 of 4 opened a tracked link within 7 days (c3, c4).
    let clicks = measure("click_rate").await;
    assert_eq!((clicks.value, clicks.numerator), (Some(50.0), 2));
    // 1 of 4 reached a step named complete….
    assert_eq!(measure("checklist_completion").await.value, Some(25.0));
    // 1 of 4 reached a step named confirmed….
    assert_eq!(measure("confirmation_rate").await.value, Some(25.0));
    // 1 no-show (2 marked, 1 taken back) per 3 bookings received in the period.
    let no_show = measure("no_show_rate").await;
    assert_eq!(
        (no_show.value, no_show.numerator, no_show.denominator),
        (Some(33.3), 1, 3)
    );
    // Promoters 2 (10, 9), detractors 1 (3), passives 1 (7): (2 − 1) / 4 = 25.
    let nps = measure("nps").await;
    assert_eq!((nps.value, nps.denominator), (Some(25.0), 4));
    // A contact with two invoices (two runs): its one payment counts once, for the later run.
    run(store, "shop", "i1", "invoice", "c1", H).await;
    run(store, "shop", "i2", "invoice", "c1", H + 2 * D).await;
    payment_to(store, "shop", 20, "c1", H + 3 * D, 5_000, 0).await;
    let shop = |name: &'static str| async move {
        kpi(name)
            .unwrap()
            .measure(store, "shop", "invoice", from, to)
            .await
            .unwrap()
    };
    let revenue = shop("revived_revenue").await;
    assert_eq!(
        (revenue.value, revenue.numerator, revenue.denominator),
        (Some(5_000.0), 1, 2)
    );
    let dso = shop("days_sales_outstanding").await;
    assert_eq!(
        (dso.value, dso.numerator, dso.denominator),
        (Some(1.0), 1, 2)
    );
    // Nothing to measure: null, not zero.
    let empty = kpi("booking_rate")
        .unwrap()
        .measure(store, "clinic", "no-such-flow", from, to)
        .await
        .unwrap();
    assert_eq!((empty.value, empty.denominator), (None, 0));
}

#[tokio::test]
async fn kpis_on_sqlite() {
    let db = TestDb::sqlite("stepwise_kpis").await;
    kpis_are_computed_as_defined(&db.store).await;
    db.finish().await;
}

#[tokio::test]
async fn kpis_on_postgres() {
    let Some(db) = TestDb::postgres("stepwise_kpis").await else {
        return;
    };
    kpis_are_computed_as_defined(&db.store).await;
    db.finish().await;
}
