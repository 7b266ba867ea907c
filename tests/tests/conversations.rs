//! The inbox through the real binary, on both backends: a conversation per contact and
//! channel from the contacts' messages and the runs' sends; the filters and the cursor; an
//! agent reads, assigns (to members only), snoozes and closes, and the contact's next message
//! reopens; a viewer only reads; another tenant sees nothing; erasing the contact erases its
//! conversation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::client::Client;
use common::{Backend, start_server};
use serde_json::{Value, json};

async fn says(api: &Client, key: &str, phone: &str, body: &str) {
    let event = json!({"type": "message.received", "contact": {"phone": phone},
        "data": {"channel": "sms", "body": body}});
    let accepted = api.post("/v1/events", key, &event).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn inbox(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let (viewer, _) = api.key(&key, "viewer").await;
    let (agent, _) = api.key(&key, "agent").await;

    // Three contacts write, one after another; the newest is first.
    for (i, phone) in ["+15125550161", "+15125550162", "+15125550163"]
        .iter()
        .enumerate()
    {
        says(&api, &key, phone, &format!("hello {i}")).await;
    }
    says(&api, &key, "+15125550161", "are you there?").await;
    let all = api.get("/v1/conversations", &key).await.body;
    assert_eq!(all["data"].as_array().unwrap().len(), 3, "{all}");
    assert_eq!(
        all["data"][0]["unread"], 2,
        "the latest writer is first: {all}"
    );
    let first = api.get("/v1/conversations?limit=2", &key).await.body;
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = api
        .get(&format!("/v1/conversations?limit=2&cursor={cursor}"), &key)
        .await
        .body;
    let paged: Vec<String> = ids(&first).into_iter().chain(ids(&rest)).collect();
    assert_eq!(paged, ids(&all), "the cursor pages through the same order");
    assert!(rest["next_cursor"].is_null(), "{rest}");
    let email = api.get("/v1/conversations?channel=email", &key).await.body;
    assert_eq!(email["data"], json!([]));
    // The contact of the second conversation is a VIP: only its conversation has the tag.
    let vip = all["data"][1]["contact_id"].as_str().unwrap();
    let tagged = json!({"tags": ["vip"]});
    let patched = api
        .patch(&format!("/v1/contacts/{vip}"), &key, &tagged)
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let vips = api.get("/v1/conversations?tag=vip", &key).await.body;
    assert_eq!(ids(&vips), [ids(&all)[1].clone()], "{vips}");
    let none = api.get("/v1/conversations?tag=gold", &key).await.body;
    assert_eq!(none["data"], json!([]));

    // An agent handles one; a viewer only reads.
    let id = ids(&all)[0].clone();
    let act = |action: &str| format!("/v1/conversations/{id}/{action}");
    assert_eq!(
        api.post(&act("read"), &viewer, &json!({})).await.status,
        StatusCode::FORBIDDEN
    );
    let read = api.post(&act("read"), &agent, &json!({})).await;
    assert_eq!(read.body["unread"], 0, "{}", read.body);
    let nobody = api
        .post(&act("assign"), &agent, &json!({"member_id": "mem_nobody"}))
        .await;
    assert_eq!(
        nobody.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        nobody.body
    );
    let sam = api.member(&key, "Sam", "sam@clinic.example", "agent").await;
    let assigned = api
        .post(&act("assign"), &agent, &json!({"member_id": sam}))
        .await;
    assert_eq!(assigned.body["assignee"], sam.as_str(), "{}", assigned.body);
    let theirs = api
        .get(&format!("/v1/conversations?assignee={sam}"), &viewer)
        .await
        .body;
    assert_eq!(ids(&theirs), std::slice::from_ref(&id));
    let unassigned = api
        .get("/v1/conversations?unassigned=true", &viewer)
        .await
        .body;
    assert_eq!(
        unassigned["data"].as_array().unwrap().len(),
        2,
        "{unassigned}"
    );
    let unread = api
        .get("/v1/conversations?has_unread=true", &viewer)
        .await
        .body;
    assert!(!ids(&unread).contains(&id), "{unread}");

    // Snoozed: out of the open list until the contact writes again.
    let tomorrow = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    let snoozed = api
        .post(
            &act("snooze"),
            &agent,
            &json!({"until": tomorrow.to_string()}),
        )
        .await;
    assert_eq!(snoozed.body["status"], "snoozed", "{}", snoozed.body);
    let past = api
        .post(
            &act("snooze"),
            &agent,
            &json!({"until": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        past.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        past.body
    );
    let open = api.get("/v1/conversations?status=open", &key).await.body;
    assert!(!ids(&open).contains(&id), "{open}");
    let later = api.get("/v1/conversations?status=snoozed", &key).await.body;
    assert_eq!(ids(&later), std::slice::from_ref(&id));
    says(&api, &key, "+15125550161", "hello again").await;
    let back = api.get(&format!("/v1/conversations/{id}"), &key).await.body;
    assert_eq!(
        (
            &back["conversation"]["status"],
            &back["conversation"]["unread"]
        ),
        (&json!("open"), &json!(1)),
        "{back}"
    );
    let closed = api.post(&act("close"), &agent, &json!({})).await;
    assert_eq!(closed.body["status"], "closed", "{}", closed.body);
    let reopened = api.post(&act("reopen"), &agent, &json!({})).await;
    assert_eq!(reopened.body["status"], "open", "{}", reopened.body);
    let texts: Vec<&str> = back["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["hello 0", "are you there?", "hello again"]);

    // Another tenant sees none of it.
    let other = api.tenant("salon").await;
    assert_eq!(
        api.get(&format!("/v1/conversations/{id}"), &other)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.post(&act("close"), &other, &json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/v1/conversations", &other).await.body["data"],
        json!([])
    );

    // Erasing the contact erases its conversation.
    let contact = back["conversation"]["contact_id"].as_str().unwrap();
    let erased = api
        .post(&format!("/v1/contacts/{contact}/erase"), &key, &json!({}))
        .await;
    assert!(erased.status.is_success(), "{}", erased.body);
    assert_eq!(
        api.get(&format!("/v1/conversations/{id}"), &key)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// A thread longer than a page pages back with `before` to its first message.
async fn long_thread(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("chatty").await;
    for n in 0..105 {
        says(&api, &key, "+15125550171", &format!("message {n}")).await;
    }
    let list = api.get("/v1/conversations", &key).await.body;
    let id = list["data"][0]["id"].as_str().unwrap().to_owned();
    let texts = |page: &Value| -> Vec<String> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect()
    };
    let newest = api.get(&format!("/v1/conversations/{id}"), &key).await.body;
    assert_eq!(texts(&newest).len(), 100, "{newest}");
    assert_eq!(texts(&newest)[0], "message 5");
    let before = newest["older_before"]
        .as_str()
        .expect("a full page has older");
    let path = format!(
        "/v1/conversations/{id}?before={}",
        before.replace('+', "%2B")
    );
    let older = api.get(&path, &key).await.body;
    let expected: Vec<String> = (0..5).map(|n| format!("message {n}")).collect();
    assert_eq!(texts(&older), expected, "{older}");
    assert!(older["older_before"].is_null(), "{older}");
    let bad = api
        .get(&format!("/v1/conversations/{id}?before=yesterday"), &key)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
}

common::place::on_both_backends!(
    long_thread,
    "long_thread",
    a_long_thread_pages_back_on_sqlite,
    a_long_thread_pages_back_on_postgres
);

common::place::on_both_backends!(
    inbox,
    "inbox",
    the_inbox_works_on_sqlite,
    the_inbox_works_on_postgres
);
