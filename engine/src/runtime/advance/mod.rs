//! The executor's core: move a run forward from its cursor until it must pause (to call a
//! connector, sleep, wait for an event) or ends. No I/O happens here: the caller performs
//! the pause and feeds the result back through [`RunCx::on_result`].

mod call;
mod each;
mod outcome;
mod pool;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::record::{Happening, StepRecord};
use crate::definition::{CompiledFlow, Instr, StepMeta};
use crate::expr::Bindings;
use crate::inbox::Automation;
use crate::inbox::takeover::{RECHECK, TAKEOVER_HOLD};
use crate::model::{Contact, Run, RunStatus, Tenant};
use crate::ports::ActionRequest;
use crate::steps::{StepCx, StepOutcome, eval_condition};
use crate::template::track::{LinkScope, TrackedLink};

/// The hold of a run that owns a slot of its pool number for its next text (reserved by
/// the campaign dispatcher for a contact's first text, or by [`RunCx::take_slot`]).
pub const PACED: &str = "paced";

/// Why the run stopped moving.
#[derive(Debug, Clone, PartialEq)]
pub enum Pause {
    /// Call a connector, then feed the result to [`RunCx::on_result`].
    Call(Box<ActionRequest>),
    /// Sleep until the time (a wait, quiet hours, a retry backoff).
    Sleep(Timestamp),
    /// A text from a pool number: the caller reserves the number's next slot (every run and
    /// worker shares it) and hands it to [`RunCx::take_slot`].
    Pace {
        number: String,
        interval: jiff::SignedDuration,
    },
    /// A text from a sender pool: the caller finds the number the contact hears from (the
    /// one kept for them, else `candidate`, kept from now on) and hands it to
    /// [`RunCx::take_sender`].
    PickSender {
        pool: String,
        candidate: String,
        allowed: Vec<String>,
    },
    /// Wait for an event of this type; the run's `wake_at` is the timeout, if any.
    WaitFor,
    /// The run ended.
    Ended,
}

/// Everything one advance works on. Build it, call [`RunCx::advance`], persist `run`,
/// `records` and (when `contact_changed`) `contact`.
#[derive(Debug)]
pub struct RunCx<'a> {
    pub flow: &'a CompiledFlow,
    pub tenant: &'a Tenant,
    pub run: Run,
    pub contact: Contact,
    /// The contact as the advance read it: what its steps changed is the difference.
    pub contact_read: Contact,
    pub bindings: Bindings,
    pub records: Vec<StepRecord>,
    pub contact_changed: bool,
    pub now: Timestamp,
    /// Where this run's `{{track …}}` links point; `None`: not tracked.
    pub link_scope: Option<LinkScope>,
    /// Links rendered and not yet stored: the caller stores them before the next call.
    pub tracked: Vec<TrackedLink>,
    /// The sender pool and number this advance found for the contact ([`Pause::PickSender`]).
    pub picked_sender: Option<(String, String)>,
    /// The pool number's slot the run slept until, when it woke to send in it.
    pub slot: Option<Timestamp>,
    /// The call [`Pause::Call`] asks for counted a new attempt (it is not an interrupted
    /// call asked again): a call put off gives its attempt back ([`RunCx::put_off_call`]).
    pub fresh_attempt: bool,
}

