//! The `stepwise` binary's validate and schema commands, run as a user would.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::process::Command;

fn stepwise(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("run stepwise");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn validate_reports_each_mistake_with_its_position_and_fails() {
    let (code, out, err) = stepwise(&["validate", "tests/fixtures/invalid/three-mistakes.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with(
        "tests/fixtures/invalid/three-mistakes.yaml:8:7: error: steps[0].send_sms.colour"
    ));
    assert!(lines[1].contains(
        ":10:13: error: steps[1].wait.for: \"15 minutes\" is not a duration (try \"15m\")"
    ));
    assert!(lines[2].contains(":12:5: error: steps[2].send_smss: unknown step kind or field `send_smss` (did you mean `send_sms`?)"));
}

#[test]
fn validate_accepts_the_examples_modules_and_packs() {
    let (code, out, err) = stepwise(&["validate", "docs/examples", "modules", "packs"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("0 errors"), "{err}");
}

#[test]
fn validate_json_prints_one_object_per_diagnostic() {
    let (code, out, _) = stepwise(&[
        "validate",
        "--json",
        "tests/fixtures/invalid/three-mistakes.yaml",
    ]);
    assert_eq!(code, 1);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["line"], 8);
    assert_eq!(first["column"], 7);
    assert_eq!(first["pointer"], "/steps/0/send_sms/colour");
    assert_eq!(first["severity"], "error");
}

#[test]
fn schema_prints_the_committed_flow_schema() {
    let (code, out, _) = stepwise(&["schema"]);
    assert_eq!(code, 0);
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schemas/flow.schema.json"
    ))
    .unwrap();
    assert_eq!(out, committed);
}
