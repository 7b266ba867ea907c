//! Issue 17's acceptance through the real binary, on both backends: a new clinic installs the
//! dental pack with its links, and each thing that happens drives its module: a posted lead
//! (speed to lead), a booking two days out and the patient's reply "C" (show-up saver: the
//! reminder, then the confirmation), and six months without a visit (reactivation, on its
//! weekly tick). The KPIs count them.
//!
//! Real time, no virtual clock: the clinic's zone is chosen so that it is midday there (no
//! quiet hours in the way), the appointment is booked 48 hours and 8 seconds ahead (the
//! pack's first reminder is due 48 hours before), and the reactivation tick is brought forward
//! in the database, as if Tuesday 10:00 had come.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::Backend;
use common::audience::zone_at;
use common::client::Client;
use serde_json::{Value, json};

const BOOKING: &str = "https://brightsmile.example/book";

/// The texts the contact's runs of `flow` sent, oldest first.
async fn texts(api: &Client, key: &str, flow: &str, contact: &str) -> Vec<String> {
    let runs = api
        .get(
            &format!("/v1/runs?flow_id={flow}&contact_id={contact}"),
            key,
        )
        .await
        .body;
    let Some(run) = runs["data"][0]["id"].as_str() else {
        return Vec::new();
    };
    let messages = api.get(&format!("/v1/runs/{run}/messages"), key).await.body;
    let mut texts: Vec<String> = messages["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    texts.reverse();
    texts
}

/// Polls until `check` holds for the texts, or fails after 30 s.
async fn until_texts(
    api: &Client,
    key: &str,
    flow: &str,
    contact: &str,
    check: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let mut poll = tokio::time::interval(std::time::Duration::from_millis(100));
    for _ in 0..300 {
        let found = texts(api, key, flow, contact).await;
        if check(&found) {
            return found;
        }
        poll.tick().await;
    }
    panic!(
        "{flow} for {contact}: {:?}",
        texts(api, key, flow, contact).await
    );
}

fn kpi(metrics: &Value, module: &str, name: &str) -> Value {
    let modules = metrics["data"].as_array().unwrap();
    let module = modules.iter().find(|m| m["module"] == module).unwrap();
    let kpis = module["kpis"].as_array().unwrap();
    kpis.iter().find(|k| k["name"] == name).cloned().unwrap()
}

async fn dental_pack_drives_its_modules(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = common::start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant_in("clinic", "Bright Smile", &zone_at(12)).await;
    let install = json!({"config": {"booking_link": BOOKING, "reschedule_link": BOOKING,
        "review_link": "https://g.page/r/brightsmile/review"}});
    let installed = api.post("/v1/packs/dental/install", &key, &install).await;
    assert_eq!(installed.status, StatusCode::CREATED, "{}", installed.body);

    // A lead: speed to lead answers with the booking link.
    let lead = json!({"type": "lead.created", "data": {"message": "a cleaning please"},
        "contact": {"id": "ana", "phone": "+15125550140", "first_name": "Ana"}});
    assert_eq!(
        api.post("/v1/events", &key, &lead).await.status,
        StatusCode::ACCEPTED
    );
    let answered = until_texts(&api, &key, "speed-to-lead", "ana", |t| !t.is_empty()).await;
    assert!(answered[0].contains(BOOKING), "{answered:?}");

    // A booking 48 h out: the reminder asks to confirm; "C" confirms.
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(48 * 3600 + 8);
    let booked = json!({"type": "appointment.booked", "contact_id": "ana",
        "data": {"start_at": start.to_string()}});
    assert_eq!(
        api.post("/v1/events", &key, &booked).await.status,
        StatusCode::ACCEPTED
    );
    let reminded = until_texts(&api, &key, "show-up-saver", "ana", |t| !t.is_empty()).await;
    assert!(reminded[0].contains("Reply C to confirm"), "{reminded:?}");
    let reply = json!({"type": "message.received", "contact_id": "ana", "data": {"body": "C"}});
    assert_eq!(
        api.post("/v1/events", &key, &reply).await.status,
        StatusCode::ACCEPTED
    );
    let confirmed = until_texts(&api, &key, "show-up-saver", "ana", |t| t.len() >= 2).await;
    assert!(
        confirmed[1].starts_with("Thanks, you're confirmed"),
        "{confirmed:?}"
    );

    // A patient last seen 200 days ago, and one seen last month: on the weekly tick only the
    // first hears from the clinic.
    let long_ago = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(200 * 24))
        .strftime("%Y-%m-%d")
        .to_string();
    let recent = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(30 * 24))
        .strftime("%Y-%m-%d")
        .to_string();
    for (id, phone, last) in [
        ("ben", "+15125550141", &long_ago),
        ("cy", "+15125550142", &recent),
    ] {
        let contact = json!({"id": id, "phone": phone, "first_name": id,
            "fields": {"last_visit_at": last}});
        assert_eq!(
            api.post("/v1/contacts", &key, &contact).await.status,
            StatusCode::CREATED
        );
    }
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&backend.database_url).await.unwrap();
    let now = jiff::Timestamp::now().as_microsecond();
    let moved = sqlx::query(
        "UPDATE schedules SET next_fire_at = $1 WHERE tenant_id = 'clinic' AND flow_id = 'reactivation'",
    )
    .bind(now)
    .execute(&db)
    .await
    .unwrap();
    assert_eq!(moved.rows_affected(), 1, "the reactivation schedule exists");
    db.close().await;
    let checked_in = until_texts(&api, &key, "reactivation", "ben", |t| !t.is_empty()).await;
    assert!(checked_in[0].contains("six months"), "{checked_in:?}");
    assert!(texts(&api, &key, "reactivation", "cy").await.is_empty());

    // Ben books: his reactivation run ends, and the KPIs count all of it.
    let ben_booked = json!({"type": "appointment.booked", "contact_id": "ben",
        "data": {"start_at": (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 7)).to_string()}});
    assert_eq!(
        api.post("/v1/events", &key, &ben_booked).await.status,
        StatusCode::ACCEPTED
    );
    let metrics = api.get("/v1/metrics", &key).await;
    assert_eq!(metrics.status, StatusCode::OK, "{}", metrics.body);
    let m = &metrics.body;
    assert_eq!(
        kpi(m, "speed-to-lead", "booking_rate")["value"],
        100.0,
        "{m}"
    );
    // Two show-up-saver runs (Ana's, and Ben's new booking a week out): Ana confirmed.
    let confirmation = kpi(m, "show-up-saver", "confirmation_rate");
    assert_eq!(
        (&confirmation["numerator"], &confirmation["denominator"]),
        (&json!(1), &json!(2)),
        "{m}"
    );
    let reactivated = kpi(m, "reactivation", "reactivation_rate");
    assert_eq!(
        (&reactivated["numerator"], &reactivated["denominator"]),
        (&json!(1), &json!(1)),
        "{m}"
    );
}

common::place::on_both_backends!(
    dental_pack_drives_its_modules,
    "dental_pack",
    dental_pack_drives_its_modules_on_sqlite,
    dental_pack_drives_its_modules_on_postgres
);
