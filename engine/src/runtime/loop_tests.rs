//! `for_each` on the simulator: one iteration per item with its own idempotency key (nested
//! loops too), outputs that do not leak from one iteration into the next, state that
//! survives a wait, and the bounds on the list (at most 100 items and 64 KiB, a list at all) with
//! `on_error: continue` going on past the loop rather than into it.

use std::sync::Arc;

use stepwise_core::Request;

use super::tests::run;
use crate::testing::RecordingConnector;

fn flow(steps: &str) -> String {
    format!("id: f\ntrigger: {{event: lead.created}}\nsteps:\n{steps}")
}

/// The texts of the notifications the run sent, and each call's key without the run id.
async fn texts_and_keys(steps: &str) -> (Vec<String>, Vec<String>, serde_json::Value) {
    let connector = Arc::new(RecordingConnector::default());
    let entries = run(&flow(steps), connector.clone(), vec![]).await;
    let texts = connector
        .calls()
        .into_iter()
        .filter_map(|call| match call {
            Request::Notify(n) => Some(n.text),
            _ => None,
        })
        .collect();
    let keys = connector
        .keys()
        .iter()
        .map(|k| k.split_once(':').unwrap().1.to_owned())
        .collect();
    (texts, keys, entries.last().cloned().unwrap_or_default())
}

#[tokio::test]
async fn each_item_runs_the_body_with_a_key_of_its_own() {
    let steps = "  - id: each\n    for_each: '[\"a\", \"b\", \"c\"]'\n    do:\n      - id: n\n        notify: {text: '{{steps.each.item}} {{steps.each.index}}/{{steps.each.count}} {{steps.each.last}}'}\n  - id: after\n    notify: {text: 'after {{steps.each.item}}'}\n";
    let (texts, keys, end) = texts_and_keys(steps).await;
    assert_eq!(
        texts,
        ["a 0/3 false", "b 1/3 false", "c 2/3 true", "after c"]
    );
    assert_eq!(keys, ["n.0:1", "n.1:1", "n.2:1", "after:1"]);
    assert_eq!(end["status"], "completed");
}

#[tokio::test]
async fn nested_loops_key_every_iteration_apart() {
    let steps = "  - id: outer\n    for_each: '[1, 2]'\n    do:\n      - id: inner\n        for_each: '[\"x\", \"y\"]'\n        do:\n          - id: n\n            notify: {text: '{{steps.outer.item}}{{steps.inner.item}}'}\n";
    let (texts, keys, _) = texts_and_keys(steps).await;
    assert_eq!(texts, ["1x", "1y", "2x", "2y"]);
    assert_eq!(keys, ["n.0.0:1", "n.0.1:1", "n.1.0:1", "n.1.1:1"]);
}

#[tokio::test]
async fn an_iteration_starts_without_the_last_ones_outputs() {
    // `marked` runs only for the first item; the second iteration must not see its output.
    let steps = "  - id: each\n    for_each: '[1, 2]'\n    do:\n      - id: first_only\n        if: 'steps.each.first'\n        then:\n          - id: marked\n            set: {seen: 'steps.each.item'}\n      - id: n\n        notify: {text: 'x'}\n      - id: report\n        set: {fresh: 'is_blank(steps.marked)'}\n      - id: say\n        notify: {text: '{{steps.each.item}} fresh={{vars.fresh}}'}\n";
    let (texts, _, _) = texts_and_keys(steps).await;
    assert_eq!(texts, ["x", "1 fresh=false", "x", "2 fresh=true"]);
}

#[tokio::test]
async fn a_loop_resumes_in_its_iteration_after_a_wait() {
    let steps = "  - id: each\n    for_each: '[\"a\", \"b\"]'\n    do:\n      - wait: {for: 2h}\n      - id: n\n        notify: {text: '{{steps.each.item}}'}\n";
    let connector = Arc::new(RecordingConnector::default());
    let entries = run(&flow(steps), connector.clone(), vec![]).await;
    let called: Vec<&str> = entries
        .iter()
        .filter(|e| e["kind"] == "called")
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    assert_eq!(called.len(), 2, "{entries:?}");
    let at = |i: usize| called[i].parse::<jiff::Timestamp>().unwrap();
    assert_eq!(at(1).duration_since(at(0)).as_hours(), 2, "{called:?}");
    assert_eq!(connector.keys().len(), 2);
}

#[tokio::test]
async fn an_empty_list_skips_the_body() {
    let steps = "  - id: each\n    for_each: '[]'\n    do:\n      - notify: {text: inside}\n  - notify: {text: 'after {{steps.each.count}}'}\n";
    let (texts, _, end) = texts_and_keys(steps).await;
    assert_eq!(texts, ["after 0"]);
    assert_eq!(end["status"], "completed");
}

#[tokio::test]
async fn more_than_a_hundred_items_fail_the_step() {
    let list = |n: usize| format!("[{}]", vec!["0"; n].join(", "));
    let steps = |n| {
        format!(
            "  - id: each\n    for_each: '{}'\n    do:\n      - notify: {{text: inside}}\n",
            list(n)
        )
    };
    let (texts, _, end) = texts_and_keys(&steps(100)).await;
    assert_eq!((texts.len(), &end["status"]), (100, &"completed".into()));
    let (texts, _, end) = texts_and_keys(&steps(101)).await;
    assert!(texts.is_empty());
    assert_eq!(end["status"], "failed");
    let reason = end["reason"].as_str().unwrap();
    assert!(
        reason.contains("for_each gave 101 items; a loop takes at most 100"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_value_that_is_no_list_fails_and_continue_goes_past_the_loop() {
    let steps = "  - id: each\n    for_each: 'event.data.message'\n    on_error: continue\n    do:\n      - notify: {text: inside}\n  - notify: {text: 'after: {{steps.each.error}}'}\n";
    let (texts, _, end) = texts_and_keys(steps).await;
    assert_eq!(texts, ["after: for_each gave a text, not a list"]);
    assert_eq!(end["status"], "completed");
}

#[tokio::test]
async fn each_iteration_is_in_the_timeline() {
    let steps =
        "  - id: each\n    for_each: '[\"a\", \"b\"]'\n    do:\n      - notify: {text: x}\n";
    let connector = Arc::new(RecordingConnector::default());
    let entries = run(&flow(steps), connector, vec![]).await;
    let iterations: Vec<(u64, u64, &str)> = entries
        .iter()
        .filter(|e| e["kind"] == "iteration")
        .map(|e| {
            let number = |key: &str| e[key].as_u64().unwrap();
            (
                number("index"),
                number("count"),
                e["item"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(iterations, [(0, 2, "a"), (1, 2, "b")], "{entries:?}");
}

#[tokio::test]
async fn a_list_past_64_kib_fails_the_step() {
    // Ten texts of 7,000 characters: few items, but 70 KB that every iteration would rewrite.
    let long = "x".repeat(7_000);
    let list = format!("[{}]", vec![format!("\"{long}\""); 10].join(", "));
    let steps = format!(
        "  - id: each\n    for_each: '{list}'\n    do:\n      - notify: {{text: inside}}\n"
    );
    let (texts, _, end) = texts_and_keys(&steps).await;
    assert!(texts.is_empty());
    let reason = end["reason"].as_str().unwrap();
    assert!(
        reason.contains("for_each gave a list of 69 KiB; a loop's list is at most 64 KiB"),
        "{reason}"
    );
}
