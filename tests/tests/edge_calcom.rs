//! Cal.com bookings through the real binary, on both backends: a booking webhook signed with
//! the tenant's secret cancels a waiting lead's run (`cancel_on: [appointment.booked]`); a
//! wrong signature and Cal.com's `no-secret-provided` are refused (401).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::Backend;
use common::client::Client;
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
    let cal = |secret: &str| {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(booking.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
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

common::place::on_both_backends!(
    calcom_bookings,
    "calcom",
    calcom_bookings_on_sqlite,
    calcom_bookings_on_postgres
);
