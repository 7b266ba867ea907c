//! Loader and validator tests: positions, every-error-at-once, the examples, schema freshness.

use std::path::PathBuf;

use super::*;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn errors(source: &str) -> Vec<Diagnostic> {
    validate("f.yaml", source)
        .diagnostics
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect()
}

#[test]
fn three_mistakes_give_three_diagnostics_with_positions() {
    let source =
        std::fs::read_to_string(repo("tests/fixtures/invalid/three-mistakes.yaml")).unwrap();
    let found: Vec<(u64, u64, String)> = errors(&source)
        .into_iter()
        .map(|d| (d.line, d.column, d.path))
        .collect();
    assert_eq!(
        found,
        [
            (8, 7, "steps[0].send_sms.colour".to_owned()),
            (10, 13, "steps[1].wait.for".to_owned()),
            (12, 5, "steps[2].send_smss".to_owned())
        ]
    );
}

#[test]
fn value_errors_do_not_hide_semantic_errors() {
    // A bad duration, a wrong type and an unknown top-level key (schema), next to rhai that
    // does not parse, a duplicate id, a reference to a later step and a template that does
    // not parse (semantic): all of them in one pass, each located.
    let source = "id: a
colour: blue
trigger: {event: lead.created, when: 'event.data.x =='}
steps:
  - id: pause
    wait: {for: 15 minutes}
  - id: hello
    send_sms: {body: 'Hi {{contact.first_name', to: 42}
  - id: pause
    if: 'steps.later.ok'
    then:
      - set: {a: '1 +'}
  - id: later
    notify: {text: '{{#if x}}never closed'}
";
    let found: Vec<(u64, String)> = errors(source)
        .into_iter()
        .map(|d| (d.line, d.path))
        .collect();
    let lines: Vec<u64> = found.iter().map(|(l, _)| *l).collect();
    for line in [2, 3, 6, 8, 9, 10, 12, 14] {
        assert!(lines.contains(&line), "nothing on line {line}: {found:?}");
    }
}

#[test]
fn a_misspelt_field_is_an_error_with_a_suggestion() {
    let d = errors(
        "id: a\ntrigger: {event: lead.created, when: 'contact.sms_opt_outt'}\nsteps:\n  - send_sms: {body: 'Hi {{contact.frist_name}} from {{tenant.name}} {{contact.fields.pet}} {{event.data.x}}'}\n",
    );
    let messages: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages.iter().any(|m| m
            .starts_with("contact.frist_name is not a contact field (did you mean `first_name`?)")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("did you mean `sms_opt_out`?")),
        "{messages:?}"
    );
}

#[test]
fn a_schedule_that_never_fires_is_an_error_that_does_not_repeat_it() {
    let d = errors(
        "id: a\ntrigger: {schedule: '0 9 30 2 *', audience: 'true'}\nsteps:\n  - set: {a: '1'}\n",
    );
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].path, "trigger.schedule");
    assert!(
        d[0].message.starts_with("the schedule never fires"),
        "{}",
        d[0].message
    );
    let d = errors(
        "id: a\ntrigger: {schedule: 'every day', audience: 'true'}\nsteps:\n  - set: {a: '1'}\n",
    );
    assert!(
        d[0].message.starts_with("not a cron schedule"),
        "{}",
        d[0].message
    );
    assert!(!d[0].message.contains("every day"), "{}", d[0].message);
}

#[test]
fn duration_mistakes_carry_a_hint() {
    let d = errors("id: a\ntrigger: {event: lead.created}\nsteps:\n  - wait: {for: 15 minutes}\n");
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].message,
        r#""15 minutes" is not a duration (try "15m")"#
    );
}

