//! The way out of a step: human takeover, consent and quiet hours, the plan's AI tokens,
//! the sender pool and pacing, a place in the tenant's share of the process's calls
//! ([`crate::runtime::call_share`]; a run without one sleeps and plans the step again
//! later), then the call itself.

use serde_json::json;

use super::{Pause, RunCx};
use crate::definition::StepMeta;
use crate::model::{OnUncertain, Purpose};
use crate::ports::{ActionRequest, Request};
use crate::runtime::call_share::{CALL_SHARE_HOLD, CallPermit, NoPlace};
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
        let permit = match self.take_call_share() {
            Ok(permit) => permit,
            Err(pause) => return Some(pause),
        };
        let key = match self.run.in_flight.take() {
            // The process stopped between starting this call and recording its result.
            Some(key) if draft.idempotent || meta.on_uncertain == OnUncertain::Resend => key,
            Some(_) => {
                let error =
                    "interrupted after the send was started; not repeated (on_uncertain: flag)"
                        .to_owned();
                self.record(
                    Some(&meta.id),
                    Happening::Uncertain {
                        error: error.clone(),
                    },
                );
                self.set_output(&meta.id, json!({ "status": "uncertain", "error": error }));
                self.next_step();
                return None;
            }
            None => {
                self.run.attempt += 1;
                format!("{}:{}:{}", self.run.id, meta.id, self.run.attempt)
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
        self.call_permit = permit;
        Some(Pause::Call(Box::new(ActionRequest {
            request,
            message: draft.message,
            purpose: meta.purpose,
            idempotency_key: key,
            idempotent: draft.idempotent,
        })))
    }

    /// A place for the call about to be made (`None`: no share is kept, as in the
    /// simulator): the one the caller waited for after [`Pause::AwaitCallShare`], a free one,
    /// else that pause, or the sleep of a run whose tenant's places are taken and waited for.
    /// Taken before the call's attempt is counted, so a run put off is not an attempt.
    pub(super) fn take_call_share(&mut self) -> Result<Option<CallPermit>, Pause> {
        if let Some(permit) = self.call_permit.take() {
            return Ok(Some(permit));
        }
        let Some(share) = &self.call_share else {
            return Ok(None);
        };
        match share.try_take(&self.tenant.id) {
            Ok(permit) => Ok(Some(permit)),
            Err(NoPlace::Wait) => Err(Pause::AwaitCallShare),
            Err(NoPlace::Sleep(wait)) => Err(self.put_off_call(wait)),
        }
    }

    /// The run sleeps `wait` for its tenant's share of calls, then plans its step again.
    pub fn put_off_call(&mut self, wait: jiff::SignedDuration) -> Pause {
        self.run.hold = Some(CALL_SHARE_HOLD.into());
        self.sleep(self.now + wait)
    }
}
