//! The engine: ingests events (start, resume and cancel runs) and advances runs on queue
//! tasks, over the store, queue, clock and connector it is handed. The same code serves the
//! simulator (memory store, memory queue, virtual clock, sandbox connector) and production.

use super::enroll::ENROLMENT_PACING;
use std::sync::Arc;

use serde_json::{Value, json};
use tracing::{Instrument, info_span};

use super::advance::{PACED, Pause, RunCx};
use super::cache::Caches;
use super::call_share::CALL_SHARE_HOLD;
use super::compliance::zone_of;
use super::flows::{Deployment, FlowCache};
use super::record::{Happening, StepRecord};
use crate::error::EngineError;
use crate::expr::{Bindings, format_time};
use crate::model::{Contact, Run, RunId, RunStatus, Tenant};
use crate::ports::{
    ActionRequest, AdvanceTask, CallCx, Clock, Connector, Queue, Store, Transition,
};
use crate::template::track::LinkScope;

/// How long a started call may take before the reconciler treats it as interrupted
/// (the default; see [`Engine::with_call_lease`]).
pub const CALL_LEASE: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);

/// What ingesting one event did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestOutcome {
    /// The stored event's id (the first one's, for a duplicate).
    pub event_id: String,
    /// The event was seen and processed before: nothing happened now.
    pub duplicate: bool,
    pub started: Vec<RunId>,
    pub resumed: Vec<RunId>,
    pub cancelled: Vec<RunId>,
    /// Flows whose trigger matched but whose concurrency rule kept a new run from starting.
    pub skipped: Vec<String>,
    /// Runs that failed on this event through their own flow's fault (a trigger `when` or
    /// a `wait_for` match that could not be evaluated); the event is kept all the same.
    pub failed: Vec<RunId>,
    /// What the caller should know though nothing failed: no live flow listens for the
    /// event's type (a misspelt `lead.craeted`, say), with the nearest type one does.
    pub warnings: Vec<String>,
}

#[derive(Debug)]
pub struct Engine {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub connector: Arc<dyn Connector>,
    pub(super) flows: FlowCache,
    pub(super) caches: Caches,
    pub(super) call_lease: jiff::SignedDuration,
    pub(super) timers: TimerMode,
    /// The base of tracked links (`https://…/l/`); `None`: `{{track}}` renders URLs as written.
    pub(super) link_base: Option<String>,
    /// Saved segments, for schedules whose audience is one; `None` (the simulator): such a
    /// schedule starts no runs.
    pub(super) audiences: Option<Arc<dyn crate::ports::AudienceStore>>,
    /// The template library, for flows that name its templates; `None` (the simulator):
    /// naming one is an error.
    pub(super) library: Option<Arc<dyn crate::ports::TemplateStore>>,
    /// What tenants used, for plans and `GET /v1/usage`; `None` (the simulator): nothing
    /// is measured and no plan limits anything.
    pub(super) usage: Option<Arc<dyn crate::ports::UsageStore>>,
    /// The operator's plans.
    pub(super) plans: Arc<crate::usage::Plans>,
    /// Where pool numbers' slots are reserved, so that a number's texts keep its rate across
    /// runs and workers; `None` (the simulator): texts are not paced.
    pub(super) pacing: Option<Arc<dyn crate::ports::CampaignStore>>,
    /// Whether the engine alerts staff itself (takeovers, plan levels); not in the
    /// simulator, whose calls are the flow's own.
    pub(super) staff_alerts: bool,
    /// Each tenant's share of this process's calls; `None` (the simulator): unlimited.
    pub(super) call_share: Option<Arc<super::call_share::CallShare>>,
}

/// How sleeping and waiting runs get back into the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerMode {
    /// Each timer is queued when it is set (the simulator, tests).
    Queue,
    /// Timers stay in the database until shortly before they are due, when the timer loop
    /// ([`super::reconcile::run_timers`]) queues them: the queue holds only what is due now.
    Database,
}

impl Engine {
    pub(super) fn bindings(
        &self,
        d: &Deployment,
        tenant: &Tenant,
        contact: &Contact,
        run: &Run,
    ) -> Bindings {
        let mut b = Bindings::empty();
        b.set(
            "event",
            serde_json::to_value(&run.trigger).unwrap_or(Value::Null),
        );
        b.set(
            "contact",
            serde_json::to_value(contact).unwrap_or(Value::Null),
        );
        b.set(
            "tenant",
            json!({ "id": tenant.id, "name": tenant.name, "timezone": tenant.timezone }),
        );
        b.set("config", d.config.clone());
        b.set("templates", d.templates.clone());
        b.set("vars", Value::Object(run.vars.clone()));
        b.set("steps", Value::Object(run.outputs.clone()));
        b.set("now", Value::String(format_time(self.clock.now())));
        b.set_zone(zone_of(contact, tenant).0);
        b
    }

