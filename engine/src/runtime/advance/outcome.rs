//! What a connector's answer does to the run: a success records the send or call, a
//! retryable error backs off (honouring the provider's `Retry-After`), a permanent one
//! follows the step's `on_error`, a refused address opts the contact out, and an uncertain
//! send is flagged or resent as the step says.

use serde_json::json;

use super::{Pause, RunCx};
use crate::definition::{ErrorPolicy, StepMeta};
use crate::model::{OnUncertain, RunStatus};
use crate::ports::{ActionRequest, Channel, ConnectorError, Request, Response};
use crate::runtime::record::Happening;
use crate::runtime::retry;

impl RunCx<'_> {
    /// Feeds back the result of the call made for [`Pause::Call`]; then call [`RunCx::advance`]
    /// again unless this returns a pause.
    pub fn on_result(
        &mut self,
        request: &ActionRequest,
        result: Result<Response, ConnectorError>,
    ) -> Option<Pause> {
        let Some(meta) = self.flow.meta(self.run.pc) else {
            return Some(self.end(RunStatus::Failed, "cursor lost"));
        };
        self.run.in_flight = None;
        match result {
            Ok(result) => {
                let what = match &request.message {
                    Some(m) => Happening::Sent {
                        channel: json!(m.channel).as_str().unwrap_or_default().to_owned(),
                        to: m.to.clone(),
                        from: match &request.request {
                            crate::ports::Request::Sms(sms) => sms.from.clone(),
                            _ => None,
                        },
                        subject: m.subject.clone(),
                        text: m.text.clone(),
                        segments: m.segments.map(|s| s.parts),
                        encoding: m
                            .segments
                            .map(|s| json!(s.encoding).as_str().unwrap_or_default().to_owned()),
                        provider_id: result.provider_id().map(str::to_owned),
                        status: match &result {
                            Response::Sent(sent) => Some(sent.status.as_str().to_owned()),
                            _ => None,
                        },
                        iteration: Some(self.iteration(meta)).filter(|i| !i.is_empty()),
                    },
                    None => Happening::Called {
                        connector: request.request.capability().as_str().to_owned(),
                        action: request.request.action().to_owned(),
                        request: serde_json::to_value(&request.request).unwrap_or_default(),
                        result: result.output(),
                    },
                };
                // Recorded first either way: a model's tokens are metered from this record.
                self.record(Some(&meta.id), what);
                if let Some(problem) = answer_problem(&request.request, &result) {
                    return self.fail_step(meta, problem);
                }
                self.set_output(&meta.id, result.output());
                self.next_step();
                None
            }
            Err(ConnectorError::Retryable {
                message,
                retry_after,
            }) => self.retry_or_fail(meta, message, retry_after),
            Err(ConnectorError::Permanent { code, message }) => {
                self.fail_step(meta, format!("{message} (code {code})"))
            }
            Err(ConnectorError::Rejected { code, message }) => {
                // The recipient refused this address for good (a STOP to the provider, a hard
                // bounce): the contact is opted out of the channel, which puts the address on
                // the suppression list in this run's commit, so no flow tries it again.
                if let Some(m) = &request.message {
                    let own = match m.channel {
                        Channel::Sms => self.contact.phone.as_deref() == Some(m.to.as_str()),
                        Channel::Email => self
                            .contact
                            .email
                            .as_deref()
                            .is_some_and(|e| e.eq_ignore_ascii_case(&m.to)),
                    };
                    if own {
                        match m.channel {
                            Channel::Sms => self.contact.sms_opt_out = true,
                            Channel::Email => self.contact.email_opt_out = true,
                        }
                        self.contact_changed = true;
                    }
                }
                self.fail_step(meta, format!("{message} (code {code})"))
            }
            Err(ConnectorError::Uncertain { message }) => {
                if meta.on_uncertain == OnUncertain::Resend {
                    return self.retry_or_fail(meta, message, None);
                }
                self.flag_uncertain(meta, message)
            }
        }
    }

    /// The send may or may not have happened and is not repeated: the step's output says
    /// `uncertain` with `error`, the timeline flags it, and the run goes on.
    pub(super) fn flag_uncertain(&mut self, meta: &StepMeta, error: String) -> Option<Pause> {
        self.record(
            Some(&meta.id),
            Happening::Uncertain {
                error: error.clone(),
            },
        );
        self.set_output(&meta.id, json!({ "status": "uncertain", "error": error }));
        self.next_step();
        None
    }

    fn retry_or_fail(
        &mut self,
        meta: &StepMeta,
        message: String,
        retry_after: Option<std::time::Duration>,
    ) -> Option<Pause> {
        let policy = meta.retry.unwrap_or(self.tenant.retry);
        if self.run.attempt > policy.max {
            let error = format!("gave up after {} attempts: {message}", self.run.attempt);
            return self.fail_step(meta, error);
        }
        let delay = retry::backoff(&policy, self.run.attempt, (self.run.id, &meta.id))
            .max(retry_after.unwrap_or_default());
        let at = self.now
            + jiff::SignedDuration::try_from(delay).unwrap_or(jiff::SignedDuration::from_secs(1));
        self.record(
            Some(&meta.id),
            Happening::RetryScheduled {
                retry_at: at,
                error: message,
            },
        );
        self.run.hold = Some("retry".into());
        Some(self.sleep(at))
    }

    /// A step failed for good: follow its `on_error`.
    pub(super) fn fail_step(&mut self, meta: &StepMeta, error: String) -> Option<Pause> {
        match meta.on_error {
            ErrorPolicy::Fail => Some(self.end(
                RunStatus::Failed,
                format!("step {} failed: {error}", meta.id),
            )),
            ErrorPolicy::Continue | ErrorPolicy::Goto(_) => {
                let policy = match meta.on_error {
                    ErrorPolicy::Goto(pc) => {
                        let target = self.flow.meta(pc).map(|m| m.id.clone()).unwrap_or_default();
                        format!("goto {target}")
                    }
                    _ => "continue".into(),
                };
                self.record(
                    Some(&meta.id),
                    Happening::ErrorHandled {
                        error: error.clone(),
                        policy,
                    },
                );
                self.set_output(&meta.id, json!({ "status": "failed", "error": error }));
                self.next_step();
                if let ErrorPolicy::Goto(pc) = meta.on_error {
                    self.run.pc = pc;
                }
                None
            }
        }
    }
}

/// Why a model's answer is not the JSON its step's `output_schema` asked for, if it is not,
/// or why the provider withheld it (a refusal, a content filter).
/// The sandbox's stand-in answers are not judged: it cannot know what a model would say.
fn answer_problem(request: &Request, result: &Response) -> Option<String> {
    let (Request::Llm(call), Response::Llm(answer)) = (request, result) else {
        return None;
    };
    if let Some(withheld) = &answer.withheld {
        return Some(withheld.clone());
    }
    let schema = call
        .output_schema
        .as_ref()
        .filter(|s| !s.is_null() && !answer.sandbox)?;
    let validator = match crate::definition::config::validator(schema) {
        Ok(validator) => validator,
        Err(e) => return Some(e),
    };
    let errors: Vec<String> = validator
        .iter_errors(&answer.json)
        .take(3)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        return None;
    }
    // The errors quote the answer; a model may write a lot.
    let detail: String = errors.join("; ").chars().take(500).collect();
    Some(format!(
        "the model's answer does not match output_schema: {detail} (code answer_mismatch)"
    ))
}