#[test]
fn every_example_and_module_validates() {
    let mut checked = 0;
    for dir in ["docs/examples", "modules", "packs"] {
        let mut stack = vec![repo(dir)];
        while let Some(path) = stack.pop() {
            // Scenario files are tests of a module (`stepwise test`), not documents.
            if path.is_dir() && !path.ends_with("scenarios") {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            } else if path.extension().is_some_and(|x| x == "yaml") {
                let source = std::fs::read_to_string(&path).unwrap();
                let report = validate(&path.display().to_string(), &source);
                assert!(
                    !report.has_errors(),
                    "{}: {:#?}",
                    path.display(),
                    report.diagnostics
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 3, "only {checked} documents found");
}

#[test]
fn semantic_errors_are_all_reported() {
    let source = r#"
id: sem
trigger: { event: lead.created, when: 'evnt.data.x == 1' }
steps:
  - id: a
    send_sms: { body: "Hi {{contact.first_name" }
  - id: a
    if: 'steps.later.ok'
    then:
      - stop: "done"
  - id: later
    wait_for: { event: appointment.booked, timeout: 1h }
    on_error: goto nowhere
"#;
    let messages: Vec<String> = errors(source)
        .into_iter()
        .map(|d| format!("{}: {}", d.path, d.message))
        .collect();
    assert_eq!(messages.len(), 5, "{messages:#?}");
    assert!(messages[0].starts_with("trigger.when: Undefined variable: evnt"));
    assert!(messages[1].starts_with("steps[0].send_sms.body: invalid template syntax"));
    assert!(messages[2].contains("duplicate step id `a`"));
    assert!(messages[3].contains("steps.later does not name an earlier step"));
    assert!(messages[4].contains("no step `nowhere`"));
}

#[test]
fn warnings_do_not_fail_validation() {
    let report = validate(
        "w.yaml",
        "id: w\ntrigger: {event: lead.created}\nquiet_hours: off\nsteps:\n  - wait_for: {event: a.b}\n  - stop: x\n  - stop: y\n",
    );
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    let warnings: Vec<&str> = report.diagnostics.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(warnings, ["quiet_hours", "steps[0].wait_for", "steps[2]"]);
}

#[test]
fn syntax_duplicates_and_types_are_reported_with_positions() {
    let d = errors("id: x\nid: y\n");
    assert_eq!((d[0].line, d[0].column), (2, 1));
    assert!(d[0].message.contains("duplicate"), "{}", d[0].message);
    let d = errors("id: x\ntrigger: {event: a.b}\nsteps:\n  - send_sms: {body: 5}\n");
    assert_eq!(d[0].path, "steps[0].send_sms.body");
    let d = errors("[1, 2]");
    assert!(d[0].message.contains("mapping"));
    let d =
        errors("id: x\ntrigger: {event: a.b}\nsteps:\n  - send_sms: {body: hi}\n    stop: done\n");
    assert!(
        d[0].message.contains("exactly one kind"),
        "{}",
        d[0].message
    );
}

#[test]
fn committed_schemas_are_fresh() {
    for kind in DocumentKind::ALL {
        let path = repo(&format!("schemas/{}.schema.json", kind.name()));
        let fresh = serde_json::to_string_pretty(&schema_of(kind)).unwrap() + "\n";
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &fresh).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is stale: run `cargo run -p stepwise-api -- schema --write schemas`",
            path.display()
        );
    }
}

#[test]
fn the_reference_documents_every_step_kind() {
    let reference = std::fs::read_to_string(repo("docs/flow-language.md")).unwrap();
    let mut kinds: Vec<&str> = crate::steps::registry::kinds()
        .iter()
        .map(|k| k.key())
        .collect();
    kinds.push("if");
    for key in kinds {
        assert!(
            reference.contains(&format!("\n### {key}\n")),
            "docs/flow-language.md has no section for `{key}`"
        );
    }
}

#[test]
fn module_flows_may_only_name_declared_config_and_templates() {
    let source = std::fs::read_to_string(repo("modules/speed-to-lead/module.yaml")).unwrap();
    let broken = source
        .replace(
            "suits you: {{track config.booking_link}}",
            "suits you: {{track config.bookin_link}}",
        )
        .replacen("{{templates.follow_up}}", "{{templates.folow_up}}", 1);
    let messages: Vec<String> = errors(&broken)
        .into_iter()
        .map(|d| format!("{}: {}", d.path, d.message))
        .collect();
    assert_eq!(
        messages,
        [
            "templates.first_reply: config.bookin_link is not declared in the module's config",
            "flow.steps[7].then[0].then[0].send_sms.body: templates.folow_up is not declared: declare it under the module's `templates`",
        ]
    );
}

/// A flow reading outputs of earlier steps: `{field}` is where a test puts the reference.
const READS_OUTPUTS: &str = "id: a
trigger: {event: lead.created}
steps:
  - id: first
    send_sms: {body: hi}
  - id: booked
    wait_for: {event: appointment.booked, timeout: 15m}
  - id: calc
    set: {score: '2'}
  - id: hot
    if: 'steps.booked.timed_out && steps.calc.score > 1 && steps.booked.event.data.x == 1'
    then:
      - notify: {text: '{{steps.first.message_id}} {{steps.first.error}} {{steps.hot.result}} {field}'}
";

#[test]
fn a_misspelt_step_output_is_an_error_with_a_suggestion() {
    let source = READS_OUTPUTS.replace("{field}", "{{steps.first.mesage_id}} {{steps.calc.scor}}");
    let messages: Vec<String> = errors(&source).into_iter().map(|d| d.message).collect();
    assert_eq!(
        messages,
        [
            "steps.first.mesage_id is not an output of `first` (did you mean `message_id`?); a send_sms step gives status, message_id, to, segments, sandbox, reason, error",
            "steps.calc.scor is not an output of `calc` (did you mean `score`?); a set step gives score, status, error",
        ]
    );
    // The outputs a step does have, open data below them (`event.data.x`) and method calls
    // pass.
    let fine = READS_OUTPUTS.replace("{field}", "{{steps.booked.received}}");
    assert_eq!(errors(&fine), []);
}

#[test]
fn versions_stored_before_the_output_check_still_compile() {
    let source = READS_OUTPUTS.replace("{field}", "{{steps.first.mesage_id}}");
    let stored = Setting {
        stored: true,
        ..Setting::default()
    };
    assert!(compile_flow("f.yaml", &source, stored).is_ok());
    assert!(compile_flow("f.yaml", &source, Setting::default()).is_err());
}

#[test]
fn for_each_is_checked_like_any_step() {
    let flow = |steps: &str| format!("id: f\ntrigger: {{event: lead.created}}\nsteps:\n{steps}");
    let good = flow(
        "  - id: each\n    for_each: '[1, 2]'\n    do:\n      - id: n\n        notify: {text: '{{steps.each.item}} of {{steps.each.count}}'}\n  - notify: {text: '{{steps.n.status}}'}\n",
    );
    assert_eq!(errors(&good), []);
    let messages = |source: String| -> Vec<String> {
        errors(&source).into_iter().map(|d| d.message).collect()
    };
    let typo = messages(flow(
        "  - id: each\n    for_each: '[1]'\n    do:\n      - notify: {text: '{{steps.each.itme}}'}\n",
    ));
    assert!(typo[0].contains("did you mean `item`?"), "{typo:?}");
    let empty = messages(flow("  - id: each\n    for_each: '[1]'\n    do: []\n"));
    assert!(empty[0].contains("needs the steps it repeats"), "{empty:?}");
    let unknown = messages(flow(
        "  - id: each\n    for_each: 'lenn([1])'\n    do:\n      - notify: {text: x}\n",
    ));
    assert!(unknown[0].contains("lenn"), "{unknown:?}");
    let into_loop = messages(flow(
        "  - id: a\n    notify: {text: x}\n    on_error: goto inside\n  - id: each\n    for_each: '[1]'\n    do:\n      - id: inside\n        notify: {text: y}\n",
    ));
    assert!(
        into_loop[0].contains("`inside` is inside the for_each `each`"),
        "{into_loop:?}"
    );
    let within = flow(
        "  - id: each\n    for_each: '[1]'\n    do:\n      - id: inside\n        notify: {text: y}\n      - id: b\n        notify: {text: z}\n        on_error: goto inside\n  - id: out\n    notify: {text: w}\n    on_error: goto each\n",
    );
    assert_eq!(errors(&within), []);
}
