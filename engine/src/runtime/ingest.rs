//! Event ingestion: an event for a contact cancels the runs whose `cancel_on` names it,
//! resumes runs waiting for it (when their `match` accepts it), then starts runs of the flows
//! it triggers, honouring each flow's `when` and `concurrency`.

use serde_json::{Value, json};

use super::advance::RunCx;
use super::engine::{Engine, IngestOutcome};
use super::record::{Happening, StepRecord};
use crate::error::EngineError;
use crate::model::{Event, OnConflict, Run, RunStatus};
use crate::ports::AdvanceTask;

impl Engine {
    /// Ingests an event for a contact: cancels runs whose `cancel_on` names it, resumes runs
    /// waiting for it, then starts runs of flows it triggers.
    pub async fn ingest(
        &self,
        tenant_id: &str,
        contact_id: &str,
        event: Event,
    ) -> Result<IngestOutcome, EngineError> {
        let now = self.clock.now();
        let tenant = self.store.tenant(tenant_id).await?;
        let contact = self.store.contact(tenant_id, contact_id).await?;
        let mut outcome = IngestOutcome::default();
        let mut wake = Vec::new();
        for run in self.store.active_runs(tenant_id, contact_id).await? {
            let d = self
                .deployment(tenant_id, &run.flow_id, run.flow_version)
                .await?;
            let seq = run.seq;
            if d.flow.flow.cancel_on.contains(&event.event_type) {
                let mut cx = self.run_cx(&d, &tenant, contact.clone(), run);
                cx.end(
                    RunStatus::Cancelled,
                    format!("{} arrived (cancel_on)", event.event_type),
                );
                outcome.cancelled.push(cx.run.id);
                self.commit(tenant_id, seq, cx).await?;
            } else if run.status == RunStatus::Waiting
                && run
                    .waiting
                    .as_ref()
                    .is_some_and(|w| w.event == event.event_type)
            {
                let mut cx = self.run_cx(&d, &tenant, contact.clone(), run);
                if !self.accepts(&mut cx, &event)? {
                    continue;
                }
                let step = d
                    .flow
                    .meta(cx.run.pc)
                    .map(|m| m.id.clone())
                    .unwrap_or_default();
                let event_json = serde_json::to_value(&event).unwrap_or(Value::Null);
                cx.records.push(StepRecord {
                    at: now,
                    step: Some(step.clone()),
                    attempt: 0,
                    what: Happening::Woke {
                        by: event.event_type.clone(),
                    },
                });
                cx.run.outputs.insert(
                    step,
                    json!({ "received": true, "timed_out": false, "event": event_json }),
                );
                cx.run.pc += 1;
                cx.run.status = RunStatus::Ready;
                cx.run.waiting = None;
                cx.run.wake_at = None;
                outcome.resumed.push(cx.run.id);
                wake.push(self.commit(tenant_id, seq, cx).await?);
            }
        }
        for d in self.live(tenant_id).await? {
            let trigger = &d.flow.flow.trigger;
            if trigger.event.as_deref() != Some(event.event_type.as_str()) {
                continue;
            }
            let mut run = Run::start(
                tenant_id,
                d.flow.id(),
                d.version,
                contact_id,
                event.clone(),
                now,
            );
            if let Some(when) = &d.flow.trigger_when {
                let mut b = self.bindings(&d, &tenant, &contact, &run);
                if !when
                    .eval_bool(&mut b)
                    .map_err(|e| EngineError::Expression(e.message))?
                {
                    continue;
                }
            }
            if let Some(concurrency) = d.flow.flow.concurrency {
                let active: Vec<Run> = self
                    .store
                    .active_runs(tenant_id, contact_id)
                    .await?
                    .into_iter()
                    .filter(|r| r.flow_id == d.flow.id())
                    .collect();
                if !active.is_empty() {
                    match concurrency.on_conflict {
                        OnConflict::Skip => {
                            outcome.skipped.push(d.flow.id().to_owned());
                            continue;
                        }
                        OnConflict::Replace => {
                            for old in active {
                                let seq = old.seq;
                                let mut cx = self.run_cx(&d, &tenant, contact.clone(), old);
                                cx.end(
                                    RunStatus::Cancelled,
                                    "replaced by a newer run (concurrency: replace)",
                                );
                                outcome.cancelled.push(cx.run.id);
                                self.commit(tenant_id, seq, cx).await?;
                            }
                        }
                        OnConflict::Queue => run.status = RunStatus::Queued,
                    }
                }
            }
            let started = StepRecord {
                at: now,
                step: None,
                attempt: 0,
                what: Happening::Started {
                    flow: d.flow.id().to_owned(),
                    version: d.version,
                    trigger: event.event_type.clone(),
                },
            };
            self.store.create_run(tenant_id, &run, &[started]).await?;
            outcome.started.push(run.id);
            if run.status == RunStatus::Ready {
                wake.push(AdvanceTask::for_run(tenant_id, &run));
            }
        }
        for task in wake {
            self.queue.schedule(task, now).await?;
        }
        Ok(outcome)
    }

    fn accepts(&self, cx: &mut RunCx<'_>, event: &Event) -> Result<bool, EngineError> {
        let key = format!("{}/match", cx.run.pc);
        let Some(filter) = cx.flow.artifacts.exprs.get(&key) else {
            return Ok(true);
        };
        cx.bindings.rhai_scope();
        cx.bindings.set_extra(
            "incoming",
            &serde_json::to_value(event).unwrap_or(Value::Null),
        );
        filter
            .eval_bool(&mut cx.bindings)
            .map_err(|e| EngineError::Expression(e.message))
    }
}
