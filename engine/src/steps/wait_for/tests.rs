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
