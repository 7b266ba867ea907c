//! The suppression list as every store keeps it: an opt-out, however it was stored, outlives
//! the contact that made it, in that tenant only.

use serde_json::json;

use super::{at, new_run, record};
use crate::model::{Contact, ContactChange, Event, Run};
use crate::ports::{EventContact, Store, StoredEvent, Transition};
use crate::runtime::Happening;

fn person(id: &str, phone: &str, email: &str) -> Contact {
    Contact {
        id: id.into(),
        phone: Some(phone.into()),
        email: Some(email.into()),
        ..Contact::default()
    }
}

/// Gives `id` a new phone and email, so that its old ones belong to nobody.
async fn renumber(store: &dyn Store, tenant: &str, id: &str, phone: &str, email: &str) {
    let before = store.contact(tenant, id).await.expect("contact");
    let after = Contact {
        phone: Some(phone.into()),
        email: Some(email.into()),
        ..before.clone()
    };
    store
        .change_contact(tenant, id, &ContactChange::between(&before, &after))
        .await
        .expect("renumber");
}

/// Whether a new contact with this phone and email reads as opted out of SMS and of email.
async fn newcomer_opt_outs(
    store: &dyn Store,
    tenant: &str,
    id: &str,
    phone: &str,
    email: &str,
) -> (bool, bool) {
    store
        .put_contact(tenant, &person(id, phone, email))
        .await
        .expect("newcomer");
    let read = store.contact(tenant, id).await.expect("read");
    (read.sms_opt_out, read.email_opt_out)
}

pub(super) async fn opt_outs_outlive_their_contacts(store: &dyn Store) {
    // Opted out when stored.
    let ana = Contact {
        sms_opt_out: true,
        email_opt_out: true,
        ..person("s1", "+15125550301", "ana@example.com")
    };
    store.put_contact("s", &ana).await.expect("ana");
    renumber(store, "s", "s1", "+15125550302", "ana@new.example.com").await;
    assert_eq!(
        newcomer_opt_outs(store, "s", "s2", "+15125550301", "ana@example.com").await,
        (true, true),
        "a new contact with an opted-out phone and email reads as opted out of both"
    );
    assert_eq!(
        newcomer_opt_outs(store, "t", "s2", "+15125550301", "ana@example.com").await,
        (false, false),
        "another tenant's list does not apply"
    );

    // Opted out by a run's step.
    let bo = person("s3", "+15125550303", "bo@example.com");
    store.put_contact("s", &bo).await.expect("bo");
    let run = Run {
        contact_id: "s3".into(),
        ..new_run("s")
    };
    let started = record(Happening::Started {
        flow: "f".into(),
        version: 1,
        trigger: "lead.created".into(),
    });
    store.create_run("s", &run, &[started]).await.expect("run");
    let opted_out = Contact {
        sms_opt_out: true,
        ..bo.clone()
    };
    let mut next = run.clone();
    next.seq = 1;
    store
        .apply(
            "s",
            Transition {
                expected_seq: 0,
                run: next,
                records: Vec::new(),
                contact: Some(ContactChange::between(&bo, &opted_out)),
                audit: None,
            },
        )
        .await
        .expect("opt out");
    renumber(store, "s", "s3", "+15125550304", "bo@new.example.com").await;
    assert_eq!(
        newcomer_opt_outs(store, "s", "s4", "+15125550303", "bo@example.com").await,
        (true, false),
        "a run's SMS opt-out stays with the number"
    );

    // Opted out in an event's inline contact.
    let cy = Contact {
        sms_opt_out: true,
        ..person("s5", "+15125550305", "cy@example.com")
    };
    let event = StoredEvent {
        id: "se1".into(),
        event: Event::new("lead.created", json!({})),
        contact_id: Some("s5".into()),
        received_at: at("2026-06-01T15:00:00Z"),
    };
    store
        .record_event("s", &event, Some(EventContact::New(&cy)))
        .await
        .expect("event");
    renumber(store, "s", "s5", "+15125550306", "cy@new.example.com").await;
    let dee = person("s6", "+15125550305", "dee@example.com");
    store.put_contact("s", &dee).await.expect("dee");
    let dee_run = Run {
        contact_id: "s6".into(),
        ..new_run("s")
    };
    store.create_run("s", &dee_run, &[]).await.expect("run");
    let (_, read) = store
        .run_and_contact("s", dee_run.id)
        .await
        .expect("run and contact");
    assert!(
        read.sms_opt_out,
        "the read before each advance sees the list"
    );
    let page = store.contacts("s", Some("s5"), 10).await.expect("page");
    assert!(
        page.iter().any(|c| c.id == "s6" && c.sms_opt_out),
        "pages of contacts see the list: {page:?}"
    );
    let changed = store
        .change_contact("s", "s6", &ContactChange::default())
        .await
        .expect("change");
    assert!(
        changed.sms_opt_out,
        "a change answers the contact as reads do"
    );

    // Opted out in the first event of a new contact.
    let ed = Contact {
        email_opt_out: true,
        ..person("s7", "+15125550307", "ed@example.com")
    };
    let mut first = StoredEvent {
        id: "se2".into(),
        contact_id: Some("s7".into()),
        ..event
    };
    first.event.external_id = Some("first-of-s7".into());
    assert!(
        store
            .record_first_event("s", &first, &ed, Vec::new())
            .await
            .expect("first event"),
        "a new contact's first event is stored"
    );
    renumber(store, "s", "s7", "+15125550308", "ed@new.example.com").await;
    assert_eq!(
        newcomer_opt_outs(store, "s", "s8", "+15125550309", "ed@example.com").await,
        (false, true),
        "a first event's email opt-out stays with the address"
    );

    // A contact not stored yet is seen with the list too (a trigger's `when` reads it so),
    // and only with its own tenant's list.
    let view = |tenant: &'static str, phone: &'static str, email: &'static str| async move {
        let c = store
            .with_suppressions(tenant, person("s9", phone, email))
            .await
            .expect("with suppressions");
        (c.sms_opt_out, c.email_opt_out)
    };
    assert_eq!(
        view("s", "+15125550305", "ed@example.com").await,
        (true, true)
    );
    assert_eq!(
        view("s", "+15125550399", "s9@example.com").await,
        (false, false)
    );
    assert_eq!(
        view("other", "+15125550305", "ed@example.com").await,
        (false, false)
    );
}
