//! Helpers for tests of step kinds and the runtime: plan one step against a ready-made run,
//! and a connector that records calls and answers from a script.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::definition::{self, Instr};
use crate::expr::Bindings;
use crate::model::Contact;
use crate::ports::{ActionRequest, ActionResult, CallCx, Connector, ConnectorError};
use crate::steps::{StepCx, StepError, StepOutcome};

/// A contact for tests: Ana, +15125550100, ana@example.com, in Chicago.
pub fn ana() -> Contact {
    Contact {
        id: "c1".into(),
        phone: Some("+15125550100".into()),
        email: Some("ana@example.com".into()),
        first_name: Some("Ana".into()),
        timezone: Some("America/Chicago".into()),
        ..Contact::default()
    }
}

/// Compiles a one-step flow around `step` and plans that step for [`ana`] at 2026-06-01 15:00Z.
pub fn plan_step(step: Value) -> Result<StepOutcome, StepError> {
    let mut step = step;
    step["id"] = json!("s");
    let doc = json!({"id": "t", "trigger": {"event": "lead.created"}, "steps": [step]}).to_string();
    let (flow, _) = definition::load_flow("test.yaml", &doc, None)
        .unwrap_or_else(|d| panic!("invalid test flow: {d:?}"));
    let Some(Instr::Step { config, .. }) = flow.program.first() else {
        panic!("not a step")
    };
    let mut contact = ana();
    let now: jiff::Timestamp = "2026-06-01T15:00:00Z".parse().unwrap_or_default();
    let mut bindings = Bindings::empty();
    bindings.set("now", json!(crate::expr::format_time(now)));
    bindings.set(
        "contact",
        serde_json::to_value(&contact).unwrap_or_default(),
    );
    let mut cx = StepCx {
        pc: 0,
        step_id: "s",
        now,
        artifacts: &flow.artifacts,
        bindings: &mut bindings,
        contact: &mut contact,
        contact_changed: false,
    };
    config.plan(&mut cx)
}

/// A connector that records every request and answers from a script (success by default).
#[derive(Debug, Default)]
pub struct RecordingConnector {
    pub calls: Mutex<Vec<ActionRequest>>,
    script: Mutex<VecDeque<Result<ActionResult, ConnectorError>>>,
}

impl RecordingConnector {
    /// Queues answers for the next calls, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Result<ActionResult, ConnectorError>>) {
        self.script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(answers);
    }

    pub fn calls(&self) -> Vec<ActionRequest> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl Connector for RecordingConnector {
    async fn call(
        &self,
        request: &ActionRequest,
        _: &CallCx,
    ) -> Result<ActionResult, ConnectorError> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(request.clone());
        let scripted = self
            .script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        scripted.unwrap_or_else(|| {
            Ok(ActionResult {
                output: json!({"status": "ok"}),
                provider_id: None,
            })
        })
    }
}
