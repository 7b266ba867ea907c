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
