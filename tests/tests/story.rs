//! A clinic's first lead, the whole way, through the real binary on both backends, with fake
//! Twilio and signed Cal.com webhooks: the clinic connects Twilio and Cal.com and installs
//! speed to lead; a lead fills in the website's form; the answer reaches Twilio with a tracked
//! booking link; Twilio reports it delivered; the lead texts back (the inbox has the thread),
//! opens the link (counted, redirected), books on Cal.com (the follow-up is called off: the run
//! is cancelled), then texts STOP (suppressed at once), and the next lead text to them is
//! suppressed with the reason. Each part is tested on its own in `edge_*.rs`; this is the
//! story a new business lives.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::Backend;
use common::audience::zone_at;
use common::calcom_signature;
use common::client::Client;
use common::fake_twilio::{post_signed, serve_with_twilio};
use reqwest::Method;
use serde_json::{Value, json};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "story-twilio-auth-token-81ce";
const CAL_SECRET: &str = "story-cal-secret-6d20";
const PUBLIC: &str = "https://stepwise.test";
const NUMBER: &str = "+15125550100";
const LEAD: &str = "+15125550177";
const BOOKING: &str = "https://cal.example/brightsmile";
const SITE: &str = "https://brightsmile.example";

/// Posts a Twilio webhook signed with the clinic's Auth Token.
async fn twilio_hook(base: &str, path: &str, params: &[(&str, &str)]) -> StatusCode {
    post_signed(base, PUBLIC, path, params, TOKEN).await.0
}

