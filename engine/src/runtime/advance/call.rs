//! The way out of a step: human takeover, consent and quiet hours, the plan's AI tokens,
//! the sender pool and pacing, then the call itself. The engine may still put the call off
//! for its tenant's share of the process's calls ([`crate::runtime::call_share`]): the run
//! gives the attempt back, sleeps, and plans the step again later.

use serde_json::json;

use super::{Pause, RunCx};
use crate::definition::StepMeta;
use crate::model::{OnUncertain, Purpose};
use crate::ports::{ActionRequest, Request};
use crate::runtime::call_share::CALL_SHARE_HOLD;
use crate::runtime::compliance::{self, Verdict};
use crate::runtime::record::Happening;
use crate::steps::ActionDraft;

impl RunCx<'_> {
    /// Human takeover, consent and quiet hours, then the call itself.
    pub(super) fn call(&mut self, meta: &StepMeta, mut draft: Box<ActionDraft>) -> Option<Pause> {
        // A reply by hand is the person; every other message to the contact waits for them.
        if draft.message.is_some()
            && self.contact.human_takeover
            && !crate::runtime::builtin::is_builtin(self.flow.id())
        {
            return Some(self.hold_for_a_person(meta));
        }
        if let Some(message) = &draft.message {
            match compliance::check(
                self.flow,
                self.tenant,
                &self.contact,
                meta.purpose,
                message,
                self.now,
            ) {
                Verdict::Send => {}
                Verdict::Suppress(reason) => {
                    let channel = json!(message.channel)
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    self.record(
                        Some(&meta.id),
                        Happening::Suppressed {
                            channel,
                            reason: reason.clone(),
                        },
                    );
                    self.set_output(
                        &meta.id,
                        json!({ "status": "suppressed", "reason": reason }),
                    );
                    self.next_step();
                    return None;
                }
                Verdict::Hold { until, reason } => {
                    self.record(Some(&meta.id), Happening::QuietHold { until, reason });
                    self.run.hold = Some("quiet hours".into());
                    return Some(self.sleep(until));
                }
            }
        }
        if matches!(draft.request, Request::Llm(_))
            && let Some(reason) = crate::usage::refused_llm(&self.tenant.quota)
        {
            return self.fail_step(meta, reason);
        }
        if let Some(pause) = self.send_from_pool(meta, &mut draft) {
            return Some(pause);
        }
        if let Some(pace) = self.pace(&draft.request) {
            return Some(pace);
        }
        let key = match self.run.in_flight.take() {
            // The process stopped between starting this call and recording its result.
            Some(key) if draft.idempotent || meta.on_uncertain == OnUncertain::Resend => {
                self.fresh_attempt = false;
                key
            }
            Some(_) => {
                return self.flag_uncertain(
                    meta,
                    "interrupted after the send was started; not repeated (on_uncertain: flag)"
                        .to_owned(),
                );
            }
            None => {
                self.fresh_attempt = true;
                self.run.attempt += 1;
                let iteration = self.iteration(meta);
                crate::runtime::action_key(self.run.id, &meta.id, &iteration, self.run.attempt)
            }
        };
        self.run.in_flight = Some(key.clone());
        let mut request = draft.request;
        if let Request::Email(email) = &mut request
            && meta.purpose == Purpose::Marketing
        {
            email.marketing = true;
            email.postal_address = self.tenant.postal_address.clone();
        }
        Some(Pause::Call(Box::new(ActionRequest {
            request,
            message: draft.message,
            purpose: meta.purpose,
            idempotency_key: key,
            idempotent: draft.idempotent,
        })))
    }

    /// The call [`Pause::Call`] asked for is put off for the tenant's share of calls: the
    /// run gives back the attempt it counted (an interrupted call asked again keeps its key),
    /// sleeps `wait`, and plans the step again when it wakes.
    pub fn put_off_call(&mut self, wait: jiff::SignedDuration) -> Pause {
        if std::mem::take(&mut self.fresh_attempt) {
            self.run.in_flight = None;
            self.run.attempt = self.run.attempt.saturating_sub(1);
        }
        self.run.hold = Some(CALL_SHARE_HOLD.into());
        self.sleep(self.now + wait)
    }
}