impl RunCx<'_> {
    fn record(&mut self, step: Option<&str>, what: Happening) {
        let attempt = if matches!(what, Happening::Sent { .. } | Happening::Called { .. }) {
            self.run.attempt
        } else {
            0
        };
        self.records.push(StepRecord {
            at: self.now,
            step: step.map(str::to_owned),
            attempt,
            what,
        });
    }

    fn set_output(&mut self, step: &str, output: Value) {
        self.run.outputs.insert(step.to_owned(), output.clone());
        self.bindings.set_field("steps", step, output);
    }

    /// Ends the run.
    pub fn end(&mut self, status: RunStatus, reason: impl Into<String>) -> Pause {
        let reason = reason.into();
        let status_name = json!(status).as_str().unwrap_or_default().to_owned();
        self.record(
            None,
            Happening::Ended {
                status: status_name,
                reason: reason.clone(),
            },
        );
        self.run.status = status;
        self.run.ended_at = Some(self.now);
        self.run.end_reason = Some(reason);
        self.run.wake_at = None;
        self.run.waiting = None;
        self.run.hold = None;
        Pause::Ended
    }

    /// Runs steps from the cursor until a pause.
    pub fn advance(&mut self) -> Pause {
        let flow = self.flow;
        let mut budget = 10_000; // goto loops end rather than spin
        loop {
            budget -= 1;
            if budget == 0 {
                return self.end(
                    RunStatus::Failed,
                    "more than 10000 steps in one go: does an on_error goto loop?",
                );
            }
            let pc = self.run.pc;
            let Some(instr) = flow.program.get(pc) else {
                return self.end(RunStatus::Completed, "reached the end of the flow");
            };
            match instr {
                Instr::Jump { to } => self.run.pc = *to,
                Instr::Loop {
                    meta,
                    items,
                    end_pc,
                    body,
                } => {
                    if let Some(pause) = self.start_loop(meta, items, *end_pc, body) {
                        return pause;
                    }
                }
                Instr::Next { loop_pc } => {
                    if let Some(Instr::Loop { meta, body, .. }) = flow.program.get(*loop_pc) {
                        self.next_item(meta, *loop_pc, body);
                    } else {
                        self.run.pc += 1;
                    }
                }
                Instr::Branch {
                    meta,
                    condition,
                    else_pc,
                } => match eval_condition(condition, &mut self.bindings) {
                    Ok((result, output)) => {
                        let expression = condition.source().to_owned();
                        self.record(Some(&meta.id), Happening::Condition { expression, result });
                        self.set_output(&meta.id, output);
                        self.run.pc = if result { pc + 1 } else { *else_pc };
                    }
                    Err(e) => {
                        if let Some(pause) = self.fail_step(meta, e.to_string()) {
                            return pause;
                        }
                    }
                },
                Instr::Step { meta, config } => {
                    let mut cx = StepCx {
                        pc,
                        step_id: &meta.id,
                        now: self.now,
                        artifacts: &flow.artifacts,
                        bindings: &mut self.bindings,
                        contact: &mut self.contact,
                        contact_changed: false,
                        link_scope: self.link_scope.as_ref(),
                        tracked: &mut self.tracked,
                        custom_fields: &self.tenant.custom_fields,
                    };
                    let planned = config.plan(&mut cx);
                    self.contact_changed |= cx.contact_changed;
                    let pause = match planned {
                        Ok(outcome) => self.carry_out(meta, outcome),
                        Err(e) => self.fail_step(meta, e.to_string()),
                    };
                    if let Some(pause) = pause {
                        return pause;
                    }
                }
            }
        }
    }

    /// Applies what a step planned; `None` means go on with the next instruction.
    fn carry_out(&mut self, meta: &StepMeta, outcome: StepOutcome) -> Option<Pause> {
        match outcome {
            StepOutcome::Next(output) => {
                if let Some(until) = output
                    .get("past")
                    .and_then(|_| output.get("until"))
                    .and_then(Value::as_str)
                {
                    let until = until.parse().unwrap_or(self.now);
                    self.record(Some(&meta.id), Happening::WaitSkipped { until });
                } else {
                    self.record(
                        Some(&meta.id),
                        Happening::Computed {
                            output: output.clone(),
                        },
                    );
                }
                self.set_output(&meta.id, output);
                self.next_step();
                None
            }
            StepOutcome::Sleep { until, output } => {
                self.record(Some(&meta.id), Happening::Sleeping { until });
                self.set_output(&meta.id, output);
                self.next_step();
                self.run.hold = Some("wait".into());
                Some(self.sleep(until))
            }
            StepOutcome::WaitFor {
                event,
                or,
                timeout_at,
                ..
            } => {
                self.record(
                    Some(&meta.id),
                    Happening::WaitingFor {
                        event: event.clone(),
                        or: or.clone(),
                        timeout_at,
                    },
                );
                self.run.status = RunStatus::Waiting;
                self.run.waiting = Some(crate::model::Waiting {
                    event,
                    or,
                    timeout_at,
                });
                self.run.wake_at = timeout_at;
                Some(Pause::WaitFor)
            }
            StepOutcome::Stop(reason) => Some(self.end(RunStatus::Completed, reason)),
            StepOutcome::HandOver { channel, reason } => {
                let channel = channel.as_str().to_owned();
                let output = json!({ "channel": channel, "reason": reason });
                self.record(Some(&meta.id), Happening::HandedOver { channel, reason });
                self.set_output(&meta.id, output);
                // The store marks the conversation in this record's commit; the rest of
                // this advance holds as later ones will.
                self.contact.human_takeover = true;
                self.next_step();
                None
            }
            StepOutcome::Call(draft) => self.call(meta, draft),
        }
    }

    fn next_step(&mut self) {
        self.run.pc += 1;
        self.run.attempt = 0;
        self.run.hold = None;
    }

    fn sleep(&mut self, until: Timestamp) -> Pause {
        self.run.status = RunStatus::Sleeping;
        self.run.wake_at = Some(until);
        Pause::Sleep(until)
    }

    /// A person handles the contact: the automated message waits for their release, or
    /// the run ends, as the tenant chose (`settings.takeover.automation`).
    fn hold_for_a_person(&mut self, meta: &StepMeta) -> Pause {
        if self.tenant.takeover.automation == Automation::End {
            return self.end(
                RunStatus::Cancelled,
                "a person took over the conversation (takeover.automation: end)",
            );
        }
        let reason = "a person handles this contact's conversation (human takeover)".to_owned();
        self.record(Some(&meta.id), Happening::TakeoverHold { reason });
        self.run.hold = Some(TAKEOVER_HOLD.into());
        self.sleep(self.now + RECHECK)
    }

    /// The slot reserved for this run's text: it goes now, or the run sleeps until the slot
    /// and sends then without asking again; `None` (the number booked up): it asks again at
    /// `retry_at`.
    pub fn take_slot(
        &mut self,
        number: String,
        slot: Option<Timestamp>,
        retry_at: Timestamp,
    ) -> Option<Pause> {
        let step = self.flow.meta(self.run.pc).map(|m| m.id.clone());
        // A slot taken now is on time: the text goes in it, or sleeps until it.
        self.slot = None;
        let until = match slot {
            Some(at) => {
                self.run.hold = Some(PACED.into());
                if at <= self.now {
                    return None;
                }
                at
            }
            None => {
                self.run.hold = None;
                retry_at
            }
        };
        self.record(step.as_deref(), Happening::Paced { until, number });
        Some(self.sleep(until))
    }
}
