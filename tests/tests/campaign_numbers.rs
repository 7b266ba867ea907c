//! A pool number that keeps failing, through the real binary and Twilio's wire format, on both
//! backends. A campaign texts from two numbers through a fake Twilio; the test answers each
//! text with a signed status callback, `undelivered` (30034, an unregistered number) for the
//! numbers it is failing and `delivered` for the others. The failing number is taken out of
//! the campaign and reported in its answer while the other carries on alone; when both fail
//! the campaign pauses; resuming puts both back, and the campaign reaches everyone.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use common::Backend;
use common::audience::{campaign_until, import, send_json, zone_at};
use common::client::Client;
use common::fake_twilio::{FakeTwilio, post_signed, serve_with_twilio};
use reqwest::Method;
use serde_json::{Value, json};

const PROMO: &str = "id: promo
trigger: {manual: true}
purpose: marketing
steps:
  - id: offer
    send_sms: {body: 'New hours this spring, {{contact.first_name}}. Reply STOP to opt out.'}
";

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "pool-twilio-auth-token-7a2d";
const PUBLIC: &str = "https://stepwise.test";
const FIRST: &str = "+15125550301";
const SECOND: &str = "+15125550302";
const CONTACTS: usize = 60;

/// Answers every text the fake Twilio accepts with a signed status callback: `undelivered`
/// (30034) from the numbers in `failing`, `delivered` from the others.
fn answer_texts(
    twilio: FakeTwilio,
    base: String,
    path: String,
    failing: Arc<Mutex<BTreeSet<String>>>,
) {
    tokio::spawn(async move {
        let mut answered = 0;
        loop {
            let sends = twilio
                .until_sends(answered + 1, Duration::from_secs(600))
                .await;
            for send in &sends[answered..] {
                let from = send.field("From").unwrap().to_owned();
                let sid = send.sid.clone().unwrap();
                let fails = failing.lock().unwrap().contains(&from);
                let mut params = vec![
                    ("MessageSid", sid.as_str()),
                    ("AccountSid", ACCOUNT),
                    ("From", from.as_str()),
                    ("To", send.field("To").unwrap()),
                ];
                params.extend(if fails {
                    [("MessageStatus", "undelivered"), ("ErrorCode", "30034")]
                } else {
                    [("MessageStatus", "delivered"), ("ErrorCode", "")]
                });
                params.retain(|(_, v)| !v.is_empty());
                let (status, _) = post_signed(&base, PUBLIC, &path, &params, TOKEN).await;
                assert_eq!(status, StatusCode::NO_CONTENT);
            }
            answered = sends.len();
        }
    });
}

