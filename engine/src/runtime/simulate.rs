//! The simulator: the real engine on a memory store, a memory queue and a virtual clock.
//! Waits take no time: when nothing is due, the clock jumps to the next due task or injected
//! event. Connectors are whatever the caller passes (the sandbox, from the CLI).

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::engine::Engine;
use super::timeline::TimelineEntry;
use crate::error::EngineError;
use crate::model::{Contact, Event, Tenant};
use crate::ports::{Clock, Connector, FlowDocument, Store, VirtualClock};
use crate::queue::MemoryQueue;
use crate::store::MemoryStore;

/// The most queue tasks (run advances) one simulation performs.
pub const MAX_SIMULATED_ADVANCES: usize = 2_000;

/// The most step records (timeline entries) one simulation keeps: this bounds its memory.
pub const MAX_SIMULATED_RECORDS: usize = 10_000;

/// The longest one simulation may run on the wall clock.
pub const MAX_SIMULATION_TIME: Duration = Duration::from_secs(10);

/// An event injected at an offset from the start.
#[derive(Debug, Clone)]
pub struct Injection {
    pub after: SignedDuration,
    pub event: Event,
}

/// Everything a simulation needs.
#[derive(Debug)]
pub struct SimulationInput {
    /// The flow's YAML (or JSON).
    pub source: String,
    pub event: Event,
    pub contact: Contact,
    pub tenant: Tenant,
    pub config: Value,
    pub templates: Value,
    pub start: Timestamp,
    pub injections: Vec<Injection>,
    /// Stop simulating this long after the start.
    pub horizon: SignedDuration,
}

/// The result: the timeline of every run, in order.
#[derive(Debug)]
pub struct Simulation {
    pub start: Timestamp,
    pub zone: jiff::tz::TimeZone,
    pub entries: Vec<TimelineEntry>,
}

