//! `wait_for` subscribes to an event with a timeout.

use serde_json::json;

use crate::steps::StepOutcome;
use crate::testing::plan_step;

#[test]
fn waits_for_the_event_until_the_timeout() {
    let outcome = plan_step(json!({"wait_for": {"event": "appointment.booked", "timeout": "15m", "match": "incoming.data.ok"}})).unwrap();
    let StepOutcome::WaitFor {
        event,
        timeout_at,
        filtered,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(event, "appointment.booked");
    assert_eq!(
        timeout_at.map(|t| t.to_string()).as_deref(),
        Some("2026-06-01T15:15:00Z")
    );
    assert!(filtered);
}

#[test]
fn waits_until_a_computed_time() {
    let outcome =
        plan_step(json!({"wait_for": {"event": "message.received", "until": "now + days(2)"}}))
            .unwrap();
    let StepOutcome::WaitFor { timeout_at, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        timeout_at.map(|t| t.to_string()).as_deref(),
        Some("2026-06-03T15:00:00Z")
    );
    // A time already past times out at once.
    let past =
        plan_step(json!({"wait_for": {"event": "message.received", "until": "now - hours(1)"}}))
            .unwrap();
    let StepOutcome::WaitFor { timeout_at, .. } = past else {
        panic!("{past:?}")
    };
    assert_eq!(
        timeout_at.map(|t| t.to_string()).as_deref(),
        Some("2026-06-01T15:00:00Z")
    );
}

#[test]
fn waits_for_any_of_several_types() {
    let outcome = plan_step(
        json!({"wait_for": {"event": ["link.clicked", "message.received"], "timeout": "1h"}}),
    )
    .unwrap();
    let StepOutcome::WaitFor { event, or, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        (event.as_str(), or),
        ("link.clicked", vec!["message.received".to_owned()])
    );
    for (bad, expected) in [
        (json!([]), "wait for 1 to 8 event types"),
        (json!(["a.b", "a.b"]), "a.b is listed twice"),
        (json!(["a.b", "Bad"]), "dotted lowercase"),
    ] {
        let flow = json!({"id": "f", "trigger": {"event": "lead.created"},
            "steps": [{"wait_for": {"event": bad, "timeout": "1h"}}]})
        .to_string();
        let errors = crate::definition::load_flow("f.yaml", &flow, None).unwrap_err();
        assert!(
            errors.iter().any(|d| d.message.contains(expected)),
            "{expected}: {errors:?}"
        );
    }
}
