//! The inbox's live stream through the real binary, on both backends: an inbound SMS, an
//! assignment, a reply by hand, a contact asking for a person and a release arrive as
//! server-sent events in order (the test waits on the stream itself, never on a clock); a
//! client that reconnects with `Last-Event-ID` gets exactly what came after; another tenant's
//! stream carries none of it; a bad `Last-Event-ID` is 400, and an eleventh stream 429.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::client::Client;
use common::sse::{Sent, Stream};
use common::{Backend, start_server};
use serde_json::json;

async fn says(api: &Client, key: &str, phone: &str, body: &str) {
    let event = json!({"type": "message.received", "contact": {"phone": phone, "first_name": "Ana"},
        "data": {"channel": "sms", "body": body}});
    let accepted = api.post("/v1/events", key, &event).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
}

/// What the test checks of an event: its kind, and the direction and text of a message or
/// the change made to a conversation.
fn gist(sent: &Sent) -> String {
    match sent.event.as_str() {
        "message" => format!("{} {}", sent.data["direction"], sent.data["text"]),
        _ => format!("{} by {}", sent.data["change"], sent.data["by"]),
    }
}

async fn stream(backend: &Backend, dir: &std::path::Path) {
    let (_server, base) = start_server(dir, backend, "all");
    let api = Client::new(&base);
    let key = api.tenant("clinic").await;
    let other = api.tenant("salon").await;
    let mut live = Stream::new(&base, &key, None).await;
    let mut theirs = Stream::new(&base, &other, None).await;
    let sam = api.member(&key, "Sam", "sam@clinic.example", "agent").await;

    says(&api, &key, "+15125550181", "Is Friday free?").await;
    let hello = live.next().await;
    let id = hello.data["conversation_id"].as_str().unwrap().to_owned();
    let act = |action: &str| format!("/v1/conversations/{id}/{action}");
    api.post(&act("assign"), &key, &json!({"member_id": sam}))
        .await;
    let assigned = live.next().await;
    let reply =
        json!({"text": "Friday it is, {{contact.first_name}}.", "quiet_hours_override": true});
    let accepted = api.post(&act("messages"), &key, &reply).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let answered = live.next().await;
    says(&api, &key, "+15125550181", "agent").await;
    let asked = [live.next().await, live.next().await];
    api.post(&act("release"), &key, &json!({})).await;
    let released = live.next().await;

    let all: Vec<Sent> = [hello, assigned, answered]
        .into_iter()
        .chain(asked)
        .chain([released])
        .collect();
    // A tenant key acts as itself: `by` names the key (a member's key names the member).
    let by_key = all[1].data["by"].clone();
    assert!(by_key.is_string(), "{all:#?}");
    let gists: Vec<String> = all.iter().map(gist).collect();
    assert_eq!(
        gists,
        [
            r#""inbound" "Is Friday free?""#.to_owned(),
            format!(r#""assign" by {by_key}"#),
            r#""outbound" "Friday it is, Ana.""#.to_owned(),
            r#""inbound" "agent""#.to_owned(),
            r#""take_over" by "contact""#.to_owned(),
            format!(r#""release" by {by_key}"#),
        ],
        "{all:#?}"
    );
    assert_eq!(all[1].data["assignee"], sam.as_str(), "{all:#?}");
    assert!(all.iter().all(|s| s.data["conversation_id"] == id.as_str()));
    let numbers: Vec<u64> = all.iter().map(|s| s.id.parse().unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");

    // Reconnecting after the second event replays the rest, exactly.
    let mut resumed = Stream::new(&base, &key, Some(&all[1].id)).await;
    for expected in &all[2..] {
        assert_eq!(&resumed.next().await, expected);
    }

    // The other tenant's stream carries only its own inbox.
    says(&api, &other, "+15125550182", "Hello salon").await;
    let own = theirs.next().await;
    assert_eq!(gist(&own), r#""inbound" "Hello salon""#, "{own:?}");

    // Refused: a Last-Event-ID that is no event id; an eleventh stream.
    let bad = Stream::open(&base, &key, Some("yesterday")).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let mut open = Vec::new();
    for _ in 2..10 {
        open.push(Stream::new(&base, &key, None).await);
    }
    let eleventh = Stream::open(&base, &key, None).await;
    assert_eq!(eleventh.status(), StatusCode::TOO_MANY_REQUESTS);
}

common::place::on_both_backends!(
    stream,
    "inbox_stream",
    the_inbox_streams_on_sqlite,
    the_inbox_streams_on_postgres
);
