//! Enrolling a contact in a flow by hand (an admin's list of contacts): one run each,
//! started by an `enrolled` event as if it had arrived. Enrolling again under the same
//! enrolment id starts nothing twice.

use jiff::Timestamp;
use serde_json::json;

use super::engine::{Engine, IngestOutcome};
use super::ingest::run_id_for;
use crate::error::EngineError;
use crate::model::{Event, RunId};

/// Why a paced enrolment's run sleeps before its first step.
pub(super) const ENROLMENT_PACING: &str = "enrolment";

/// What enrolling one contact did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Enrolment {
    Started {
        run_id: RunId,
    },
    /// Enrolled before under this enrolment id.
    AlreadyEnrolled {
        run_id: RunId,
    },
    /// The flow's `when` or its concurrency rule kept the run from starting.
    NotStarted,
}

impl Engine {
    /// Starts a run of the enabled flow `flow_id` for `contact_id`. `enrolment` names this
    /// enrolment (e.g. a request's idempotency key) so that a retried request is harmless.
    /// With `not_before`, the run is stored at once and sleeps until then (pacing a large
    /// enrolment without holding anything in memory).
    pub async fn enroll(
        &self,
        tenant_id: &str,
        flow_id: &str,
        contact_id: &str,
        enrolment: &str,
        not_before: Option<Timestamp>,
    ) -> Result<Enrolment, EngineError> {
        self.enroll_with(
            tenant_id,
            flow_id,
            contact_id,
            enrolment,
            not_before,
            json!({}),
        )
        .await
    }

    /// [`Engine::enroll`] with more for the `enrolled` event's data (an object), e.g. the
    /// campaign that enrolled the contact and the number it sends from.
    pub async fn enroll_with(
        &self,
        tenant_id: &str,
        flow_id: &str,
        contact_id: &str,
        enrolment: &str,
        not_before: Option<Timestamp>,
        data: serde_json::Value,
    ) -> Result<Enrolment, EngineError> {
        let live = self.live_flows(tenant_id).await?;
        let Some(flow) = live.iter().find(|f| f.flow_id == flow_id) else {
            return Err(EngineError::WrongState(format!(
                "flow {flow_id} is not enabled (or does not exist)"
            )));
        };
        let tenant = self.tenant(tenant_id).await?;
        let contact = self.store.contact(tenant_id, contact_id).await?;
        let d = self.deployment(tenant_id, flow_id, flow.version).await?;
        let key = format!("{enrolment}/{contact_id}");
        let run_id = run_id_for(tenant_id, "enroll", &key, flow_id);
        if self.store.run(tenant_id, run_id).await.is_ok() {
            return Ok(Enrolment::AlreadyEnrolled { run_id });
        }
        let mut fields = match data {
            serde_json::Value::Object(fields) => fields,
            _ => serde_json::Map::new(),
        };
        fields.insert("enrolment".into(), json!(enrolment));
        let mut event = Event::new("enrolled", serde_json::Value::Object(fields));
        event.source = "enroll".into();
        event.external_id = Some(key);
        let mut outcome = IngestOutcome::default();
        match self
            .start_at(
                &d,
                &tenant,
                &contact,
                &event,
                run_id,
                not_before,
                &mut outcome,
            )
            .await?
        {
            Some(task) => {
                self.queue.schedule(task, self.clock.now()).await?;
                Ok(Enrolment::Started { run_id })
            }
            None if outcome.started.contains(&run_id) => Ok(Enrolment::Started { run_id }),
            None => Ok(Enrolment::NotStarted),
        }
    }
}
