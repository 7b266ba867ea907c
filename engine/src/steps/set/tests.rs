//! `set` evaluates each expression into `vars`.

use serde_json::json;

use crate::steps::StepOutcome;
use crate::testing::plan_step;

#[test]
fn computes_values() {
    let outcome =
        plan_step(json!({"set": {"greeting": "\"Hi \" + contact.first_name", "n": "40 + 2"}}))
            .unwrap();
    assert_eq!(
        outcome,
        StepOutcome::Next(json!({"greeting": "Hi Ana", "n": 42}))
    );
}

#[test]
fn a_value_may_not_read_a_sibling_set_by_the_same_step() {
    let flow =
        "id: f\ntrigger: {event: lead.created}\nsteps:\n  - set: {total: 'vars.a + 1', a: '1'}\n";
    let errors = crate::definition::load_flow("f.yaml", flow, None).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .message
            .starts_with("vars.a is set by this same step"),
        "{}",
        errors[0].message
    );
    // A later step reads it.
    let split = "id: f\ntrigger: {event: lead.created}\nsteps:\n  - set: {a: '1'}\n  - set: {total: 'vars.a + 1'}\n";
    assert!(crate::definition::load_flow("f.yaml", split, None).is_ok());
}

#[test]
fn a_version_stored_before_the_rule_still_compiles() {
    let flow = "id: f\ntrigger: {event: lead.created}\nsteps:\n  - set: {total: 'vars.a + 1', a: '1'}\n  - notify: {text: '{{log \"x\"}}hi'}\n";
    let stored = crate::definition::Setting {
        stored: true,
        ..crate::definition::Setting::default()
    };
    assert!(crate::definition::compile_flow("f.yaml", flow, stored).is_ok());
    assert!(crate::definition::load_flow("f.yaml", flow, None).is_err());
}
