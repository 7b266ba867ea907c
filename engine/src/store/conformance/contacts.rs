//! Contacts: a phone number names one contact of a tenant, and the first event of a new
//! contact stores the event, the contact and its runs only when both are really new.

use jiff::Timestamp;
use serde_json::json;

use super::{at, contact, new_run, tenant};
use crate::model::{Contact, ContactChange, Event, Run};
use crate::ports::{EventInsert, Store, StoreError, StoredEvent};

fn with_phone(id: &str, phone: &str) -> Contact {
    Contact {
        id: id.into(),
        phone: Some(phone.into()),
        ..Contact::default()
    }
}

fn event(id: &str, external_id: &str, contact: &Contact) -> StoredEvent {
    let mut event = Event::new("lead.created", json!({}));
    event.external_id = Some(external_id.into());
    StoredEvent {
        id: id.into(),
        event,
        contact_id: Some(contact.id.clone()),
        received_at: at("2026-06-01T15:00:00Z"),
    }
}

fn run_for(tenant: &str, contact: &Contact, started_at: Timestamp) -> Run {
    Run {
        contact_id: contact.id.clone(),
        started_at,
        ..new_run(tenant)
    }
}

pub(super) async fn a_phone_names_one_contact(store: &dyn Store) {
    let ana = with_phone("h1", "+15125550111");
    store.put_contact("h", &ana).await.expect("put");
    store
        .put_contact("h", &ana)
        .await
        .expect("a contact keeps its own phone");
    let twin = with_phone("h2", "+15125550111");
    assert!(
        matches!(
            store.put_contact("h", &twin).await,
            Err(StoreError::Exists { .. })
        ),
        "a second contact with the same phone is refused"
    );
    assert!(
        matches!(
            store.contact("h", "h2").await,
            Err(StoreError::NotFound { .. })
        ),
        "the refused contact is not stored"
    );
    store
        .put_contact("i", &twin)
        .await
        .expect("another tenant may have a contact with that phone");
    let no_phone = |id: &str| Contact {
        id: id.into(),
        ..Contact::default()
    };
    store.put_contact("h", &no_phone("h3")).await.expect("h3");
    store
        .put_contact("h", &no_phone("h4"))
        .await
        .expect("contacts without a phone never clash");
}

pub(super) async fn creating_never_replaces(store: &dyn Store) {
    let ana = with_phone("n1", "+15125550121");
    store.create_contact("n", &ana).await.expect("create");
    let impostor = Contact {
        first_name: Some("Mallory".into()),
        ..with_phone("n1", "+15125550122")
    };
    for refused in [impostor, with_phone("n2", "+15125550121")] {
        let answer = store.create_contact("n", &refused).await;
        assert!(
            matches!(answer, Err(StoreError::Exists { .. })),
            "a taken id or phone is refused: {answer:?}"
        );
    }
    assert_eq!(
        store.contact("n", "n1").await.expect("n1"),
        ana,
        "the first is kept"
    );
    assert!(
        matches!(
            store.contact("n", "n2").await,
            Err(StoreError::NotFound { .. })
        ),
        "nothing of a refused contact is stored"
    );
    store
        .create_contact("m", &ana)
        .await
        .expect("another tenant's ids and phones are its own");
}

pub(super) async fn first_events_store_new_contacts_only(store: &dyn Store) {
    let lead = with_phone("j1", "+15125550122");
    let first = event("je1", "form-1", &lead);
    let run = run_for("j", &lead, at("2026-06-01T15:00:00Z"));
    let stored = store
        .record_first_event("j", &first, &lead, vec![(run.clone(), vec![])])
        .await
        .expect("first event");
    assert!(stored, "a new contact's first event is stored");
    assert_eq!(store.contact("j", "j1").await.expect("contact"), lead);
    assert_eq!(store.run("j", run.id).await.expect("run").contact_id, "j1");
    assert_eq!(
        store.record_event("j", &first, None).await.expect("again"),
        EventInsert::Duplicate {
            id: "je1".into(),
            processed: true
        },
        "it is stored processed"
    );

    // The same phone under a new id, with a new event: the contact is known.
    let same_phone = with_phone("j2", "+15125550122");
    let second = event("je2", "form-2", &same_phone);
    assert_known(store, &second, &same_phone).await;
    assert_eq!(
        store.record_event("j", &second, None).await.expect("event"),
        EventInsert::Inserted,
        "the event was not stored either: it goes the general way"
    );

    // A new contact, but the event was seen: nothing of it is stored.
    let repeat = event("je3", "form-1", &with_phone("j3", "+15125550133"));
    let newcomer = with_phone("j3", "+15125550133");
    assert_known(store, &repeat, &newcomer).await;

    // The email of a stored contact makes the contact known too.
    let mut emailed = with_phone("j4", "+15125550144");
    emailed.email = Some("ana@example.com".into());
    store.put_contact("j", &emailed).await.expect("put");
    let mut same_email = with_phone("j5", "+15125550155");
    same_email.email = Some("ana@example.com".into());
    assert_known(store, &event("je5", "form-5", &same_email), &same_email).await;
}

