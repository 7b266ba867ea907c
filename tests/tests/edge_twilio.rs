//! Twilio both ways through the real binary, on both backends: a tenant configures Twilio
//! through the API; a lead gets a real (fake-provider) SMS that Twilio's own OpenAPI document
//! accepts; the status callback marks it delivered (announced on the inbox's live stream) and
//! a late `sent` does not undo it; the lead texts back and the `wait_for` resumes (a repeated
//! webhook changes nothing); STOP suppresses the number at once and the next send is
//! suppressed with the reason; START lifts it; HELP is answered. Every forged, stale-token,
//! unsigned or other-tenant webhook is refused and stores nothing; the Auth Token appears in
//! no answer. (Cal.com bookings: `edge_calcom.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::Backend;
use common::client::Client;
use common::fake_twilio::{post_signed, serve_with_twilio};
use reqwest::Method;
use serde_json::{Value, json};

const FLOW: &str = "id: speed-to-lead
purpose: transactional
trigger: {event: lead.created}
cancel_on: [appointment.booked]
steps:
  - id: hello
    send_sms: {body: 'Hi {{contact.first_name}}, want a time this week? Just reply.'}
  - id: reply
    wait_for: {event: message.received, timeout: 1d}
  - id: thanks
    send_sms: {body: 'Thanks! You said: {{steps.reply.event.data.body}}'}
";

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "e2e-twilio-auth-token-5f1c";
const PUBLIC: &str = "https://stepwise.test";
const LEAD: &str = "+15125550177";
const NUMBER: &str = "+15125550100";
const OWNER: &str = "+15125550188";

/// Posts a webhook signed with `token` over the public URL of `path`.
async fn hook(
    base: &str,
    path: &str,
    params: &[(&str, &str)],
    token: &str,
) -> (StatusCode, String) {
    post_signed(base, PUBLIC, path, params, token).await
}

/// What the tenant stored that a webhook could change.
async fn stored(api: &Client, key: &str) -> (usize, usize, Value) {
    let contacts = api.count("/v1/contacts", key).await;
    let suppressions = api.count("/v1/suppressions", key).await;
    let messages = api.get("/v1/messages", key).await.body;
    (contacts, suppressions, messages)
}

