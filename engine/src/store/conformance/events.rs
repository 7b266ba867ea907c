//! Events are stored once per `(source, external_id)`, with the contact they bring.

use serde_json::json;

use super::at;
use crate::model::{Contact, Event};
use crate::ports::{EventContact, EventInsert, Store, StoredEvent};

pub(super) async fn events_are_stored_once(store: &dyn Store) {
    let mut event = Event::new("lead.created", json!({"n": 1}));
    event.external_id = Some("form-42".into());
    let first = StoredEvent {
        id: "e1".into(),
        event: event.clone(),
        contact_id: Some("c1".into()),
        received_at: at("2026-06-01T15:00:00Z"),
    };
    assert_eq!(
        store.record_event("a", &first, None).await.expect("insert"),
        EventInsert::Inserted
    );
    let again = StoredEvent {
        id: "e2".into(),
        ..first.clone()
    };
    assert_eq!(
        store
            .record_event("a", &again, None)
            .await
            .expect("duplicate"),
        EventInsert::Duplicate {
            id: "e1".into(),
            processed: false
        },
        "a repeat of (source, external_id) answers the first id, not yet processed"
    );
    store
        .mark_event_processed("a", "e1")
        .await
        .expect("mark processed");
    assert_eq!(
        store
            .record_event("a", &again, None)
            .await
            .expect("duplicate"),
        EventInsert::Duplicate {
            id: "e1".into(),
            processed: true
        },
    );
    assert_eq!(
        store
            .record_event("b", &again, None)
            .await
            .expect("other tenant"),
        EventInsert::Inserted,
        "dedupe is per tenant"
    );
    let other_source = StoredEvent {
        id: "e3".into(),
        event: Event {
            source: "twilio".into(),
            ..event
        },
        ..first
    };
    assert_eq!(
        store
            .record_event("a", &other_source, None)
            .await
            .expect("other source"),
        EventInsert::Inserted
    );

    // A new event's contact is stored with it; a repeat's contact is not.
    let ana = Contact {
        id: "ana".into(),
        first_name: Some("Ana".into()),
        ..Contact::default()
    };
    let with_contact = StoredEvent {
        id: "e4".into(),
        event: Event {
            external_id: Some("form-43".into()),
            ..other_source.event.clone()
        },
        ..other_source.clone()
    };
    store
        .record_event("a", &with_contact, Some(EventContact::New(&ana)))
        .await
        .expect("insert with contact");
    let renamed = Contact {
        first_name: Some("Mallory".into()),
        ..ana.clone()
    };
    store
        .record_event("a", &with_contact, Some(EventContact::New(&renamed)))
        .await
        .expect("repeat with contact");
    assert_eq!(store.contact("a", "ana").await.expect("stored"), ana);
}

pub(super) async fn unheard_types_are_counted_per_tenant(store: &dyn Store) {
    for (at_text, event_type) in [
        ("2026-06-01T15:00:00Z", "lead.craeted"),
        ("2026-06-01T16:00:00Z", "lead.craeted"),
        ("2026-06-01T15:30:00Z", "form.sent"),
        ("2026-05-01T15:30:00Z", "old.type"),
    ] {
        store
            .note_unheard("a", event_type, at(at_text))
            .await
            .expect("note unheard");
    }
    let found = store
        .unheard_types("a", at("2026-05-25T00:00:00Z"), 10)
        .await
        .expect("unheard types");
    let summary: Vec<(&str, u64)> = found
        .iter()
        .map(|u| (u.event_type.as_str(), u.count))
        .collect();
    assert_eq!(
        summary,
        [("lead.craeted", 2), ("form.sent", 1)],
        "most recent first, older than `since` left out"
    );
    assert_eq!(found[0].first_at, at("2026-06-01T15:00:00Z"));
    assert_eq!(found[0].last_at, at("2026-06-01T16:00:00Z"));
    let limited = store
        .unheard_types("a", at("2026-01-01T00:00:00Z"), 1)
        .await
        .expect("unheard types");
    assert_eq!(limited.len(), 1);
    assert!(
        store
            .unheard_types("b", at("2026-01-01T00:00:00Z"), 10)
            .await
            .expect("other tenant")
            .is_empty(),
        "another tenant sees none of them"
    );
}
