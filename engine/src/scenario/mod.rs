//! Scenarios: a module's (or a tenant's own flow's) behaviour written down as a test. A
//! scenario file (`modules/<id>/scenarios/*.yaml`) gives a tenant, a contact, the triggering
//! event and later events at offsets from a start time, and the expected outward timeline:
//! each message sent, call made, send suppressed or held by quiet hours, at which offset, from
//! which step, with which text; and how the run ends. [`run`] plays it on the simulator (the
//! real engine on a virtual clock with sandbox connectors) and answers every difference.
//!
//! A module's scenario also runs under every pack that installs the module: with the pack's
//! config and copy, the run must not fail and every message must render (the texts and
//! timing differ by design, so only that is checked).

mod expect;
mod model;

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Map, Value};

pub use expect::{Expected, Outward};
pub use model::ModelAnswer;

use crate::catalog::Catalog;
use crate::install::{Overrides, effective};
use crate::model::{Contact, Event, FlowDuration, Tenant};
use crate::ports::Connector;
use crate::runtime::{Injection, SimulationInput, simulate};

/// A scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What it shows, in one line.
    pub name: String,
    /// The module under test (default: the folder the `scenarios` folder is in).
    #[serde(default)]
    pub module: Option<String>,
    /// A flow file instead of a module (a tenant's own flow), relative to the scenario.
    #[serde(default)]
    pub flow: Option<String>,
    /// Run with this pack's config and copy for the module.
    #[serde(default)]
    pub pack: Option<String>,
    /// The tenant's config values.
    #[serde(default)]
    pub config: Map<String, Value>,
    /// The tenant's copy.
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
    /// The tenant (name, timezone, quiet_hours, …); default: "Demo Business" in UTC.
    #[serde(default)]
    pub tenant: Option<Value>,
    /// The contact; default: Ana Lopez, +15125550100, ana@example.com.
    #[serde(default)]
    pub contact: Option<Value>,
    /// The virtual start time (RFC 3339).
    pub start: Timestamp,
    /// The triggering event: `{type, data}`.
    pub event: Value,
    /// Later events: `{at: 20m, type, data}`.
    #[serde(default)]
    pub events: Vec<Later>,
    /// How long to play (default 60d).
    #[serde(default)]
    pub horizon: Option<FlowDuration>,
    /// What the language model answers the `llm` calls, in order (default: the sandbox's
    /// stand-in answer).
    #[serde(default)]
    pub model: Vec<ModelAnswer>,
    pub expect: Expected,
}

/// An event arriving later.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Later {
    pub at: Offset,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub data: Value,
}

/// Time after the start, written as the timeline writes it: `+1d5h30m`, `29h40m`, `15m`
/// (the `+` is optional; a day is 24 hours, as in the timeline's offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset(pub SignedDuration);

impl std::str::FromStr for Offset {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let fail = || format!("\"{text}\" is not an offset (write e.g. +15m, +1d5h30m)");
        let mut rest = text.strip_prefix('+').unwrap_or(text);
        if rest.is_empty() {
            return Err(fail());
        }
        let mut seconds: i64 = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (number, tail) = rest.split_at(digits);
            let amount: i64 = number.parse().map_err(|_| fail())?;
            let unit = match tail.chars().next() {
                Some('d') => 86_400,
                Some('h') => 3_600,
                Some('m') => 60,
                Some('s') => 1,
                _ => return Err(fail()),
            };
            seconds = amount
                .checked_mul(unit)
                .and_then(|s| seconds.checked_add(s))
                .filter(|s| *s <= 400 * 86_400)
                .ok_or_else(fail)?;
            rest = &tail[1..];
        }
        Ok(Self(SignedDuration::from_secs(seconds)))
    }
}

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for Offset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let start = Timestamp::UNIX_EPOCH;
        f.write_str(&crate::runtime::offset(start, start + self.0))
    }
}

/// What one play of a scenario found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The scenario's name, and the pack it was played under when not its own.
    pub name: String,
    /// Empty when it passed.
    pub failures: Vec<String>,
}

