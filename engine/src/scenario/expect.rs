//! What a scenario expects, what a play did, and the differences, written for people.

use serde::Deserialize;

use crate::runtime::{Happening, Simulation};
use crate::runtime::{TimelineWhat as Entry, offset};

/// The expected outcome of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// How the run ends: `completed`, `cancelled`, `failed`, `waiting` (still waiting at
    /// the horizon), or `not_started` (the trigger, `when` or audience did not take the
    /// contact).
    pub ends: String,
    /// Everything that reaches outside, in order: messages, calls, suppressed sends and
    /// sends held by quiet hours.
    #[serde(default)]
    pub timeline: Vec<ExpectedEntry>,
    /// The actions expected to fail, in order, each as part of its error (`answer_mismatch`).
    /// Any other failure is a difference, unless the run `ends: failed` and none is listed.
    #[serde(default)]
    pub errors: Vec<String>,
}

/// One expected entry; `text` is compared whole, `contains` in part.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedEntry {
    /// Offset from the start, as the timeline writes it: `+0s`, `+15m`, `+1d2h`.
    pub at: String,
    #[serde(default)]
    pub step: Option<String>,
    /// `sms`, `email`, a connector (`notify`, `http`, `crm`, `calendar`, `llm`),
    /// `suppressed` or `held`.
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub contains: Option<String>,
}

/// What a play did: its outward entries and how its runs ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outward {
    Entry {
        at: String,
        step: String,
        kind: String,
        text: String,
    },
    Ended(String),
    /// An action failed, handled or not.
    Error(String),
}

/// The outward entries of a simulation.
pub fn outward(simulation: &Simulation) -> Vec<Outward> {
    let mut out = Vec::new();
    let started = simulation
        .entries
        .iter()
        .any(|e| matches!(&e.what, Entry::Record(Happening::Started { .. })));
    if !started {
        out.push(Outward::Ended("not_started".into()));
    }
    for entry in &simulation.entries {
        let Entry::Record(what) = &entry.what else {
            continue;
        };
        let at = offset(simulation.start, entry.at);
        let step = entry.step.clone().unwrap_or_default();
        let (kind, text) = match what {
            Happening::Sent { channel, text, .. } => (channel.clone(), text.clone()),
            Happening::Called {
                connector, request, ..
            } => {
                let text = request
                    .get("text")
                    .and_then(|t| t.as_str())
                    .map_or_else(|| request.to_string(), str::to_owned);
                (connector.clone(), text)
            }
            Happening::Suppressed { reason, .. } => ("suppressed".to_owned(), reason.clone()),
            Happening::QuietHold { reason, .. } => ("held".to_owned(), reason.clone()),
            Happening::Ended { status, reason } => {
                out.push(Outward::Ended(status.clone()));
                if status == "failed" {
                    out.push(Outward::Error(reason.clone()));
                }
                continue;
            }
            Happening::ErrorHandled { error, .. } | Happening::Uncertain { error } => {
                out.push(Outward::Error(error.clone()));
                continue;
            }
            _ => continue,
        };
        out.push(Outward::Entry {
            at,
            step,
            kind,
            text,
        });
    }
    out
}

fn ends(actual: &[Outward]) -> String {
    actual
        .iter()
        .rev()
        .find_map(|o| match o {
            Outward::Ended(status) => Some(status.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "waiting".to_owned())
}

fn line(at: &str, step: &str, kind: &str, text: &str) -> String {
    format!("{at:>8}  {step:<16} {kind:<10} {text}")
}

impl ExpectedEntry {
    fn matches(&self, at: &str, step: &str, kind: &str, text: &str) -> bool {
        self.at == at
            && self.kind == kind
            && self.step.as_deref().is_none_or(|s| s == step)
            && self.text.as_deref().is_none_or(|t| t == text)
            && self.contains.as_deref().is_none_or(|c| text.contains(c))
    }

    fn describe(&self) -> String {
        let text = match (&self.text, &self.contains) {
            (Some(t), _) => t.clone(),
            (None, Some(c)) => format!("…{c}…"),
            (None, None) => String::new(),
        };
        line(
            &self.at,
            self.step.as_deref().unwrap_or("*"),
            &self.kind,
            &text,
        )
    }
}

impl Expected {
    /// Every way `actual` differs from what is expected; empty when it matches.
    pub fn differences(&self, actual: &[Outward]) -> Vec<String> {
        let mut problems = Vec::new();
        let entries: Vec<(&str, &str, &str, &str)> = actual
            .iter()
            .filter_map(|o| match o {
                Outward::Entry {
                    at,
                    step,
                    kind,
                    text,
                } => Some((at.as_str(), step.as_str(), kind.as_str(), text.as_str())),
                _ => None,
            })
            .collect();
        let same = entries.len() == self.timeline.len()
            && self
                .timeline
                .iter()
                .zip(&entries)
                .all(|(e, (at, step, kind, text))| e.matches(at, step, kind, text));
        if !same {
            let mut diff = String::from("the timeline differs:\n");
            let longest = entries.len().max(self.timeline.len());
            for i in 0..longest {
                let expected = self.timeline.get(i);
                let got = entries.get(i);
                let ok = matches!((expected, got), (Some(e), Some((a, s, k, t))) if e.matches(a, s, k, t));
                if ok {
                    if let Some((a, s, k, t)) = got {
                        diff.push_str(&format!("    {}\n", line(a, s, k, t)));
                    }
                    continue;
                }
                if let Some(e) = expected {
                    diff.push_str(&format!("  - {}\n", e.describe()));
                }
                if let Some((a, s, k, t)) = got {
                    diff.push_str(&format!("  + {}\n", line(a, s, k, t)));
                }
            }
            diff.push_str("  (- expected, + actual)");
            problems.push(diff);
        }
        let ended = ends(actual);
        if ended != self.ends {
            problems.push(format!("the run ends {ended}, expected {}", self.ends));
        }
        if self.ends != "failed" || !self.errors.is_empty() {
            let failed = errors(actual);
            for (i, e) in failed.iter().enumerate() {
                match self.errors.get(i) {
                    Some(expected) if e.contains(expected.as_str()) => {}
                    Some(expected) => problems.push(format!(
                        "an action failed: {e}, expected a failure with \"{expected}\""
                    )),
                    None => problems.push(format!("an action failed: {e}")),
                }
            }
            for expected in self.errors.iter().skip(failed.len()) {
                problems.push(format!("no action failed with \"{expected}\""));
            }
        }
        problems
    }

    /// A play under another pack's config and copy: it must not fail, but as expected.
    pub fn runs_clean(&self, actual: &[Outward]) -> Vec<String> {
        errors(actual)
            .into_iter()
            .filter(|e| !self.errors.iter().any(|x| e.contains(x.as_str())))
            .map(|e| format!("an action failed: {e}"))
            .collect()
    }
}

fn errors(actual: &[Outward]) -> Vec<&str> {
    actual
        .iter()
        .filter_map(|o| match o {
            Outward::Error(e) => Some(e.as_str()),
            _ => None,
        })
        .collect()
}