    pub(super) fn run_cx<'a>(
        &self,
        d: &'a Deployment,
        tenant: &'a Tenant,
        contact: Contact,
        run: Run,
    ) -> RunCx<'a> {
        let bindings = self.bindings(d, tenant, &contact, &run);
        let link_scope = self.link_base.as_ref().map(|base| LinkScope {
            base: base.clone(),
            tenant_id: tenant.id.clone(),
            run_id: run.id.to_string(),
        });
        RunCx {
            flow: &d.flow,
            tenant,
            run,
            contact_read: contact.clone(),
            contact,
            bindings,
            records: Vec::new(),
            contact_changed: false,
            now: self.clock.now(),
            link_scope,
            tracked: Vec::new(),
            picked_sender: None,
            fresh_attempt: false,
            slot: None,
        }
    }

    /// Stores the links the run rendered since the last call, before what carries them goes
    /// out (a repeat stores nothing new: a link's code is fixed by its run and URL).
    async fn store_links(&self, tenant_id: &str, cx: &mut RunCx<'_>) -> Result<(), EngineError> {
        if cx.tracked.is_empty() {
            return Ok(());
        }
        let links = std::mem::take(&mut cx.tracked);
        self.store
            .save_links(tenant_id, &cx.run, &links, cx.now)
            .await?;
        Ok(())
    }

    /// Handles one queue task: advances the run until it pauses, committing each action's
    /// start and result. A stale or early task does nothing.
    pub async fn advance(&self, task: AdvanceTask) -> Result<(), EngineError> {
        let (run, contact) = self
            .store
            .run_and_contact(&task.tenant_id, task.run_id)
            .await?;
        let span = info_span!("advance", tenant_id = %task.tenant_id, flow_id = %run.flow_id, run_id = %run.id);
        let began = std::time::Instant::now();
        let result = self.advance_run(task, run, contact).instrument(span).await;
        super::metrics::advanced(began.elapsed());
        result
    }

    async fn advance_run(
        &self,
        task: AdvanceTask,
        run: Run,
        contact: Contact,
    ) -> Result<(), EngineError> {
        let now = self.clock.now();
        if run.seq != task.seq || !run.status.is_active() || run.status == RunStatus::Queued {
            return Ok(());
        }
        if run.wake_at.is_some_and(|t| t > now) {
            return Ok(()); // early: the task for wake_at is still queued
        }
        let tenant = self.tenant(&task.tenant_id).await?;
        let d = match self
            .deployment(&task.tenant_id, &run.flow_id, run.flow_version)
            .await
        {
            Ok(d) => d,
            Err(EngineError::InvalidDefinition(diagnostics)) => {
                return self
                    .fail_unloadable(&task.tenant_id, run, &diagnostics)
                    .await;
            }
            Err(e) => return Err(e),
        };
        let mut cx = self.run_cx(&d, &tenant, contact, run);
        let step = d.flow.meta(cx.run.pc).map(|m| m.id.clone());
        match cx.run.status {
            RunStatus::Waiting => {
                let step = step.unwrap_or_default();
                cx.records.push(StepRecord {
                    at: now,
                    step: Some(step.clone()),
                    attempt: 0,
                    what: Happening::Woke {
                        by: "timeout".into(),
                    },
                });
                cx.run.outputs.insert(
                    step.clone(),
                    json!({ "received": false, "timed_out": true }),
                );
                cx.bindings.set_field(
                    "steps",
                    &step,
                    json!({ "received": false, "timed_out": true }),
                );
                cx.run.pc += 1;
                cx.run.waiting = None;
            }
            // A run put off for its tenant's share of calls wakes without a record: a stalled
            // tenant's runs may ask many times, and the timeline would fill with nothing.
            RunStatus::Sleeping if cx.run.hold.as_deref() == Some(CALL_SHARE_HOLD) => {
                cx.run.hold = None;
            }
            RunStatus::Sleeping => {
                let by = match cx.run.hold.as_deref() {
                    Some("wait") | None => "timer",
                    Some(hold) => hold,
                }
                .to_owned();
                cx.records.push(StepRecord {
                    at: now,
                    step,
                    attempt: 0,
                    what: Happening::Woke { by },
                });
                // A wait or an enrolment's pacing is over once woken; quiet hours, backoffs
                // and a pool number's slot hold until the action runs. A campaign contact
                // woken at its slot owns that slot for its first text.
                match cx.run.hold.as_deref() {
                    Some("wait") => cx.run.hold = None,
                    Some(ENROLMENT_PACING) => cx.run.hold = slotted(&cx.run).then(|| PACED.into()),
                    _ => {}
                }
                // The slot it slept until: a text that wakes well after it asks again.
                if cx.run.hold.as_deref() == Some(PACED) {
                    cx.slot = cx.run.wake_at;
                }
            }
            _ => {}
        }
        cx.run.status = RunStatus::Ready;
        cx.run.wake_at = None;
        let mut seq = cx.run.seq;
        loop {
            match cx.advance() {
                Pause::Call(request) => {
                    self.store_links(&task.tenant_id, &mut cx).await?;
                    // Record the start before calling, so a crash leaves the call visible as in flight.
                    let records = std::mem::take(&mut cx.records);
                    let started = Transition {
                        expected_seq: seq,
                        // A lease: if the process dies during the call, the reconciler finds
                        // the run once the lease is over (longer than any connector timeout).
                        run: Run {
                            seq: seq + 1,
                            wake_at: Some(cx.now + self.call_lease),
                            ..cx.run.clone()
                        },
                        records,
                        contact: None,
                        audit: None,
                    };
                    self.store.apply(&task.tenant_id, started).await?;
                    seq += 1;
                    cx.run.seq = seq;
                    // The tenant's share is taken only now, so that it counts the time spent
                    // with providers, not the commit before (a busy tenant's fast calls wait
                    // on commits, and counting those halved its throughput).
                    let permit = match &self.call_share {
                        Some(share) => match share.take(&task.tenant_id).await {
                            Ok(permit) => Some(permit),
                            Err(wait) => {
                                cx.now = self.clock.now();
                                let pause = cx.put_off_call(wait);
                                return self.finish(&task, seq, cx, pause).await;
                            }
                        },
                        None => None,
                    };
                    let step_id = d
                        .flow
                        .meta(cx.run.pc)
                        .map(|m| m.id.clone())
                        .unwrap_or_default();
                    let call_cx = call_cx(&tenant, &task.tenant_id, &cx.run.id, step_id, &request);
                    let began = std::time::Instant::now();
                    let result = self.connector.call(&request.request, &call_cx).await;
                    drop(permit);
                    let outcome = match &result {
                        Ok(r) if r.sandbox() => "sandbox (nothing sent)",
                        Ok(_) => "ok",
                        Err(crate::ports::ConnectorError::Retryable { .. }) => "retryable error",
                        Err(crate::ports::ConnectorError::Permanent { .. }) => "permanent error",
                        Err(crate::ports::ConnectorError::Rejected { .. }) => {
                            "rejected: the recipient refuses this address"
                        }
                        Err(crate::ports::ConnectorError::Uncertain { .. }) => "uncertain",
                    };
                    tracing::info!(
                        tenant_id = %task.tenant_id, run_id = %call_cx.run_id, step = %call_cx.step_id,
                        capability = request.request.capability().as_str(),
                        action = request.request.action(), outcome,
                        provider = call_cx.provider.as_ref().map_or("sandbox", |p| p.provider.as_str()),
                        ms = began.elapsed().as_millis() as u64, "provider call"
                    );
                    cx.now = self.clock.now();
                    if let Some(pause) = cx.on_result(&request, result) {
                        self.store_links(&task.tenant_id, &mut cx).await?;
                        return self.finish(&task, seq, cx, pause).await;
                    }
                }
                Pause::Pace { number, interval } => {
                    let slot = match &self.pacing {
                        Some(store) => {
                            store
                                .reserve_number_slot(
                                    &task.tenant_id,
                                    &number,
                                    cx.now,
                                    interval,
                                    PACE_HORIZON,
                                )
                                .await?
                        }
                        None => Some(cx.now), // the simulator: no other sender to share with
                    };
                    if let Some(pause) = cx.take_slot(number, slot, cx.now + PACE_HORIZON) {
                        self.store_links(&task.tenant_id, &mut cx).await?;
                        return self.finish(&task, seq, cx, pause).await;
                    }
                }
                Pause::PickSender {
                    pool,
                    candidate,
                    allowed,
                } => {
                    let number = match &self.pacing {
                        Some(store) => {
                            store
                                .sticky_sender(
                                    &task.tenant_id,
                                    &pool,
                                    &cx.contact.id,
                                    &candidate,
                                    &allowed,
                                )
                                .await?
                        }
                        None => candidate, // the simulator: one run, nothing to keep
                    };
                    cx.take_sender(pool, number);
                }
                pause => {
                    self.store_links(&task.tenant_id, &mut cx).await?;
                    return self.finish(&task, seq, cx, pause).await;
                }
            }
        }
    }
}

/// The furthest ahead a text reserves its pool number's slot; a number booked up further
/// (a burst of many runs) is asked again this much later.
const PACE_HORIZON: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// A campaign run from a pool number: the dispatcher reserved the slot of its first text.
pub(super) fn slotted(run: &Run) -> bool {
    run.trigger.event_type == "enrolled" && run.trigger.data["campaign"]["sender"].is_string()
}

/// What a connector needs besides the request: the run's ids, its idempotency key, and the
/// tenant's provider, sender and hook token for the request's capability.
fn call_cx(
    tenant: &Tenant,
    tenant_id: &str,
    run_id: &impl std::fmt::Display,
    step_id: String,
    request: &ActionRequest,
) -> CallCx {
    let capability = request.request.capability().as_str();
    CallCx {
        tenant_id: tenant_id.to_owned(),
        run_id: run_id.to_string(),
        step_id,
        idempotency_key: request.idempotency_key.clone(),
        provider: tenant.providers.get(capability).cloned(),
        default_sender: tenant.senders.get(capability).cloned(),
        hook_token: Some(tenant.hook_token.clone()).filter(|t| !t.is_empty()),
    }
}
