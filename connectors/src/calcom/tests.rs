//! Cal.com webhooks: the shared signature vector, bookings and no-show marks as events.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use stepwise_core::{HookError, HookRequest, InboundFact, Secret, WebhookSource};

use super::{CalcomHooks, verify};

fn vector() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/webhook-signature-vectors.json"
    );
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("JSON");
    all["calcom"].clone()
}

fn receive(
    body: &str,
    signature: Option<&str>,
    secret: &str,
) -> Result<Vec<InboundFact>, HookError> {
    let mut headers = BTreeMap::from([("content-type".to_owned(), "application/json".to_owned())]);
    if let Some(sig) = signature {
        headers.insert("x-cal-signature-256".into(), sig.into());
    }
    let request = HookRequest {
        method: "POST",
        url: "https://s.test/hooks/t/calcom",
        headers: &headers,
        body: body.as_bytes(),
        now: 0,
    };
    CalcomHooks
        .receive(&request, None, Some(&Secret::new(secret)))
        .map(|v| v.facts)
}

#[test]
fn the_shared_vector_passes_and_tampering_fails() {
    let v = vector();
    let (secret, body, sig) = (
        v["secret"].as_str().unwrap(),
        v["payload"].as_str().unwrap(),
        v["expected"].as_str().unwrap(),
    );
    assert!(verify(secret, body.as_bytes(), sig));
    assert!(!verify("other", body.as_bytes(), sig));
    assert!(!verify(secret, body.replace("abc", "abd").as_bytes(), sig));
    assert!(!verify(secret, body.as_bytes(), &sig.to_uppercase()[..10]));
    // The vector's booking has no attendee: verified, then refused as unreadable.
    assert!(matches!(
        receive(body, Some(sig), secret),
        Err(HookError::Malformed(_))
    ));
    assert_eq!(
        receive(body, Some("no-secret-provided"), secret),
        Err(HookError::BadSignature)
    );
    assert_eq!(receive(body, None, secret), Err(HookError::BadSignature));
}

#[test]
fn bookings_become_events_of_the_attendee() {
    let secret = "calsecret";
    let body = json!({"triggerEvent": "BOOKING_CANCELLED", "createdAt": "2026-12-01T10:00:00.000Z",
        "payload": {"uid": "bk_1", "title": "Cleaning", "startTime": "2026-12-03T15:00:00.000Z",
            "attendees": [{"email": "ana@example.com", "name": "Ana Díaz", "timeZone": "America/Chicago"}],
            "responses": {"attendeePhoneNumber": {"value": "+15125550177"}}, "cancellationReason": "sick"}})
    .to_string();
    let facts = receive(&body, Some(&signed(secret, &body)), secret).unwrap();
    let [
        InboundFact::Event {
            id,
            event_type,
            contact,
            data,
        },
    ] = facts.as_slice()
    else {
        panic!("{facts:?}")
    };
    assert_eq!(event_type, "appointment.cancelled");
    assert_eq!(id, "BOOKING_CANCELLED:bk_1:2026-12-03T15:00:00.000Z");
    assert_eq!(contact["phone"], "+15125550177");
    assert_eq!(
        (
            contact["first_name"].as_str(),
            contact["last_name"].as_str()
        ),
        (Some("Ana"), Some("Díaz"))
    );
    assert_eq!(data["start_at"], "2026-12-03T15:00:00.000Z");
    assert_eq!(data["cancellation_reason"], "sick");
    let other = json!({"triggerEvent": "MEETING_ENDED", "payload": {}}).to_string();
    assert_eq!(
        receive(&other, Some(&signed(secret, &other)), secret).unwrap(),
        vec![],
        "other triggers are ignored"
    );
}

fn signed(secret: &str, body: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn a_no_show_mark_becomes_an_event_of_each_attendee_it_names() {
    let secret = "calsecret";
    // Cal.com's payload for "mark as no-show": the booking by uid, attendees by email.
    let body = json!({"triggerEvent": "BOOKING_NO_SHOW_UPDATED", "createdAt": "2026-12-03T16:05:00.000Z",
        "payload": {"message": "ana@example.com marked as no-show", "bookingUid": "bk_1", "bookingId": 7,
            "attendees": [{"email": "ana@example.com", "noShow": true},
                          {"email": "bo@example.com", "noShow": false}, {"noShow": true}]}})
    .to_string();
    let facts = receive(&body, Some(&signed(secret, &body)), secret).unwrap();
    let events: Vec<_> = facts
        .iter()
        .map(|f| match f {
            InboundFact::Event {
                id,
                event_type,
                contact,
                data,
            } => (
                id.as_str(),
                event_type.as_str(),
                contact["email"].as_str().unwrap(),
                data["booking_id"].as_str().unwrap(),
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        events,
        [
            (
                "BOOKING_NO_SHOW_UPDATED:bk_1:ana@example.com:true:2026-12-03T16:05:00.000Z",
                "appointment.no_show",
                "ana@example.com",
                "bk_1"
            ),
            (
                "BOOKING_NO_SHOW_UPDATED:bk_1:bo@example.com:false:2026-12-03T16:05:00.000Z",
                "appointment.no_show_cleared",
                "bo@example.com",
                "bk_1"
            ),
        ]
    );

    // The host marked as absent names no attendee: acknowledged, nothing stored.
    let host = json!({"triggerEvent": "BOOKING_NO_SHOW_UPDATED",
        "payload": {"bookingUid": "bk_1", "noShowHost": true, "attendees": []}})
    .to_string();
    assert_eq!(
        receive(&host, Some(&signed(secret, &host)), secret).unwrap(),
        vec![]
    );
    // A group of 5,000 is read for its first 50.
    let many: Vec<Value> = (0..5_000)
        .map(|i| json!({"email": format!("g{i}@example.com"), "noShow": true}))
        .collect();
    let group = json!({"triggerEvent": "BOOKING_NO_SHOW_UPDATED",
        "payload": {"bookingUid": "bk_2", "attendees": many}})
    .to_string();
    let facts = receive(&group, Some(&signed(secret, &group)), secret).unwrap();
    assert_eq!(facts.len(), 50);
}