/// A first event for a contact the store knows, or an event it has seen, stores nothing.
async fn assert_known(store: &dyn Store, event: &StoredEvent, contact: &Contact) {
    let run = run_for("j", contact, at("2026-06-01T16:00:00Z"));
    let stored = store
        .record_first_event("j", event, contact, vec![(run.clone(), vec![])])
        .await
        .expect("first event");
    assert!(!stored, "{} is known: nothing is stored", contact.id);
    assert!(
        matches!(
            store.run("j", run.id).await,
            Err(StoreError::NotFound { .. })
        ),
        "no run was started for {}",
        contact.id
    );
    assert!(
        matches!(
            store.contact("j", &contact.id).await,
            Err(StoreError::NotFound { .. })
        ),
        "{} was not stored",
        contact.id
    );
}

pub(super) async fn changes_apply_to_the_latest_contact(store: &dyn Store) {
    let read = with_phone("k1", "+15125550166");
    store.put_contact("k", &read).await.expect("put");
    // Meanwhile the contact opts out and is tagged.
    let mut meanwhile = read.clone();
    meanwhile.sms_opt_out = true;
    meanwhile.tags.push("vip".into());
    store.put_contact("k", &meanwhile).await.expect("put");

    // A change made from the copy read before: a name, and an opt-out it does not have.
    let mut mine = read.clone();
    mine.first_name = Some("Ana".into());
    let change = ContactChange::between(&read, &mine);
    let stored = store
        .change_contact("k", "k1", &change)
        .await
        .expect("change");
    assert_eq!(stored, store.contact("k", "k1").await.expect("contact"));
    assert_eq!(
        (
            stored.first_name.as_deref(),
            stored.sms_opt_out,
            stored.tags
        ),
        (Some("Ana"), true, vec!["vip".to_owned()]),
        "the change is made, and what happened meanwhile is kept"
    );

    store
        .put_contact("k", &with_phone("k2", "+15125550167"))
        .await
        .expect("k2");
    let mut renumbered = read.clone();
    renumbered.phone = Some("+15125550167".into());
    let taken = store
        .change_contact("k", "k1", &ContactChange::between(&read, &renumbered))
        .await;
    assert!(matches!(taken, Err(StoreError::Exists { .. })), "{taken:?}");
    assert_eq!(
        store.contact("k", "k1").await.expect("k1").phone.as_deref(),
        Some("+15125550166"),
        "a refused change changes nothing"
    );
    assert!(matches!(
        store.change_contact("k", "nobody", &change).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        matches!(
            store.change_contact("j", "k1", &change).await,
            Err(StoreError::NotFound { .. })
        ),
        "another tenant's contact is not found"
    );
}

pub(super) async fn tenants_and_contacts(store: &dyn Store) {
    store.put_tenant(&tenant("a")).await.expect("put tenant");
    assert_eq!(
        store.tenant("a").await.expect("tenant a"),
        tenant("a"),
        "a tenant reads back as written"
    );
    let mut ana = contact("c1");
    store.put_contact("a", &ana).await.expect("put contact");
    ana.tags.push("vip".into());
    store.put_contact("a", &ana).await.expect("update contact");
    assert_eq!(
        store.contact("a", "c1").await.expect("contact"),
        ana,
        "a contact update replaces it"
    );
    assert!(
        matches!(store.tenant("zz").await, Err(StoreError::NotFound { .. })),
        "unknown tenant is NotFound"
    );
}