async fn twilio_both_ways(backend: &Backend, dir: &std::path::Path) {
    let (twilio, _server, base) = serve_with_twilio(dir, backend, PUBLIC).await;
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let other = api.tenant("salon").await;

    // Twilio through the API: the provider, then its Auth Token as a sealed credential.
    let settings = json!({"providers": {"sms": {"provider": "twilio", "account_sid": ACCOUNT, "from": NUMBER}}});
    let patched = api.patch("/v1/settings", &key, &settings).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let bad = json!({"providers": {"sms": {"provider": "twilio", "account_sid": "AC1"}}});
    let refused = api.patch("/v1/settings", &key, &bad).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.to_string().contains("account_sid"),
        "{}",
        refused.body
    );
    let credential = json!({"value": TOKEN});
    let set = api
        .send(
            Method::PUT,
            "/v1/settings/credentials/twilio_auth_token",
            &key,
            "application/json",
            credential.to_string(),
        )
        .await;
    assert!(set.status.is_success(), "{}", set.body);
    // The other tenant uses Twilio too, with its own token.
    let theirs = json!({"providers": {"sms": {"provider": "twilio", "account_sid": ACCOUNT, "from": "+15125550199"}}});
    api.send(
        Method::PATCH,
        "/v1/settings",
        &other,
        "application/json",
        theirs.to_string(),
    )
    .await;
    api.send(
        Method::PUT,
        "/v1/settings/credentials/twilio_auth_token",
        &other,
        "application/json",
        json!({"value": "salon-token"}).to_string(),
    )
    .await;

    let shown = api.get("/v1/settings", &key).await.body;
    let hook_token = shown["hook_token"].as_str().unwrap().to_owned();
    let path = format!("/hooks/{hook_token}/twilio");
    assert_eq!(
        shown["hooks"]["twilio"],
        format!("{PUBLIC}{path}"),
        "{shown}"
    );
    assert!(
        !shown.to_string().contains(TOKEN),
        "the Auth Token is never answered"
    );
    let salon_path = format!(
        "/hooks/{}/twilio",
        api.get("/v1/settings", &other).await.body["hook_token"]
            .as_str()
            .unwrap()
    );

    let flow = api.yaml(Method::POST, "/v1/flows", &key, FLOW).await;
    assert_eq!(flow.status, StatusCode::CREATED, "{}", flow.body);

    // A lead: the SMS reaches Twilio as Twilio's spec describes it.
    let lead = json!({"type": "lead.created", "contact": {"phone": LEAD, "first_name": "Ana"}});
    let accepted = api.post("/v1/events", &key, &lead).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let run_id = accepted.body["started"][0].as_str().unwrap().to_owned();
    let sends = twilio.until_sends(1, Duration::from_secs(20)).await;
    let hello = &sends[0];
    assert_eq!(hello.account, ACCOUNT);
    assert_eq!(
        (hello.field("To"), hello.field("From")),
        (Some(LEAD), Some(NUMBER))
    );
    assert_eq!(
        hello.field("Body"),
        Some("Hi Ana, want a time this week? Just reply.")
    );
    assert_eq!(
        hello.field("StatusCallback"),
        Some(format!("{PUBLIC}{path}").as_str())
    );
    let sid = hello.sid.clone().unwrap();
    api.run_until(&key, &run_id, |r| r["run"]["status"] == "waiting")
        .await;
    let outbox = api.get("/v1/messages", &key).await.body;
    assert_eq!(outbox["data"][0]["provider_id"], sid.as_str(), "{outbox}");
    assert_eq!(outbox["data"][0]["status"], "queued", "{outbox}");

    // Forged and misdirected webhooks are refused and store nothing.
    let before = stored(&api, &key).await;
    let reply = [
        ("MessageSid", "SMin1"),
        ("AccountSid", ACCOUNT),
        ("From", LEAD),
        ("To", NUMBER),
        ("Body", "Tuesday works"),
    ];
    let forged = [
        (path.clone(), "not-the-token"),
        (salon_path.clone(), TOKEN),
        (format!("/hooks/{}/twilio", "0".repeat(64)), TOKEN),
        (format!("/hooks/{hook_token}/stripe"), TOKEN),
    ];
    for (at, token) in &forged {
        let (status, body) = hook(&base, at, &reply, token).await;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::NOT_FOUND,
            "{at}: {status} {body}"
        );
        assert!(!body.contains(TOKEN));
    }
    let unsigned = common::http()
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("MessageSid=SMin1&From=%2B15125550177&Body=hi")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        stored(&api, &key).await,
        before,
        "refused webhooks stored nothing"
    );

    // Status callbacks: delivered, then a late `sent` that must not move it back.
    for status in ["delivered", "sent"] {
        let callback = [
            ("MessageSid", sid.as_str()),
            ("MessageStatus", status),
            ("AccountSid", ACCOUNT),
            ("To", LEAD),
            ("From", NUMBER),
        ];
        let (code, body) = hook(&base, &path, &callback, TOKEN).await;
        assert_eq!(code, StatusCode::NO_CONTENT, "{body}");
    }
    let outbox = api.get("/v1/messages", &key).await.body;
    assert_eq!(outbox["data"][0]["status"], "delivered", "{outbox}");
    // The run's timeline shows it too, on the send.
    let sender = outbox["data"][0]["run_id"].as_str().unwrap();
    let run = api.get(&format!("/v1/runs/{sender}"), &key).await.body;
    let send = run["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "sent")
        .unwrap_or_else(|| panic!("no send in {run}"));
    assert_eq!(send["delivery"], json!({"status": "delivered"}), "{send}");
    let delivered = api.get("/v1/messages?status=delivered", &key).await.body;
    assert_eq!(
        delivered["data"].as_array().unwrap().len(),
        1,
        "{delivered}"
    );
    // The inbox's live stream announced the report (from its start: the text, then this).
    let mut stream = common::sse::Stream::new(&base, &key, Some("0")).await;
    let report = loop {
        let sent = stream.next().await;
        if sent.event == "delivery" {
            break sent.data;
        }
    };
    assert_eq!(
        (report["provider_id"].as_str(), report["status"].as_str()),
        (Some(sid.as_str()), Some("delivered")),
        "{report}"
    );
    drop(stream);

    // The lead texts back: the wait resumes and the thanks goes out. Twilio retrying the
    // same webhook changes nothing.
    let (code, twiml) = hook(&base, &path, &reply, TOKEN).await;
    assert_eq!(code, StatusCode::OK);
    assert!(twiml.contains("<Response></Response>"), "{twiml}");
    let (code, _) = hook(&base, &path, &reply, TOKEN).await;
    assert_eq!(code, StatusCode::OK);
    let sends = twilio.until_sends(2, Duration::from_secs(20)).await;
    assert_eq!(
        sends[1].field("Body"),
        Some("Thanks! You said: Tuesday works")
    );
    api.run_until(&key, &run_id, |r| r["run"]["status"] == "completed")
        .await;
    // The inbox has the thread, both ways, the reply counted once (the retry changed nothing).
    let inbox = api.get("/v1/conversations", &key).await.body;
    let conversation = &inbox["data"][0];
    assert_eq!(
        (
            inbox["data"].as_array().unwrap().len(),
            &conversation["unread"]
        ),
        (1, &json!(1)),
        "{inbox}"
    );
    let thread = api.newest_thread(&key).await;
    let ways: Vec<(&str, &str)> = thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["direction"].as_str().unwrap(),
                m["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ways,
        [
            ("outbound", "Hi Ana, want a time this week? Just reply."),
            ("inbound", "Tuesday works"),
            ("outbound", "Thanks! You said: Tuesday works"),
        ],
        "{thread}"
    );
    assert_eq!(thread["messages"][0]["status"], "delivered", "{thread}");

    // STOP: suppressed at once, and the next send is suppressed with the reason.
    let stop = [
        ("MessageSid", "SMin2"),
        ("From", LEAD),
        ("To", NUMBER),
        ("Body", " Stop "),
    ];
    assert_eq!(hook(&base, &path, &stop, TOKEN).await.0, StatusCode::OK);
    let listed = api
        .get(
            &format!("/v1/suppressions?channel=sms&address={LEAD}"),
            &key,
        )
        .await
        .body;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    let again =
        json!({"type": "lead.created", "external_id": "second", "contact": {"phone": LEAD}});
    let second = api.post("/v1/events", &key, &again).await;
    let second_run = second.body["started"][0].as_str().unwrap().to_owned();
    let run = api
        .run_until(&key, &second_run, |r| r["run"]["status"] == "waiting")
        .await;
    let suppressed = run["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "suppressed")
        .cloned();
    assert!(
        suppressed.is_some_and(|e| e.to_string().contains("opt")),
        "{run}"
    );
    assert_eq!(
        twilio.sends().len(),
        2,
        "nothing sent to an opted-out number"
    );

    // START lifts it (the person's own message); HELP is answered with the help text.
    let start = [
        ("MessageSid", "SMin3"),
        ("From", LEAD),
        ("To", NUMBER),
        ("Body", "START"),
    ];
    assert_eq!(hook(&base, &path, &start, TOKEN).await.0, StatusCode::OK);
    assert_eq!(api.count("/v1/suppressions", &key).await, 0);
    // (HELP is a takeover keyword by default, which keeps it as a message for the team; this
    // business takes it as the carriers' HELP only.)
    let keywords = json!({"takeover": {"keywords": ["human", "agent"]}});
    let patched = api.patch("/v1/settings", &key, &keywords).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let help = [
        ("MessageSid", "SMin4"),
        ("From", LEAD),
        ("To", NUMBER),
        ("Body", "help"),
    ];
    let (code, twiml) = hook(&base, &path, &help, TOKEN).await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        twiml.contains("<Message>Business clinic: reply STOP"),
        "{twiml}"
    );
    // It is in the contact's history with its answer (and is no reply a flow waits for).
    let contacts = api.get("/v1/contacts?limit=100", &key).await.body;
    let lead = contacts["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone"] == LEAD)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let asked = api.contact_events(&key, &lead, "help.requested").await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0]["answer"]
            .as_str()
            .is_some_and(|a| a.starts_with("Business clinic: reply STOP")),
        "{}",
        asked[0]
    );
    // The team sees both in the conversation: the HELP, then the answer that went back.
    let thread = api.newest_thread(&key).await;
    let n = thread["messages"].as_array().unwrap().len();
    let (help, answer) = (&thread["messages"][n - 2], &thread["messages"][n - 1]);
    assert_eq!(
        (&help["direction"], &help["text"]),
        (&json!("inbound"), &json!("help"))
    );
    assert_eq!(
        (&answer["direction"], &answer["event_type"], &answer["text"]),
        (
            &json!("outbound"),
            &json!("help.requested"),
            &asked[0]["answer"]
        ),
        "{thread}"
    );

    // Staff alerts by SMS: `notify` goes to the owner's mobile through the same account.
    let notify = json!({"providers": {"notify": {"provider": "twilio", "account_sid": ACCOUNT,
        "from": NUMBER, "owner": OWNER}}});
    let patched = api.patch("/v1/settings", &key, &notify).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let alert = "id: missed\npurpose: transactional\ntrigger: {event: call.missed}\nsteps:\n  - notify: {channel: owner, text: 'Missed call from {{contact.phone}}'}\n";
    let published = api.yaml(Method::POST, "/v1/flows", &key, alert).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    let before = twilio.sends().len();
    let missed = json!({"type": "call.missed", "contact": {"phone": "+15125550179"}});
    let accepted = api.post("/v1/events", &key, &missed).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let sends = twilio
        .until_sends(before + 1, Duration::from_secs(20))
        .await;
    let owner_sms = &sends[before];
    assert_eq!(
        (owner_sms.field("To"), owner_sms.field("Body")),
        (Some(OWNER), Some("Missed call from +15125550179"))
    );

    // The other tenant saw none of it.
    assert_eq!(api.count("/v1/contacts", &other).await, 0);
    assert!(
        twilio.violations().is_empty(),
        "requests outside Twilio's spec: {:?}",
        twilio.violations()
    );
}

common::place::on_both_backends!(
    twilio_both_ways,
    "twilio",
    twilio_both_ways_on_sqlite,
    twilio_both_ways_on_postgres
);