/// Runs a simulation to the end of every run, or to the horizon. It stops with
/// [`EngineError::LimitExceeded`] past [`MAX_SIMULATED_ADVANCES`], [`MAX_SIMULATED_RECORDS`]
/// or [`MAX_SIMULATION_TIME`], and yields to the scheduler between advances, so dropping
/// its future (a client that left) stops it at once and it never holds a thread.
pub async fn simulate(
    input: SimulationInput,
    connector: Arc<dyn Connector>,
) -> Result<Simulation, EngineError> {
    let store = Arc::new(MemoryStore::new());
    let queue = Arc::new(MemoryQueue::new());
    let clock = Arc::new(VirtualClock::new(input.start));
    let tenant_id = input.tenant.id.clone();
    let contact_id = input.contact.id.clone();
    let zone = jiff::tz::TimeZone::get(&input.tenant.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let mut tenant = input.tenant.clone();
    // A simulation shows what would be sent; whether the business may send marketing email
    // (its postal address is set) is decided when the flow is published for real.
    tenant
        .postal_address
        .get_or_insert_with(|| "(the business's postal address)".into());
    store.put_tenant(&tenant).await?;
    store.put_contact(&tenant_id, &input.contact).await?;
    let engine = Engine::new(store.clone(), queue.clone(), clock.clone(), connector);
    let doc = FlowDocument {
        source: input.source,
        config: input.config,
        templates: input.templates,
        origin: None,
    };
    let published = engine.publish(&tenant_id, doc, None).await?;
    let trigger = engine
        .deployment(&tenant_id, &published.flow_id, published.version)
        .await?
        .flow
        .flow
        .trigger
        .clone();
    let manual = trigger.manual.unwrap_or(false);
    let mut pending = input.injections;
    pending.sort_by_key(|i| i.after);
    let mut pending = pending.into_iter().peekable();
    let horizon = input.start + input.horizon;
    let mut ignored = Vec::new();
    // A manual flow starts only by enrolment: the simulation enrols the contact.
    let started = if manual {
        let enrolment = engine
            .enroll(
                &tenant_id,
                &published.flow_id,
                &contact_id,
                "simulation",
                None,
            )
            .await?;
        matches!(enrolment, super::Enrolment::Started { .. })
    } else if trigger.schedule.is_some() {
        // A scheduled flow starts on its first tick after the start, for the contact if its
        // audience takes them (the tick's later repeats are not played).
        match store.next_schedule(&tenant_id) {
            Some(first) if first <= input.start + input.horizon => {
                clock.advance_to(first);
                engine.fire_schedules_once().await? > 0
            }
            _ => false,
        }
    } else {
        let outcome = engine
            .ingest(&tenant_id, &contact_id, input.event.clone())
            .await?;
        !outcome.started.is_empty()
    };
    if !started {
        ignored.push(TimelineEntry::note(
            input.start,
            format!(
                "{} did not start the flow (trigger or `when` did not match)",
                input.event.event_type
            ),
        ));
    }
    let began = Instant::now();
    let mut advances = 0usize;
    loop {
        while let Some(task) = queue.pop_due(clock.now()) {
            engine.advance(task).await?;
            advances += 1;
            check_bounds(advances, store.record_count(&tenant_id), began)?;
            tokio::task::yield_now().await;
        }
        let next_task = queue.next_due();
        let next_injection = pending.peek().map(|i| input.start + i.after);
        let next = match (next_task, next_injection) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => break,
            },
        };
        if next > horizon {
            ignored.push(TimelineEntry::note(
                horizon,
                "simulation horizon reached; runs still waiting".into(),
            ));
            break;
        }
        clock.advance_to(next);
        while let Some(injection) = pending.next_if(|i| input.start + i.after <= clock.now()) {
            let event_type = injection.event.event_type.clone();
            // In production the inbound service records an opt-out (STOP) before the event is
            // ingested; the simulator does the same, so later sends are suppressed.
            if event_type == "contact.opted_out" {
                let mut contact = store.contact(&tenant_id, &contact_id).await?;
                let email =
                    injection.event.data.get("channel").and_then(|c| c.as_str()) == Some("email");
                if email {
                    contact.email_opt_out = true;
                } else {
                    contact.sms_opt_out = true;
                }
                store.put_contact(&tenant_id, &contact).await?;
            }
            let outcome = engine
                .ingest(&tenant_id, &contact_id, injection.event)
                .await?;
            if outcome.started.is_empty()
                && outcome.resumed.is_empty()
                && outcome.cancelled.is_empty()
            {
                let why = if outcome.skipped.is_empty() {
                    "nothing was waiting for it"
                } else {
                    "a run is already active (concurrency)"
                };
                ignored.push(TimelineEntry::note(
                    clock.now(),
                    format!("{event_type} arrived; {why}"),
                ));
            }
        }
    }
    let mut entries = Vec::new();
    let runs = store.runs(&tenant_id);
    let many = runs.len() > 1;
    for (index, run) in runs.iter().enumerate() {
        let records = store.records(&tenant_id, run.id).await?;
        entries.extend(
            records
                .into_iter()
                .map(|r| TimelineEntry::from_record(r, many.then_some(index + 1))),
        );
    }
    entries.extend(ignored);
    entries.sort_by_key(|e| e.at);
    Ok(Simulation {
        start: input.start,
        zone,
        entries,
    })
}

/// The simulation's bounds, as a limit error naming the one passed.
fn check_bounds(advances: usize, records: usize, began: Instant) -> Result<(), EngineError> {
    let passed = if advances > MAX_SIMULATED_ADVANCES {
        format!("more than {MAX_SIMULATED_ADVANCES} run advances")
    } else if records > MAX_SIMULATED_RECORDS {
        format!("more than {MAX_SIMULATED_RECORDS} timeline entries")
    } else if began.elapsed() > MAX_SIMULATION_TIME {
        format!("more than {} s of computing", MAX_SIMULATION_TIME.as_secs())
    } else {
        return Ok(());
    };
    Err(EngineError::LimitExceeded(format!(
        "the simulation was stopped after {passed}: a flow that loops (a goto back to a wait, say) \
         never ends; shorten the horizon or end the loop"
    )))
}
