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

#[test]
fn a_declared_field_is_stored_as_its_type_or_the_step_fails_naming_it() {
    use crate::audience::fields::FieldType;
    use crate::testing::{ana, plan_step_declaring};

    let declared = std::collections::BTreeMap::from([
        ("visits".to_owned(), FieldType::Number),
        ("member".to_owned(), FieldType::Boolean),
    ]);
    let step =
        json!({"update_contact": {"fields": {"visits": "1,250", "member": "yes", "note": "7"}}});
    let StepOutcome::Next(output) = plan_step_declaring(step, ana(), &declared).unwrap() else {
        panic!("not next")
    };
    assert_eq!(
        output["changed"]["fields"],
        json!({"visits": 1250, "member": true, "note": "7"}),
        "declared fields typed, an undeclared one left as text"
    );
    let step = json!({"update_contact": {"fields": {"visits": "{{contact.first_name}}"}}});
    let error = plan_step_declaring(step, ana(), &declared).unwrap_err();
    assert_eq!(error.field, "fields");
    assert!(
        error.message.contains("fields.visits: not a number"),
        "{error}"
    );
}
