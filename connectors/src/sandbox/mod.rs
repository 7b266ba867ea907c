//! The sandbox: the default provider of every capability. It records what would be sent
//! (rendered text, recipient, segments), logs it, and answers with a plausible typed result,
//! without anything leaving the machine.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use stepwise_core::{
    CalendarAction, CalendarAnswer, CallCx, Capability, Connector, ConnectorError, CrmRecord,
    DeliveryStatus, HttpResponse, LlmAnswer, Notified, PaymentAnswer, PaymentsAction, Request,
    Response, Segments, Sent, estimated_tokens,
};

use crate::provider::Provider;

/// One request the sandbox received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub tenant_id: String,
    pub run_id: String,
    pub request: Request,
}

/// How many of the latest requests the sandbox keeps in memory (a server runs for months).
pub const KEEP_RECORDED: usize = 10_000;

#[derive(Debug, Default)]
pub struct Sandbox {
    log: Mutex<VecDeque<Recorded>>,
}

impl Sandbox {
    pub fn new() -> Self {
        Self::default()
    }

    /// The latest [`KEEP_RECORDED`] requests received, oldest first.
    pub fn recorded(&self) -> Vec<Recorded> {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.iter().cloned().collect()
    }

    /// A provider id unique across restarts and processes (a time-ordered UUID), as a real
    /// provider's is: ids are keys in the outbox and in delivery-status updates.
    fn next_id(prefix: &str) -> String {
        format!("{prefix}_sandbox_{}", uuid::Uuid::now_v7().simple())
    }

    fn respond(request: &Request) -> Response {
        match request {
            Request::Sms(sms) => Response::Sent(Sent {
                status: DeliveryStatus::Sent,
                message_id: Self::next_id("SM"),
                to: sms.to.clone(),
                segments: Some(Segments::of(&sms.body).parts as u32),
                sandbox: true,
            }),
            Request::Email(email) => Response::Sent(Sent {
                status: DeliveryStatus::Sent,
                message_id: Self::next_id("email"),
                to: email.to.clone(),
                segments: None,
                sandbox: true,
            }),
            Request::Notify(notify) => Response::Notified(Notified {
                status: DeliveryStatus::Sent,
                channel: notify.audience,
                sandbox: true,
            }),
            Request::Http(_) => Response::Http(HttpResponse {
                status: 200,
                body: Value::Object(Map::new()),
                sandbox: true,
            }),
            Request::Crm(crm) => Response::Crm(CrmRecord {
                status: "ok",
                action: crm.action,
                id: Self::next_id("crm"),
                sandbox: true,
            }),
            Request::Calendar(cal) => {
                let (slots, booking_id) = match cal.action {
                    CalendarAction::FindSlots => (
                        Some(vec![cal.fields.get("from").cloned().unwrap_or(Value::Null)]),
                        None,
                    ),
                    _ => (None, Some(Self::next_id("booking"))),
                };
                Response::Calendar(CalendarAnswer {
                    status: "ok",
                    action: cal.action,
                    slots,
                    booking_id,
                    sandbox: true,
                })
            }
            Request::Llm(llm) => {
                let text = "(sandbox answer)".to_owned();
                let asked = format!(
                    "{}{}",
                    llm.system.as_deref().unwrap_or_default(),
                    llm.prompt
                );
                Response::Llm(LlmAnswer {
                    tokens: estimated_tokens(&asked) + estimated_tokens(&text),
                    text,
                    json: llm
                        .output_schema
                        .as_ref()
                        .filter(|s| !s.is_null())
                        .map_or(Value::Null, |_| json!({})),
                    withheld: None,
                    sandbox: true,
                })
            }
            Request::Payments(payments) => {
                let invoice_id = match payments.action {
                    PaymentsAction::CreateInvoice => Self::next_id("in"),
                    PaymentsAction::VoidInvoice => payments
                        .fields
                        .get("invoice_id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                };
                // `.invalid` never resolves: a sandbox invoice cannot be paid by mistake.
                let url = (payments.action == PaymentsAction::CreateInvoice)
                    .then(|| format!("https://pay.sandbox.invalid/{invoice_id}"));
                Response::Payment(PaymentAnswer {
                    status: "ok",
                    action: payments.action,
                    invoice_id,
                    url,
                    sandbox: true,
                })
            }
        }
    }

    fn record(&self, request: &Request, cx: &CallCx) -> Response {
        tracing::info!(
            tenant_id = %cx.tenant_id, run_id = %cx.run_id, step = %cx.step_id,
            capability = request.capability().as_str(), action = request.action(),
            "sandbox: recorded, not sent"
        );
        let recorded = Recorded {
            tenant_id: cx.tenant_id.clone(),
            run_id: cx.run_id.clone(),
            request: request.clone(),
        };
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() == KEEP_RECORDED {
            log.pop_front();
        }
        log.push_back(recorded);
        drop(log);
        Self::respond(request)
    }
}

#[async_trait]
impl Provider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn capabilities(&self) -> &'static [Capability] {
        &Capability::ALL
    }

    fn check(&self, _: Capability, options: &Map<String, Value>) -> Result<(), String> {
        match options.keys().next() {
            Some(key) => Err(format!("the sandbox takes no options (got {key})")),
            None => Ok(()),
        }
    }

    async fn call(
        &self,
        request: &Request,
        _: &Map<String, Value>,
        cx: &CallCx,
    ) -> Result<Response, ConnectorError> {
        Ok(self.record(request, cx))
    }
}

/// The sandbox on its own, for the simulator and tools that must send nothing.
#[async_trait]
impl Connector for Sandbox {
    async fn call(&self, request: &Request, cx: &CallCx) -> Result<Response, ConnectorError> {
        Ok(self.record(request, cx))
    }
}

#[cfg(test)]
mod tests;
