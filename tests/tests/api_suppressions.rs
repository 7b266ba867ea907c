//! The suppression list on the real binary and both backends: an opt-out outlives its
//! contact (deleted, then created again by a new lead with the same phone, it gets no SMS),
//! an address an admin adds is suppressed for whichever contact has it, and the list shows
//! both, newest first, in pages. A trigger's `when` sees a brand-new contact's listed address
//! as opted out.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::client::Client;
use common::{Backend, start_server};
use reqwest::Method;
use serde_json::{Value, json};

const WELCOME: &str = "id: welcome
purpose: transactional
trigger: {event: lead.created}
steps:
  - id: hello
    send_sms: {body: 'Hi {{contact.first_name}}'}
";

const PHONE: &str = "+15125550142";

/// The kinds of the run's timeline entries for its `hello` step.
async fn hello_outcome(api: &Client, key: &str, event: &Value) -> Vec<String> {
    let accepted = api.post("/v1/events", key, event).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let run_id = accepted.body["started"][0].as_str().unwrap().to_owned();
    let run = api
        .run_until(key, &run_id, |r| r["run"]["status"] == "completed")
        .await;
    run["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "sent" || e["kind"] == "suppressed")
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn opt_outs_outlive_contacts(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let flow = api.yaml(Method::POST, "/v1/flows", &key, WELCOME).await;
    assert_eq!(flow.status, StatusCode::CREATED, "{}", flow.body);

    // Ana opts out, is deleted, and comes back as a new lead with the same number.
    let ana = api
        .post(
            "/v1/contacts",
            &key,
            &json!({"id": "ana", "phone": PHONE, "first_name": "Ana"}),
        )
        .await;
    assert_eq!(ana.status, StatusCode::CREATED, "{}", ana.body);
    let opted = api
        .send(
            Method::PATCH,
            "/v1/contacts/ana",
            &key,
            "application/json",
            json!({"sms_opt_out": true}).to_string(),
        )
        .await;
    assert_eq!(opted.status, StatusCode::OK, "{}", opted.body);
    let deleted = api
        .send(Method::DELETE, "/v1/contacts/ana", &key, "", "")
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let lead = json!({"type": "lead.created",
                      "contact": {"phone": "(512) 555-0142", "first_name": "Ana"}});
    assert_eq!(hello_outcome(&api, &key, &lead).await, ["suppressed"]);
    let again = api
        .get(&format!("/v1/contacts?phone=%2B{}", &PHONE[1..]), &key)
        .await;
    assert_eq!(again.body["data"][0]["sms_opt_out"], true, "{}", again.body);

    // An address an admin adds is suppressed for the contact that has it; repeating it
    // answers the first entry.
    let body = json!({"channel": "sms", "address": "512-555-0143", "reason": "asked by phone"});
    let added = api.post("/v1/suppressions", &key, &body).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(added.body["address"], "+15125550143");
    let repeated = api.post("/v1/suppressions", &key, &body).await;
    assert_eq!(repeated.status, StatusCode::OK, "{}", repeated.body);
    assert_eq!(repeated.body, added.body);
    let bo = json!({"type": "lead.created",
                    "contact": {"phone": "+15125550143", "first_name": "Bo"}});
    assert_eq!(hello_outcome(&api, &key, &bo).await, ["suppressed"]);
    let cy = json!({"type": "lead.created",
                    "contact": {"phone": "+15125550144", "first_name": "Cy"}});
    assert_eq!(
        hello_outcome(&api, &key, &cy).await,
        ["sent"],
        "others still get texts"
    );
    // The list, newest first, a page at a time; filtered by address.
    let first = api.get("/v1/suppressions?limit=1", &key).await;
    assert_eq!(first.body["data"][0]["address"], "+15125550143");
    assert_eq!(first.body["data"][0]["reason"], "asked by phone");
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = api
        .get(&format!("/v1/suppressions?limit=1&cursor={cursor}"), &key)
        .await;
    assert_eq!(second.body["data"][0]["address"], PHONE, "{}", second.body);
    assert_eq!(second.body["data"][0]["reason"], "opt_out");
    assert_eq!(second.body["data"][0]["contact_id"], "ana");
    assert_eq!(second.body["next_cursor"], Value::Null);
    let by_address = api
        .get("/v1/suppressions?channel=sms&address=5125550142", &key)
        .await;
    assert_eq!(by_address.body["data"].as_array().unwrap().len(), 1);

    // Bad input changes nothing.
    for bad in [
        json!({"channel": "fax", "address": PHONE}),
        json!({"channel": "sms", "address": "not a phone"}),
        json!({"channel": "email", "address": "nobody"}),
        json!({"channel": "sms", "address": PHONE, "reason": ""}),
    ] {
        let answer = api.post("/v1/suppressions", &key, &bad).await;
        assert!(answer.status.is_client_error(), "{bad}: {}", answer.body);
    }
    assert_eq!(api.count("/v1/suppressions", &key).await, 2);
    let audit = api.get("/v1/audit", &key).await.body.to_string();
    assert_eq!(audit.matches("suppression.add").count(), 1, "{audit}");

    // A trigger's `when` sees a new contact as stored: opted out by the list (the number is
    // listed, and no contact has it yet).
    let listed = json!({"channel": "sms", "address": "+15125550146"});
    let listed = api.post("/v1/suppressions", &key, &listed).await;
    assert_eq!(listed.status, StatusCode::CREATED, "{}", listed.body);
    let promo = "id: promo\ntrigger: {event: promo.signup, when: '!contact.sms_opt_out'}\nsteps:\n  - id: offer\n    send_sms: {body: '10% off'}\n";
    api.yaml(Method::POST, "/v1/flows", &key, promo).await;
    for (phone, runs) in [("+15125550146", 0), ("+15125550145", 1)] {
        let signup = json!({"type": "promo.signup", "contact": {"phone": phone}});
        let accepted = api.post("/v1/events", &key, &signup).await;
        assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
        let started = accepted.body["started"].as_array().unwrap().len();
        assert_eq!(started, runs, "{phone}: {}", accepted.body);
    }
    // So does a known contact (found by email) to which the event brings a listed number.
    let listed = json!({"channel": "sms", "address": "+15125550148"});
    api.post("/v1/suppressions", &key, &listed).await;
    let dee = json!({"id": "dee", "email": "dee@example.com"});
    assert_eq!(
        api.post("/v1/contacts", &key, &dee).await.status,
        StatusCode::CREATED
    );
    let signup = json!({"type": "promo.signup",
                        "contact": {"email": "dee@example.com", "phone": "+15125550148"}});
    let accepted = api.post("/v1/events", &key, &signup).await;
    assert_eq!(accepted.body["contact_id"], "dee", "{}", accepted.body);
    assert_eq!(accepted.body["started"], json!([]), "{}", accepted.body);
}

common::place::on_both_backends!(
    opt_outs_outlive_contacts,
    "suppress",
    opt_outs_outlive_contacts_on_sqlite,
    opt_outs_outlive_contacts_on_postgres
);
