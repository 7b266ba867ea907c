//! Property test: mutated flow documents never panic the loader; they load or give
//! diagnostics with a position. CI runs 10,000 cases (PROPTEST_CASES raises it).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use proptest::prelude::*;
use stepwise_engine::definition::validate;

const SEEDS: [&str; 3] = [
    include_str!("../../docs/examples/speed-to-lead.yaml"),
    include_str!("../../docs/examples/appointment-reminder.yaml"),
    include_str!("../../docs/examples/drip.yaml"),
];

/// Fragments that stress the parser, the schema, rhai and handlebars.
const FRAGMENTS: [&str; 24] = [
    ":",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "\t",
    "'",
    "\"",
    "{{",
    "}}",
    "{{#if x}}",
    "&a",
    "*a",
    "!!binary ",
    "~",
    "while true { 1 }",
    "loop { }",
    "15 minutes",
    "\n  - stop: x\n",
    "steps.nope",
    "\u{1F600}",
    "<<: *a",
    "---\n",
];

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, usize),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Swap(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0..FRAGMENTS.len()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<usize>(), 1usize..20).prop_map(|(a, b)| Mutation::Delete(a, b)),
        (any::<usize>(), 1usize..40).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
    ]
}

fn apply(source: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = source.chars().collect();
    for m in mutations {
        let len = chars.len().max(1);
        match *m {
            Mutation::Insert(at, f) => {
                let at = at % len;
                chars.splice(at..at, FRAGMENTS[f].chars());
            }
            Mutation::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(chars.len());
                chars.drain(at.min(end)..end);
            }
            Mutation::Duplicate(at, n) => {
                let at = at % len;
                let end = (at + n).min(chars.len());
                let copy: Vec<char> = chars[at.min(end)..end].to_vec();
                chars.splice(at..at, copy);
            }
            Mutation::Swap(a, b) => {
                if !chars.is_empty() {
                    let (a, b) = (a % chars.len(), b % chars.len());
                    chars.swap(a, b);
                }
            }
        }
    }
    chars.into_iter().collect()
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_documents_never_panic(seed in 0..SEEDS.len(), mutations in proptest::collection::vec(mutation(), 1..6)) {
        let source = apply(SEEDS[seed], &mutations);
        let report = validate("mutant.yaml", &source);
        for d in &report.diagnostics {
            prop_assert!(d.line >= 1 && d.column >= 1, "no position: {d}");
            prop_assert!(!d.message.is_empty());
        }
    }
}
