//! The sandbox connector: the default for every action. It records what would be sent
//! (rendered text, recipient, segments), logs it, and answers with a plausible result shaped
//! like the real provider's, without anything leaving the machine.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{Value, json};
use stepwise_engine::ports::{ActionRequest, ActionResult, CallCx, Connector, ConnectorError};

/// One request the sandbox received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub tenant_id: String,
    pub run_id: String,
    pub request: ActionRequest,
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
    fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}_sandbox_{}", uuid::Uuid::now_v7().simple())
    }

    fn respond(&self, request: &ActionRequest) -> ActionResult {
        let p = &request.payload;
        let (provider_id, output) = match (request.connector, request.action.as_str()) {
            ("sms", _) => {
                let id = self.next_id("SM");
                let segments = request
                    .message
                    .as_ref()
                    .and_then(|m| m.segments)
                    .map_or(1, |s| s.parts);
                (
                    Some(id.clone()),
                    json!({ "status": "sent", "message_id": id, "to": p["to"], "segments": segments, "sandbox": true }),
                )
            }
            ("email", _) => {
                let id = self.next_id("email");
                (
                    Some(id.clone()),
                    json!({ "status": "sent", "message_id": id, "to": p["to"], "sandbox": true }),
                )
            }
            ("notify", _) => (
                None,
                json!({ "status": "sent", "channel": p["channel"], "sandbox": true }),
            ),
            ("http", _) => (None, json!({ "status": 200, "body": {}, "sandbox": true })),
            ("crm", action) => {
                let id = self.next_id("crm");
                (
                    Some(id.clone()),
                    json!({ "status": "ok", "action": action, "id": id, "sandbox": true }),
                )
            }
            ("calendar", "find_slots") => {
                let from = p["fields"]["from"].clone();
                (
                    None,
                    json!({ "status": "ok", "slots": [from], "sandbox": true }),
                )
            }
            ("calendar", action) => {
                let id = self.next_id("booking");
                (
                    Some(id.clone()),
                    json!({ "status": "ok", "action": action, "booking_id": id, "sandbox": true }),
                )
            }
            ("llm", _) => {
                let text = "(sandbox answer)";
                let structured = p
                    .get("output_schema")
                    .filter(|s| !s.is_null())
                    .map(|_| json!({}));
                (
                    None,
                    json!({ "text": text, "json": structured.unwrap_or(Value::Null), "sandbox": true }),
                )
            }
            (other, action) => (
                None,
                json!({ "status": "ok", "connector": other, "action": action, "sandbox": true }),
            ),
        };
        ActionResult {
            output,
            provider_id,
        }
    }
}

#[async_trait]
impl Connector for Sandbox {
    async fn call(
        &self,
        request: &ActionRequest,
        cx: &CallCx,
    ) -> Result<ActionResult, ConnectorError> {
        tracing::info!(
            tenant_id = %cx.tenant_id, run_id = %cx.run_id, step = %cx.step_id,
            connector = request.connector, action = %request.action, "sandbox: recorded, not sent"
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
        Ok(self.respond(request))
    }
}

#[cfg(test)]
mod tests;
