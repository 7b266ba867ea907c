//! Every module's scenarios pass through `stepwise test` (each also under every pack that
//! installs the module), and a scenario that does not match fails with a readable diff.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `stepwise test <args>` in `dir`: whether it succeeded, and what it printed.
fn stepwise_test(dir: &Path, args: &[&str]) -> (bool, String) {
    let args: Vec<&str> = std::iter::once("test")
        .chain(args.iter().copied())
        .collect();
    common::run_binary(dir, &args)
}

#[test]
fn every_module_scenario_passes_under_every_pack() {
    let files = std::fs::read_dir(repo().join("modules"))
        .unwrap()
        .filter_map(|m| std::fs::read_dir(m.ok()?.path().join("scenarios")).ok())
        .flatten()
        .count();
    assert!(files >= 2, "only {files} scenario files");
    let (ok, text) = stepwise_test(&repo(), &["modules"]);
    assert!(ok, "{text}");
    let passed: usize = text
        .lines()
        .last()
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        passed > files,
        "each scenario ran, and again under its packs: {text}"
    );
}

#[test]
fn a_scenario_that_does_not_match_fails_with_a_diff() {
    let dir = std::env::temp_dir().join(format!("stepwise-scenarios-{}", std::process::id()));
    let scenarios = dir.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    let scenario = "module: speed-to-lead
name: the wrong copy
config: { booking_link: \"https://example.com/book\" }
start: 2026-03-02T16:00:00Z
event: { type: lead.created, data: { message: hello } }
expect:
  ends: completed
  timeline:
    - { at: +0s, kind: sms, text: \"Howdy\" }
";
    std::fs::write(scenarios.join("wrong.yaml"), scenario).unwrap();
    let (ok, text) = stepwise_test(&dir, &["scenarios"]);
    assert!(!ok, "{text}");
    assert!(text.contains("  - ") && text.contains("Howdy"), "{text}");
    assert!(
        text.contains("  + ") && text.contains("thanks for contacting"),
        "{text}"
    );
    assert!(text.contains("+15m"), "the nudge is shown too: {text}");

    let (ok, text) = stepwise_test(&dir, &["no-such-dir-has-scenarios"]);
    assert!(!ok, "a run that finds nothing fails: {text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
