//! `stepwise simulate <flow.yaml or module.yaml> --event <event.json> [...]`: the real executor on a virtual
//! clock with sandbox connectors; prints the timeline.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use jiff::{SignedDuration, Timestamp};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use stepwise_connectors::Sandbox;
use stepwise_engine::definition;
use stepwise_engine::error::EngineError;
use stepwise_engine::install::{Overrides, effective};
use stepwise_engine::model::{Contact, Event, FlowDuration, Tenant};
use stepwise_engine::runtime::{Injection, SimulationInput, render_text, simulate};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The flow to run.
    flow: PathBuf,
    /// The triggering event (JSON: {"type": "lead.created", "data": {...}}).
    #[arg(long)]
    event: PathBuf,
    /// The contact (JSON); default: Ana Lopez, +15125550100, ana@example.com.
    #[arg(long)]
    contact: Option<PathBuf>,
    /// The tenant (JSON: name, timezone, quiet_hours, snippets); default: a business in UTC.
    #[arg(long)]
    tenant: Option<PathBuf>,
    /// The flow's `config.*` values (JSON object).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Virtual start time, RFC 3339; default: now.
    #[arg(long)]
    start: Option<String>,
    /// Inject an event at an offset: "appointment.booked@+10m", optionally with data:
    /// 'message.received@+2h={"body":"yes"}'. Repeat for more.
    #[arg(long = "at", value_name = "TYPE@+OFFSET[=JSON]")]
    at: Vec<String>,
    /// Stop after this much virtual time (default 400d).
    #[arg(long, default_value = "400d")]
    horizon: String,
    /// Print JSON lines instead of text.
    #[arg(long)]
    json: bool,
}

fn read_json<T: DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a valid {what}", path.display()))
}

fn parse_injection(spec: &str) -> anyhow::Result<Injection> {
    let (event_type, rest) = spec.split_once('@').with_context(|| {
        format!("--at {spec}: write TYPE@+OFFSET, e.g. appointment.booked@+10m")
    })?;
    let (offset, data) = match rest.split_once('=') {
        Some((offset, data)) => (
            offset,
            serde_json::from_str(data)
                .with_context(|| format!("--at {spec}: the data is not JSON"))?,
        ),
        None => (rest, Value::Object(Default::default())),
    };
    let duration: FlowDuration = offset
        .trim_start_matches('+')
        .parse()
        .with_context(|| format!("--at {spec}"))?;
    let mut event = Event::new(event_type, data);
    event.source = "simulator".into();
    Ok(Injection {
        after: SignedDuration::from_secs(duration.approx_seconds()),
        event,
    })
}

/// A module's flow, config values (checked, defaults filled) and copy.
fn module_flow(name: &str, source: &str, config: Value) -> anyhow::Result<(String, Value, Value)> {
    let entry = stepwise_engine::catalog::read_module(name, source)?;
    let Value::Object(config) = config else {
        bail!("--config: the config values are a JSON object");
    };
    let given = Overrides {
        config,
        ..Overrides::default()
    };
    let values = match effective(&entry, None, &given) {
        Ok(values) => values,
        Err(EngineError::InvalidConfig(problems)) => {
            let lines: Vec<String> = problems
                .iter()
                .map(|p| {
                    format!(
                        "--config{}: {}",
                        p.pointer.trim_start_matches("/config"),
                        p.message
                    )
                })
                .collect();
            bail!("{}", lines.join("\n"));
        }
        Err(e) => return Err(e.into()),
    };
    let templates = serde_json::to_value(&values.templates)?;
    Ok((entry.flow_source, values.config, templates))
}

fn default_contact() -> Contact {
    Contact {
        id: "contact-1".into(),
        phone: Some("+15125550100".into()),
        email: Some("ana@example.com".into()),
        first_name: Some("Ana".into()),
        last_name: Some("Lopez".into()),
        ..Contact::default()
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let name = args.flow.display().to_string();
    let source =
        std::fs::read_to_string(&args.flow).with_context(|| format!("cannot read {name}"))?;
    let mut tenant: Tenant = match &args.tenant {
        Some(path) => read_json(path, "tenant")?,
        None => Tenant::default(),
    };
    if tenant.id.is_empty() {
        tenant.id = "tenant".into();
    }
    let config = match &args.config {
        Some(path) => read_json(path, "config")?,
        None => json!({}),
    };
    // A module file plays as its installation would: defaults filled, copy spliced in.
    let (source, config, templates) =
        if definition::validate(&name, &source).kind == definition::DocumentKind::Module {
            module_flow(&name, &source, config)?
        } else {
            (source, config, json!({}))
        };
    match definition::load_flow(&name, &source, Some(&tenant.snippets)) {
        Ok((_, warnings)) => {
            for w in warnings {
                eprintln!("{w}");
            }
        }
        Err(diagnostics) => {
            for d in diagnostics {
                println!("{d}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut event: Event = read_json(&args.event, "event")?;
    event.source = "simulator".into();
    let mut contact = match &args.contact {
        Some(path) => read_json(path, "contact")?,
        None => default_contact(),
    };
    if contact.id.is_empty() {
        contact.id = "contact-1".into();
    }
    let start = match &args.start {
        Some(text) => text.parse::<Timestamp>().with_context(|| {
            format!("--start {text}: write RFC 3339, e.g. 2026-11-23T09:00:00-06:00")
        })?,
        None => Timestamp::now().round(jiff::Unit::Second)?,
    };
    let injections = args
        .at
        .iter()
        .map(|s| parse_injection(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let horizon: FlowDuration = args.horizon.parse()?;
    if horizon.approx_seconds() <= 0 {
        bail!("--horizon must be positive");
    }
    let input = SimulationInput {
        source,
        event,
        contact,
        tenant,
        config,
        templates,
        start,
        injections,
        horizon: SignedDuration::from_secs(horizon.approx_seconds()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let simulation = runtime.block_on(simulate(input, Arc::new(Sandbox::new())))?;
    let text = if args.json {
        let lines: Vec<String> = simulation
            .entries
            .iter()
            .map(|e| e.to_json(simulation.start, &simulation.zone).to_string())
            .collect();
        lines.join("\n") + "\n"
    } else {
        render_text(&simulation.entries, simulation.start, &simulation.zone)
    };
    super::print(&text)?;
    Ok(ExitCode::SUCCESS)
}
