//! Helpers for tests of step kinds and the runtime: plan one step against a ready-made run,
//! and a connector that records calls and answers from a script.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::audience::fields::FieldType;
use crate::definition::{self, Instr};
use crate::expr::Bindings;
use crate::model::Contact;
use crate::ports::{CallCx, Connector, ConnectorError, Request, Response};
use crate::steps::{StepCx, StepError, StepOutcome};
use stepwise_core::HttpResponse;

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
    plan_step_for(step, ana())
}

/// [`plan_step`] for `contact`.
pub fn plan_step_for(step: Value, contact: Contact) -> Result<StepOutcome, StepError> {
    plan_step_declaring(step, contact, &BTreeMap::new())
}

/// [`plan_step_for`] for a tenant that declared `custom_fields`.
pub fn plan_step_declaring(
    step: Value,
    contact: Contact,
    custom_fields: &BTreeMap<String, FieldType>,
) -> Result<StepOutcome, StepError> {
    let mut step = step;
    step["id"] = json!("s");
    let doc = json!({"id": "t", "trigger": {"event": "lead.created"}, "steps": [step]}).to_string();
    let (flow, _) = definition::load_flow("test.yaml", &doc, None)
        .unwrap_or_else(|d| panic!("invalid test flow: {d:?}"));
    let Some(Instr::Step { config, .. }) = flow.program.first() else {
        panic!("not a step")
    };
    let mut contact = contact;
    let now: jiff::Timestamp = "2026-06-01T15:00:00Z".parse().unwrap_or_default();
    let mut bindings = Bindings::empty();
    bindings.set("now", json!(crate::expr::format_time(now)));
    bindings.set(
        "contact",
        serde_json::to_value(&contact).unwrap_or_default(),
    );
    let mut tracked = Vec::new();
    let mut cx = StepCx {
        pc: 0,
        step_id: "s",
        now,
        artifacts: &flow.artifacts,
        bindings: &mut bindings,
        contact: &mut contact,
        contact_changed: false,
        link_scope: None,
        tracked: &mut tracked,
        custom_fields,
    };
    config.plan(&mut cx)
}

/// A connector that records every request and answers from a script (success by default).
#[derive(Debug, Default)]
pub struct RecordingConnector {
    calls: Mutex<Vec<(Request, String)>>,
    script: Mutex<VecDeque<Result<Response, ConnectorError>>>,
}

impl RecordingConnector {
    /// Queues answers for the next calls, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Result<Response, ConnectorError>>) {
        self.script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(answers);
    }

    /// The requests received, in order.
    pub fn calls(&self) -> Vec<Request> {
        let calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.iter().map(|(request, _)| request.clone()).collect()
    }

    /// The idempotency keys the calls carried, in order.
    pub fn keys(&self) -> Vec<String> {
        let calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.iter().map(|(_, key)| key.clone()).collect()
    }
}

#[async_trait]
impl Connector for RecordingConnector {
    async fn call(&self, request: &Request, cx: &CallCx) -> Result<Response, ConnectorError> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((request.clone(), cx.idempotency_key.clone()));
        let scripted = self
            .script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        scripted.unwrap_or_else(|| {
            Ok(Response::Http(HttpResponse {
                status: 200,
                body: json!({"status": "ok"}),
                sandbox: false,
            }))
        })
    }
}