/// Posts a Cal.com webhook signed with the clinic's secret.
async fn calcom_hook(base: &str, path: &str, body: &Value) -> StatusCode {
    let body = body.to_string();
    common::http()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .header("x-cal-signature-256", calcom_signature(CAL_SECRET, &body))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

/// The clinic, connected: Twilio (the provider and its Auth Token), Cal.com's secret, the
/// website's form, and speed to lead installed (open every hour, so the test never meets
/// the after-hours path). Answers the admin key and the hook token.
async fn clinic(api: &Client) -> (String, String) {
    let key = api.tenant_in("clinic", "Bright Smile", &zone_at(12)).await;
    let settings = json!({
        "providers": {"sms": {"provider": "twilio", "account_sid": ACCOUNT, "from": NUMBER}},
        "sources": {"form": {"thank_you_url": format!("{SITE}/thanks")}}});
    let patched = api.patch("/v1/settings", &key, &settings).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    for (name, value) in [
        ("twilio_auth_token", TOKEN),
        ("calcom_webhook_secret", CAL_SECRET),
    ] {
        let path = format!("/v1/settings/credentials/{name}");
        let body = json!({ "value": value }).to_string();
        let set = api
            .send(Method::PUT, &path, &key, "application/json", body)
            .await;
        assert!(set.status.is_success(), "{name}: {}", set.body);
    }
    let install = json!({"config": {"booking_link": BOOKING,
        "open_days": [1, 2, 3, 4, 5, 6, 7], "open_hour": 0, "close_hour": 24}});
    let installed = api
        .post("/v1/modules/speed-to-lead/install", &key, &install)
        .await;
    assert_eq!(installed.status, StatusCode::CREATED, "{}", installed.body);
    let hook_token = api.get("/v1/settings", &key).await.body["hook_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (key, hook_token)
}

async fn first_lead(backend: &Backend, dir: &std::path::Path) {
    let (twilio, _server, base) = serve_with_twilio(dir, backend, PUBLIC).await;
    let api = Client::new(&base);
    let (key, hook_token) = clinic(&api).await;
    let twilio_path = format!("/hooks/{hook_token}/twilio");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // The lead fills in the website's form; the browser goes to the thank-you page.
    let form = "name=Ana+D%C3%ADaz&phone=5125550177&message=A+cleaning+asap+please";
    let posted = no_redirects
        .post(format!("{base}/hooks/{hook_token}/form"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    assert_eq!(posted.headers()["location"], format!("{SITE}/thanks"));

    // Speed to lead answers through Twilio, with the booking link tracked.
    let sends = twilio.until_sends(1, Duration::from_secs(30)).await;
    let answer = &sends[0];
    assert_eq!(
        (answer.field("To"), answer.field("From")),
        (Some(LEAD), Some(NUMBER))
    );
    let body = answer.field("Body").unwrap().to_owned();
    assert!(body.starts_with("Hi Ana"), "{body}");
    let link = body
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{PUBLIC}/l/")))
        .unwrap_or_else(|| panic!("no tracked link in {body:?}"))
        .to_owned();
    assert!(!body.contains(BOOKING), "{body}");
    let runs = api.get("/v1/runs?flow_id=speed-to-lead", &key).await.body;
    let run = runs["data"][0]["id"].as_str().unwrap().to_owned();
    let contact = runs["data"][0]["contact_id"].as_str().unwrap().to_owned();
    api.run_until(&key, &run, |r| r["run"]["status"] == "waiting")
        .await;

    // Twilio reports it delivered.
    let sid = answer.sid.clone().unwrap();
    let delivered = [
        ("MessageSid", sid.as_str()),
        ("MessageStatus", "delivered"),
        ("AccountSid", ACCOUNT),
        ("To", LEAD),
        ("From", NUMBER),
    ];
    assert_eq!(
        twilio_hook(&base, &twilio_path, &delivered).await,
        StatusCode::NO_CONTENT
    );
    let outbox = api.get("/v1/messages", &key).await.body;
    assert_eq!(outbox["data"][0]["status"], "delivered", "{outbox}");

    // The lead texts back: the inbox holds the thread, unread.
    let reply = [
        ("MessageSid", "SMstory1"),
        ("AccountSid", ACCOUNT),
        ("From", LEAD),
        ("To", NUMBER),
        ("Body", "Is Friday morning free?"),
    ];
    assert_eq!(
        twilio_hook(&base, &twilio_path, &reply).await,
        StatusCode::OK
    );
    let inbox = api
        .get_until("/v1/conversations", &key, |b| b["data"][0]["unread"] == 1)
        .await;
    let conversation = inbox["data"][0]["id"].as_str().unwrap().to_owned();
    let thread = api
        .get(&format!("/v1/conversations/{conversation}"), &key)
        .await
        .body;
    let ways: Vec<&str> = thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["direction"].as_str().unwrap())
        .collect();
    assert_eq!(ways, ["outbound", "inbound"], "{thread}");

    // The lead opens the booking link: counted for the contact, and sent on to Cal.com.
    let path = link.strip_prefix(PUBLIC).unwrap();
    let opened = no_redirects
        .get(format!("{base}{path}"))
        .header("user-agent", "Mozilla/5.0 (iPhone)")
        .send()
        .await
        .unwrap();
    assert!(opened.status().is_redirection(), "{}", opened.status());
    assert_eq!(opened.headers()["location"], BOOKING);
    let clicks = api.contact_events(&key, &contact, "link.clicked").await;
    assert_eq!(clicks.len(), 1, "{clicks:?}");

    // The lead books on Cal.com (the same phone): the follow-up is called off.
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48);
    let booking = json!({"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-12-01T10:00:00.000Z",
        "payload": {"uid": "bk_story", "startTime": start.to_string(),
            "attendees": [{"email": "ana@example.com", "name": "Ana Díaz", "timeZone": zone_at(12)}],
            "responses": {"attendeePhoneNumber": {"value": LEAD}}}});
    assert_eq!(
        calcom_hook(&base, &format!("/hooks/{hook_token}/calcom"), &booking).await,
        StatusCode::NO_CONTENT
    );
    let ended = api
        .run_until(&key, &run, |r| r["run"]["status"] == "cancelled")
        .await;
    assert!(
        ended["run"]["end_reason"]
            .as_str()
            .unwrap()
            .contains("appointment.booked"),
        "{ended}"
    );
    assert_eq!(
        api.count("/v1/contacts", &key).await,
        1,
        "the booking is the lead's"
    );

    // STOP: suppressed at once; the next text to them is suppressed with the reason.
    let stop = [
        ("MessageSid", "SMstory2"),
        ("AccountSid", ACCOUNT),
        ("From", LEAD),
        ("To", NUMBER),
        ("Body", "STOP"),
    ];
    assert_eq!(
        twilio_hook(&base, &twilio_path, &stop).await,
        StatusCode::OK
    );
    let listed = api
        .get(
            &format!("/v1/suppressions?channel=sms&address={LEAD}"),
            &key,
        )
        .await
        .body;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    let again = json!({"type": "lead.created", "external_id": "form-again",
        "contact": {"phone": LEAD}, "data": {"message": "me again"}});
    let accepted = api.post("/v1/events", &key, &again).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let second = accepted.body["started"][0].as_str().unwrap().to_owned();
    let suppressed = api
        .run_until(&key, &second, |r| {
            r["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "suppressed")
        })
        .await;
    assert!(suppressed.to_string().contains("opted out"), "{suppressed}");
    assert_eq!(
        twilio.until_sends(1, Duration::from_secs(1)).await.len(),
        1,
        "Twilio got one text only"
    );
}

common::place::on_both_backends!(
    first_lead,
    "story",
    a_clinics_first_lead_on_sqlite,
    a_clinics_first_lead_on_postgres
);