/// A scenario that cannot be played at all.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(pub String);

fn fail(message: impl Into<String>) -> ScenarioError {
    ScenarioError(message.into())
}

/// The flow a scenario plays: its source, config and copy.
struct Subject {
    source: String,
    config: Value,
    templates: Value,
}

/// Plays the scenario in `path` (its text `text`), and for a module's, once more under each
/// pack that installs the module.
pub async fn run(
    catalog: &Catalog,
    path: &std::path::Path,
    text: &str,
    connector: Arc<dyn Connector>,
) -> Result<Vec<Outcome>, ScenarioError> {
    let scenario: Scenario =
        serde_saphyr::from_str(text).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    if scenario.model.len() > model::MAX_ANSWERS {
        return Err(fail(format!(
            "{}: model: at most {} answers",
            path.display(),
            model::MAX_ANSWERS
        )));
    }
    for answer in &scenario.model {
        answer
            .check()
            .map_err(|e| fail(format!("{}: model: {e}", path.display())))?;
    }
    let module = scenario.module.clone().or_else(|| module_of(path));
    let mut outcomes = Vec::new();
    let subject = match (&scenario.flow, &module) {
        (Some(flow), _) => {
            let file = path.parent().unwrap_or(path).join(flow);
            let source = std::fs::read_to_string(&file)
                .map_err(|e| fail(format!("{}: {e}", file.display())))?;
            Subject {
                source,
                config: Value::Object(scenario.config.clone()),
                templates: serde_json::to_value(&scenario.templates).unwrap_or_default(),
            }
        }
        (None, Some(module)) => installed(catalog, module, scenario.pack.as_deref(), &scenario)?,
        (None, None) => return Err(fail("name the `module` or the `flow` it plays")),
    };
    let actual = play(&scenario, subject, connector.clone()).await?;
    outcomes.push(Outcome {
        name: scenario.name.clone(),
        failures: scenario.expect.differences(&actual),
    });
    if let (None, Some(module)) = (&scenario.flow, &module) {
        let packs: Vec<String> = catalog
            .packs()
            .filter(|p| p.modules.iter().any(|m| &m.module == module))
            .map(|p| p.id.clone())
            .filter(|id| scenario.pack.as_ref() != Some(id))
            .collect();
        for pack in packs {
            let subject = installed(catalog, module, Some(&pack), &scenario)?;
            let actual = play(&scenario, subject, connector.clone()).await?;
            outcomes.push(Outcome {
                name: format!("{} (with the {pack} pack)", scenario.name),
                failures: scenario.expect.runs_clean(&actual),
            });
        }
    }
    Ok(outcomes)
}

/// `modules/<id>/scenarios/x.yaml` → `<id>`.
fn module_of(path: &std::path::Path) -> Option<String> {
    let scenarios = path.parent()?;
    if scenarios.file_name()? != "scenarios" {
        return None;
    }
    Some(scenarios.parent()?.file_name()?.to_str()?.to_owned())
}

