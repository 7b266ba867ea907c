//! `send_sms` plans a call with the rendered text and its segments.

use serde_json::json;

use crate::ports::Channel;
use crate::steps::StepOutcome;
use crate::testing::plan_step;

#[test]
fn renders_body_and_defaults_to_the_contacts_phone() {
    let outcome = plan_step(json!({"send_sms": {"body": "Hi {{contact.first_name}}!"}})).unwrap();
    let StepOutcome::Call(draft) = outcome else {
        panic!("expected a call, got {outcome:?}")
    };
    let message = draft.message.unwrap();
    assert_eq!(message.channel, Channel::Sms);
    assert_eq!(message.to, "+15125550100");
    assert_eq!(message.text, "Hi Ana!");
    assert_eq!(message.segments.map(|s| s.parts), Some(1));
    assert!(!draft.idempotent);
}

#[test]
fn a_missing_variable_fails_the_step() {
    let err = plan_step(json!({"send_sms": {"body": "Hi {{contact.last_name}}"}})).unwrap_err();
    assert_eq!(err.field, "body");
    assert!(err.message.contains("contact.last_name"));
}

#[test]
fn media_urls_are_rendered_and_must_be_https() {
    let outcome = plan_step(json!({"send_sms": {"body": "Your smile!", "media": ["https://cdn.example/{{contact.id}}.jpg"]}})).unwrap();
    let StepOutcome::Call(draft) = outcome else {
        panic!("expected a call, got {outcome:?}")
    };
    let crate::ports::Request::Sms(sms) = draft.request else {
        panic!("not an SMS")
    };
    assert_eq!(sms.media_urls, ["https://cdn.example/c1.jpg"]);
    let err =
        plan_step(json!({"send_sms": {"body": "x", "media": ["{{contact.email}}"]}})).unwrap_err();
    assert_eq!(err.field, "media/0");
}
