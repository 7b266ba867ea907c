//! Cal.com bookings through the real binary, on both backends: a booking webhook signed with
//! the tenant's secret cancels a waiting lead's run (`cancel_on: [appointment.booked]`); a
//! wrong signature and Cal.com's `no-secret-provided` are refused (401). The show-up saver
//! answers the host's no-show mark (BOOKING_NO_SHOW_UPDATED) with its rebooking text (a
//! tracked link), tags the contact, and the mark counts in `no_show_rate`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::audience::zone_at;
use common::client::Client;
use common::{Backend, calcom_signature};
use reqwest::Method;
use serde_json::json;

const FLOW: &str = "id: speed-to-lead
purpose: transactional
trigger: {event: lead.created}
cancel_on: [appointment.booked]
steps:
  - id: hello
    send_sms: {body: 'Hi {{contact.first_name}}, want a time this week? Just reply.'}
  - id: reply
    wait_for: {event: message.received, timeout: 1d}
";

async fn calcom_bookings(backend: &Backend, dir: &std::path::Path) {
    let env = [("STEPWISE_PUBLIC_URL", "https://stepwise.test")];
    let (_server, base) = common::start_server_with(dir, backend, "all", &env);
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let published = api.yaml(Method::POST, "/v1/flows", &key, FLOW).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    let hook_token = api.get("/v1/settings", &key).await.body["hook_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // A Cal.com booking (signed with the tenant's webhook secret) cancels a waiting lead's run.
    let secret = json!({"value": "cal-secret-42"});
    api.send(
        Method::PUT,
        "/v1/settings/credentials/calcom_webhook_secret",
        &key,
        "application/json",
        secret.to_string(),
    )
    .await;
    let bo = json!({"type": "lead.created", "contact": {"phone": "+15125550178", "email": "bo@example.com", "first_name": "Bo"}});
    let waiting = api.post("/v1/events", &key, &bo).await.body["started"][0]
        .as_str()
        .unwrap()
        .to_owned();
    api.run_until(&key, &waiting, |r| r["run"]["status"] == "waiting")
        .await;
    let booking = json!({"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-12-01T10:00:00.000Z",
        "payload": {"uid": "bk_9", "startTime": "2026-12-03T15:00:00.000Z",
                    "attendees": [{"email": "bo@example.com", "name": "Bo Lee", "timeZone": "America/Chicago"}]}})
    .to_string();
    let cal = |secret: &str| calcom_signature(secret, &booking);
    let cal_path = format!("/hooks/{hook_token}/calcom");
    let post = |signature: String| {
        common::http()
            .post(format!("{base}{cal_path}"))
            .header("content-type", "application/json")
            .header("x-cal-signature-256", signature)
            .body(booking.clone())
            .send()
    };
    assert_eq!(
        post(cal("wrong")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post("no-secret-provided".into()).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(cal("cal-secret-42")).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let run = api
        .run_until(&key, &waiting, |r| r["run"]["status"] == "cancelled")
        .await;
    assert_eq!(run["run"]["status"], "cancelled", "{run}");
}

async fn calcom_no_show(backend: &Backend, dir: &std::path::Path) {
    let env = [("STEPWISE_PUBLIC_URL", "https://stepwise.test")];
    let (_server, base) = common::start_server_with(dir, backend, "all", &env);
    let api = Client::new(&base);
    // Midday in the clinic's and the patient's zone: no quiet hours in the way.
    let zone = zone_at(12);
    let key = api.tenant_in("clinic", "Bright Smile", &zone).await;
    let install = json!({"config": {"reschedule_link": "https://brightsmile.example/book"}});
    let installed = api
        .post("/v1/modules/show-up-saver/install", &key, &install)
        .await;
    assert_eq!(installed.status, StatusCode::CREATED, "{}", installed.body);
    let secret = json!({"value": "cal-secret-42"}).to_string();
    let path = "/v1/settings/credentials/calcom_webhook_secret";
    api.send(Method::PUT, path, &key, "application/json", secret)
        .await;
    let hook_token = api.get("/v1/settings", &key).await.body["hook_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let hook = |body: String| {
        common::http()
            .post(format!("{base}/hooks/{hook_token}/calcom"))
            .header("content-type", "application/json")
            .header(
                "x-cal-signature-256",
                calcom_signature("cal-secret-42", &body),
            )
            .body(body)
            .send()
    };

    // The patient is known by phone already, with no name or zone: the booking (by the
    // engine's one identity rule, as for POST /v1/events) is theirs, and fills both in.
    let known = json!({"phone": "+15125550179"});
    let known = api.post("/v1/contacts", &key, &known).await;
    assert_eq!(known.status, StatusCode::CREATED, "{}", known.body);
    let known = known.body["id"].as_str().unwrap().to_owned();

    // Booked to start in 3 seconds: the reminders' times are past but the appointment is
    // not, so the run texts the last reminder and then watches for a no-show mark.
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3);
    let booking = json!({"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-12-01T10:00:00.000Z",
        "payload": {"uid": "bk_7", "startTime": start.to_string(),
            "attendees": [{"email": "cy@example.com", "name": "Cy Ruiz", "timeZone": zone}],
            "responses": {"attendeePhoneNumber": {"value": "+15125550179"}}}});
    assert_eq!(
        hook(booking.to_string()).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let runs = api
        .get_until("/v1/runs?flow_id=show-up-saver", &key, |r| {
            r["data"][0]["id"].is_string()
        })
        .await;
    let (run, contact) = (
        runs["data"][0]["id"].as_str().unwrap().to_owned(),
        runs["data"][0]["contact_id"].as_str().unwrap().to_owned(),
    );
    api.run_until(&key, &run, |r| {
        let timeline = r["timeline"].as_array().unwrap();
        timeline.last().unwrap()["event"] == "appointment.no_show"
    })
    .await;

    // The host marks the attendee as a no-show in Cal.com.
    let marked = json!({"triggerEvent": "BOOKING_NO_SHOW_UPDATED", "createdAt": "2026-12-01T12:05:00.000Z",
        "payload": {"message": "cy@example.com marked as no-show", "bookingUid": "bk_7", "bookingId": 7,
            "attendees": [{"email": "cy@example.com", "noShow": true}]}});
    assert_eq!(
        hook(marked.to_string()).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let ended = api
        .run_until(&key, &run, |r| r["run"]["status"] == "completed")
        .await;
    let sent = api
        .get(&format!("/v1/runs/{run}/messages"), &key)
        .await
        .body;
    let texts: Vec<&str> = sent["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(
        texts[0].starts_with("Sorry we missed you today, Cy!"),
        "{texts:?} {ended}"
    );
    // The rebooking link is a tracked one: its opens count as the contact's link.clicked.
    assert!(
        texts[0].contains("https://stepwise.test/l/") && !texts[0].contains("brightsmile"),
        "{texts:?}"
    );
    assert_eq!(contact, known);
    let stored = api.get(&format!("/v1/contacts/{contact}"), &key).await.body;
    assert_eq!(
        (&stored["first_name"], &stored["timezone"], &stored["email"]),
        (&json!("Cy"), &json!(zone), &json!("cy@example.com")),
        "{stored}"
    );
    let tags = stored["tags"].clone();
    assert!(
        tags.as_array().unwrap().contains(&json!("no-show")),
        "{tags}"
    );
    let metrics = api.get("/v1/metrics?module=show-up-saver", &key).await.body;
    let modules = metrics["data"].as_array().unwrap();
    let no_show = modules[0]["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "no_show_rate")
        .cloned()
        .unwrap();
    assert_eq!(
        (&no_show["numerator"], &no_show["denominator"]),
        (&json!(1), &json!(1)),
        "{no_show}"
    );
}

common::place::on_both_backends!(
    calcom_no_show,
    "calcomnoshow",
    calcom_no_show_on_sqlite,
    calcom_no_show_on_postgres
);

common::place::on_both_backends!(
    calcom_bookings,
    "calcom",
    calcom_bookings_on_sqlite,
    calcom_bookings_on_postgres
);