/// The module installed as the scenario's tenant would have it.
fn installed(
    catalog: &Catalog,
    module: &str,
    pack: Option<&str>,
    scenario: &Scenario,
) -> Result<Subject, ScenarioError> {
    let entry = catalog
        .module(module)
        .ok_or_else(|| fail(format!("no module `{module}` in the catalog")))?;
    let pack_overrides = match pack {
        None => None,
        Some(id) => {
            let pack = catalog
                .pack(id)
                .ok_or_else(|| fail(format!("no pack `{id}`")))?;
            let given = pack.modules.iter().find(|m| m.module == module);
            let given = given.ok_or_else(|| fail(format!("the pack {id} has no {module}")))?;
            Some(Overrides {
                config: given.config.clone().into_iter().collect(),
                templates: given.templates.clone(),
            })
        }
    };
    let tenant = Overrides {
        config: scenario.config.clone(),
        templates: scenario.templates.clone(),
    };
    let values = effective(entry, pack_overrides.as_ref(), &tenant).map_err(|e| match e {
        crate::error::EngineError::InvalidConfig(problems) => fail(
            problems
                .iter()
                .map(|p| format!("{}: {}", p.pointer, p.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => fail(other.to_string()),
    })?;
    Ok(Subject {
        source: entry.flow_source.clone(),
        config: values.config,
        templates: serde_json::to_value(&values.templates).unwrap_or_default(),
    })
}

async fn play(
    scenario: &Scenario,
    subject: Subject,
    connector: Arc<dyn Connector>,
) -> Result<Vec<Outward>, ScenarioError> {
    let mut tenant: Tenant = match &scenario.tenant {
        Some(t) => serde_json::from_value(t.clone()).map_err(|e| fail(format!("tenant: {e}")))?,
        None => Tenant::default(),
    };
    if tenant.id.is_empty() {
        tenant.id = "tenant".into();
    }
    let mut contact: Contact = match &scenario.contact {
        Some(c) => serde_json::from_value(c.clone()).map_err(|e| fail(format!("contact: {e}")))?,
        None => Contact {
            phone: Some("+15125550100".into()),
            email: Some("ana@example.com".into()),
            first_name: Some("Ana".into()),
            last_name: Some("Lopez".into()),
            ..Contact::default()
        },
    };
    if contact.id.is_empty() {
        contact.id = "contact-1".into();
    }
    let mut event: Event =
        serde_json::from_value(scenario.event.clone()).map_err(|e| fail(format!("event: {e}")))?;
    event.source = "scenario".into();
    let injections = scenario
        .events
        .iter()
        .map(|later| {
            let mut event = Event::new(&later.event_type, later.data.clone());
            event.source = "scenario".into();
            Injection {
                after: later.at.0,
                event,
            }
        })
        .collect();
    let horizon = scenario
        .horizon
        .as_ref()
        .map_or(60 * 86_400, FlowDuration::approx_seconds);
    let input = SimulationInput {
        source: subject.source,
        event,
        contact,
        tenant,
        config: subject.config,
        templates: subject.templates,
        start: scenario.start,
        injections,
        horizon: SignedDuration::from_secs(horizon),
    };
    // Each play hears the model's answers from the first.
    let connector = Arc::new(model::ScriptedModel::new(connector, &scenario.model));
    let simulation = simulate(input, connector).await.map_err(|e| match e {
        crate::error::EngineError::InvalidDefinition(diagnostics) => fail(
            diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        other => fail(other.to_string()),
    })?;
    Ok(expect::outward(&simulation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_read_as_the_timeline_writes_them() {
        let secs = |t: &str| t.parse::<Offset>().map(|o| o.0.as_secs());
        assert_eq!(secs("+1d5h30m"), Ok(86_400 + 5 * 3_600 + 30 * 60));
        assert_eq!(secs("29h40m"), Ok(29 * 3_600 + 40 * 60));
        assert_eq!(secs("+0s"), Ok(0));
        assert!(secs("").is_err() && secs("5").is_err() && secs("2w").is_err());
        assert_eq!(
            Offset(SignedDuration::from_secs(93_600)).to_string(),
            "+1d2h"
        );
    }

    #[test]
    fn expected_failures_are_matched_in_order_and_others_are_differences() {
        let expected: Expected = serde_json::from_value(
            serde_json::json!({"ends": "completed", "errors": ["answer_mismatch"]}),
        )
        .unwrap();
        let ended = Outward::Ended("completed".into());
        let failed = |e: &str| Outward::Error(e.into());
        let mismatch = failed("the model's answer does not match (code answer_mismatch)");
        assert!(
            expected
                .differences(&[mismatch.clone(), ended.clone()])
                .is_empty()
        );
        let missing = expected.differences(std::slice::from_ref(&ended));
        assert_eq!(missing, ["no action failed with \"answer_mismatch\""]);
        let other = expected.differences(&[failed("timeout (code 504)"), ended.clone()]);
        assert_eq!(other.len(), 1, "{other:?}");
        assert!(other[0].contains("expected a failure with"), "{other:?}");
        assert!(expected.runs_clean(&[mismatch, ended]).is_empty());
    }
}
