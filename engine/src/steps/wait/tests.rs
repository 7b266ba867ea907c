//! `wait` sleeps for calendar days in the contact's zone, or until a computed time.

use serde_json::json;

use crate::steps::StepOutcome;
use crate::testing::plan_step;

fn until(outcome: StepOutcome) -> String {
    match outcome {
        StepOutcome::Sleep { until, .. } => until.to_string(),
        other => panic!("expected a sleep, got {other:?}"),
    }
}

#[test]
fn for_hours_is_exact() {
    // The test clock is 2026-06-01T15:00:00Z.
    assert_eq!(
        until(plan_step(json!({"wait": {"for": "36h"}})).unwrap()),
        "2026-06-03T03:00:00Z"
    );
}

#[test]
fn until_an_expression_in_the_future_sleeps_and_in_the_past_continues_or_stops() {
    let future = plan_step(json!({"wait": {"until": "now + minutes(30)"}})).unwrap();
    assert_eq!(until(future), "2026-06-01T15:30:00Z");
    let past = plan_step(json!({"wait": {"until": "now - minutes(30)"}})).unwrap();
    assert_eq!(
        past,
        StepOutcome::Next(json!({"until": "2026-06-01T14:30:00Z", "past": true}))
    );
    let stop =
        plan_step(json!({"wait": {"until": "now - minutes(30)", "if_past": "stop"}})).unwrap();
    assert!(matches!(stop, StepOutcome::Stop(_)), "{stop:?}");
}

#[test]
fn until_must_give_a_time() {
    let err = plan_step(json!({"wait": {"until": "42"}})).unwrap_err();
    assert_eq!(err.field, "until");
    assert!(err.message.contains("not a time"), "{}", err.message);
}

#[test]
fn a_far_future_wait_says_what_is_wrong() {
    let err = plan_step(json!({"wait": {"until": "time(\"9026-06-01T15:00:00Z\")"}})).unwrap_err();
    assert_eq!(err.field, "until");
    assert!(
        err.message
            .contains("more than 1826 days (5 years) from now"),
        "{}",
        err.message
    );
    // A duration that long is refused when the flow is validated.
    let doc = "id: a\ntrigger: {event: lead.created}\nsteps:\n  - wait: {for: 999999d}\n";
    let report = crate::definition::validate("f.yaml", doc);
    assert!(
        report
            .diagnostics
            .iter()
            .any(|d| d.message.contains("5 years")),
        "{:?}",
        report.diagnostics
    );
}
