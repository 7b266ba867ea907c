//! `update_contact` renders its fields; opt-outs can only be set.

use serde_json::json;

use crate::steps::StepOutcome;
use crate::testing::plan_step;

#[test]
fn renders_fields() {
    let outcome = plan_step(json!({"update_contact": {"last_name": "{{contact.first_name}}son", "fields": {"source": "web"}}})).unwrap();
    let StepOutcome::Next(output) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(output["changed"]["last_name"], "Anason");
    assert_eq!(output["changed"]["fields"]["source"], "web");
}

#[test]
fn opting_back_in_is_not_something_a_flow_can_do() {
    let err = crate::definition::validate(
        "f.yaml",
        "id: f\ntrigger: {event: a.b}\nsteps:\n  - update_contact: {sms_opt_out: false}\n",
    );
    assert!(err.has_errors(), "{:?}", err.diagnostics);
}
