//! The outbox: a send recorded in a run's history is also a message, with the provider's id
//! and status `sent`, listed per run and never to another tenant.

use super::{new_run, record};
use crate::ports::{Store, StoreError, Transition};
use crate::runtime::Happening;

pub(super) async fn sends_are_in_the_outbox(store: &dyn Store) {
    let run = new_run("a");
    store.create_run("a", &run, &[]).await.expect("create");
    let mut next = run.clone();
    next.seq = 1;
    let mut sent = record(Happening::Sent {
        channel: "sms".into(),
        to: "+15125550100".into(),
        from: None,
        subject: None,
        text: "Hi Ana".into(),
        segments: Some(1),
        encoding: Some("GSM-7".into()),
        provider_id: Some("SM123".into()),
        status: None,
        iteration: None,
    });
    sent.step = Some("first_reply".into());
    sent.attempt = 1;
    let not_a_send = record(Happening::Condition {
        expression: "true".into(),
        result: true,
    });
    store
        .apply(
            "a",
            Transition {
                expected_seq: 0,
                run: next,
                records: vec![not_a_send, sent],
                contact: None,
                audit: None,
            },
        )
        .await
        .expect("apply");
    let messages = store.messages("a", run.id).await.expect("messages");
    assert_eq!(messages.len(), 1, "one send, one message: {messages:?}");
    let message = &messages[0];
    assert_eq!(message.id, format!("{}:first_reply:1", run.id));
    assert_eq!(
        (
            message.channel.as_str(),
            message.to.as_str(),
            message.text.as_str()
        ),
        ("sms", "+15125550100", "Hi Ana")
    );
    assert_eq!(message.provider_id.as_deref(), Some("SM123"));
    assert_eq!(message.status, "sent");
    assert!(
        matches!(
            store.messages("b", run.id).await,
            Err(StoreError::NotFound { .. })
        ),
        "another tenant's run has no messages to show"
    );
}
