//! One execution of one flow version, as the store keeps it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Event;

/// Version of the stored run state; bump it (and migrate) when [`Run`]'s meaning changes.
pub const RUN_FORMAT: u32 = 1;

/// A run's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunId(pub uuid::Uuid);

impl RunId {
    /// A new time-ordered id.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RunStatus {
    /// Waiting for an earlier run of the same contact to end (`on_conflict: queue`).
    Queued,
    /// Ready to advance now.
    Ready,
    /// Sleeping until `wake_at` (a wait, quiet hours or a retry backoff).
    Sleeping,
    /// Waiting for an event (`wait_for`), possibly with a timeout at `wake_at`.
    Waiting,
    Completed,
    Cancelled,
    /// Ended by an error: a dead letter that can be retried from the failed step.
    Failed,
}

impl RunStatus {
    pub fn is_active(self) -> bool {
        !matches!(self, Self::Completed | Self::Cancelled | Self::Failed)
    }
}

/// What a waiting run waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// The event type, e.g. `appointment.booked`.
    pub event: String,
    /// More event types that end the wait as well (`wait_for.event` given as a list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub or: Vec<String>,
    /// When the wait gives up, if ever.
    pub timeout_at: Option<jiff::Timestamp>,
}

impl Waiting {
    /// Whether an event of this type ends the wait.
    pub fn takes(&self, event_type: &str) -> bool {
        self.event == event_type || self.or.iter().any(|t| t == event_type)
    }
}

/// The durable state of a run: everything needed to resume it anywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub format: u32,
    pub id: RunId,
    pub tenant_id: String,
    pub flow_id: String,
    pub flow_version: u32,
    pub contact_id: String,
    pub status: RunStatus,
    /// Cursor: the index of the next instruction of the compiled flow.
    pub pc: usize,
    /// Attempt number of the action at `pc` (0 before the first attempt).
    pub attempt: u32,
    /// Guards every transition: a transition applies only to the `seq` it was computed from.
    pub seq: u64,
    /// `vars.*`: values set by `set` steps.
    pub vars: Map<String, Value>,
    /// `steps.<id>`: outputs of finished steps.
    pub outputs: Map<String, Value>,
    /// The event that started the run (`event.*`).
    pub trigger: Event,
    pub wake_at: Option<jiff::Timestamp>,
    pub waiting: Option<Waiting>,
    /// Why the run holds at `pc` while sleeping (quiet hours, retry backoff, wait).
    pub hold: Option<String>,
    /// The idempotency key of an action that was started and not yet recorded as finished.
    pub in_flight: Option<String>,
    pub started_at: jiff::Timestamp,
    pub ended_at: Option<jiff::Timestamp>,
    /// Why the run ended, or the last error of a failed run.
    pub end_reason: Option<String>,
}

impl Run {
    /// A new run at the first step.
    pub fn start(
        tenant_id: &str,
        flow_id: &str,
        flow_version: u32,
        contact_id: &str,
        trigger: Event,
        now: jiff::Timestamp,
    ) -> Self {
        Self {
            format: RUN_FORMAT,
            id: RunId::new(),
            tenant_id: tenant_id.into(),
            flow_id: flow_id.into(),
            flow_version,
            contact_id: contact_id.into(),
            status: RunStatus::Ready,
            pc: 0,
            attempt: 0,
            seq: 0,
            vars: Map::new(),
            outputs: Map::new(),
            trigger,
            wake_at: None,
            waiting: None,
            hold: None,
            in_flight: None,
            started_at: now,
            ended_at: None,
            end_reason: None,
        }
    }
}