fn numbers_out(campaign: &Value) -> Vec<(String, String)> {
    campaign["campaign"]["numbers_out"]
        .as_array()
        .map(|out| {
            out.iter()
                .map(|o| {
                    (
                        o["number"].as_str().unwrap().to_owned(),
                        o["error_code"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn failing_numbers_are_taken_out(backend: &Backend, dir: &std::path::Path) {
    let (twilio, _server, base) = serve_with_twilio(dir, backend, PUBLIC).await;
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let pool = json!([
        {"number": FIRST, "kind": "long_code", "per_second": 5},
        {"number": SECOND, "kind": "long_code", "per_second": 5}]);
    let settings = json!({"timezone": zone_at(12), "sender_pools": {"main": pool},
        "providers": {"sms": {"provider": "twilio", "account_sid": ACCOUNT, "from": FIRST}}});
    let patched = send_json(&api, Method::PATCH, "/v1/settings", &key, &settings).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let credential = json!({"value": TOKEN});
    let set = send_json(
        &api,
        Method::PUT,
        "/v1/settings/credentials/twilio_auth_token",
        &key,
        &credential,
    )
    .await;
    assert!(set.status.is_success(), "{}", set.body);
    let hook_token = api.get("/v1/settings", &key).await.body["hook_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let failing = Arc::new(Mutex::new(BTreeSet::from([SECOND.to_owned()])));
    answer_texts(
        twilio.clone(),
        base.clone(),
        format!("/hooks/{hook_token}/twilio"),
        failing.clone(),
    );

    assert_eq!(
        api.yaml(Method::POST, "/v1/flows", &key, PROMO)
            .await
            .status,
        StatusCode::CREATED
    );
    let mut file = String::from("Name,Mobile,Tags\n");
    for i in 0..CONTACTS {
        file.push_str(&format!("Guest{i},(512) 555-{:04},spring\n", 4000 + i));
    }
    import(&api, &key, "", file).await;
    let body = json!({"name": "Spring hours", "flow_id": "promo", "audience": {"tag": "spring"},
        "per_second": 2, "pool": "main"});
    let made = api.post("/v1/campaigns", &key, &body).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let id = made.body["id"].as_str().unwrap().to_owned();
    let launched = api
        .post(&format!("/v1/campaigns/{id}/launch"), &key, &json!({}))
        .await;
    assert_eq!(launched.status, StatusCode::OK, "{}", launched.body);

    // The second number's texts come back undelivered: it is taken out, the first carries on.
    let out = campaign_until(&api, &key, &id, |c| !numbers_out(c).is_empty()).await;
    assert_eq!(
        numbers_out(&out),
        [(SECOND.to_owned(), "30034".to_owned())],
        "{out}"
    );
    assert_eq!(out["campaign"]["status"], "running", "{out}");
    let at_out = twilio.sends().len();
    // Runs started before the reading still text from it (each waits at most a second for
    // its slot); every contact started after goes from the first number.
    let after_out = at_out + 6;
    twilio
        .until_sends(after_out + 6, Duration::from_secs(60))
        .await;
    let from_second_after = twilio.sends()[after_out..]
        .iter()
        .filter(|s| s.field("From") == Some(SECOND))
        .count();
    assert_eq!(from_second_after, 0, "texts from the number taken out");
    let from_second = twilio
        .sends()
        .iter()
        .filter(|s| s.field("From") == Some(SECOND))
        .count();
    assert!(
        from_second >= 5,
        "it failed five times before it was taken out"
    );

    // Both failing: the campaign pauses, with both numbers reported.
    failing.lock().unwrap().insert(FIRST.to_owned());
    let paused = campaign_until(&api, &key, &id, |c| c["campaign"]["status"] == "paused").await;
    let reported: BTreeSet<String> = numbers_out(&paused).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        reported,
        BTreeSet::from([FIRST.to_owned(), SECOND.to_owned()]),
        "{paused}"
    );

    // Mended: resuming puts both back, and the campaign reaches everyone.
    failing.lock().unwrap().clear();
    let resumed = api
        .post(&format!("/v1/campaigns/{id}/resume"), &key, &json!({}))
        .await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.body);
    assert!(
        resumed.body.get("numbers_out").is_none(),
        "{}",
        resumed.body
    );
    let done = campaign_until(&api, &key, &id, |c| c["campaign"]["status"] == "completed").await;
    assert_eq!(done["campaign"]["counts"]["enrolled"], CONTACTS, "{done}");
    assert!(numbers_out(&done).is_empty(), "{done}");
    let sends = twilio.until_sends(CONTACTS, Duration::from_secs(60)).await;
    let texted: BTreeSet<_> = sends
        .iter()
        .map(|s| s.field("To").unwrap().to_owned())
        .collect();
    assert_eq!(
        (sends.len(), texted.len()),
        (CONTACTS, CONTACTS),
        "each contact texted once"
    );
    assert!(twilio.violations().is_empty(), "{:?}", twilio.violations());
}

common::place::on_both_backends!(
    failing_numbers_are_taken_out,
    "numbers",
    a_failing_number_is_taken_out_on_sqlite,
    a_failing_number_is_taken_out_on_postgres
);
