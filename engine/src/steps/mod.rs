//! Step kinds: one folder each, listed once in [`registry`].
//!
//! A kind declares its YAML key, its configuration (serde + JSON Schema: the doc comments are
//! the user documentation), the semantic checks that configuration needs, and `plan`: what
//! the step asks for when the run reaches it, computed without I/O. The runtime carries out
//! what `plan` returns (calls, sleeps, waits) and enforces consent, quiet hours, retries and
//! `on_error`; kinds never do.

pub mod registry;

mod branch;
mod calendar;
mod crm;
mod hand_over;
mod http;
mod llm;
mod notify;
mod payments;
mod send_email;
mod send_sms;
mod set;
mod stop;
mod tag;
mod update_contact;
mod wait;
mod wait_for;

pub mod context;
mod erased;
pub mod fields;
pub(crate) mod references;

pub use branch::eval_condition;
pub use context::{CheckCx, CheckSink, StepCx, StepError};
pub use erased::{ErasedKind, Kind, StepConfig};

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ports::{OutboundMessage, Request};

/// A step kind. See the module documentation.
pub trait StepKind: Send + Sync + 'static {
    /// The YAML key, e.g. `send_sms`.
    const KEY: &'static str;
    /// One line for the schema and the docs.
    const SUMMARY: &'static str;
    /// The fields the step leaves in `steps.<id>` for later steps, from every outcome it can
    /// have (a call's result, and `reason` where the runtime suppresses a send). Besides these,
    /// any step may hold [`FAILED_OUTPUTS`]. A misspelt `steps.<id>.<field>` is a validation
    /// error because of this list.
    const OUTPUTS: &'static [&'static str];
    type Config: DeserializeOwned + JsonSchema + std::fmt::Debug + Send + Sync + 'static;

    /// [`StepKind::OUTPUTS`], for kinds whose fields depend on their configuration (`set`).
    fn outputs(_config: &Self::Config) -> Vec<String> {
        Self::OUTPUTS.iter().map(|f| (*f).to_owned()).collect()
    }

    /// Semantic checks beyond the schema; registers templates and expressions to compile.
    fn check(config: &Self::Config, cx: &mut CheckCx<'_>);

    /// What the step asks for now.
    fn plan(config: &Self::Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError>;
}

/// What any step holds after it failed or its send was uncertain and `on_error` went on:
/// `{ status: failed | uncertain, error }`.
pub const FAILED_OUTPUTS: [&str; 2] = ["status", "error"];

/// A call a step asks the runtime to make.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionDraft {
    pub request: Request,
    pub message: Option<OutboundMessage>,
    /// The provider de-duplicates repeats by idempotency key.
    pub idempotent: bool,
    /// A text to send from this sender pool of the tenant's (when no `from` is set): the
    /// runtime gives the contact the pool's number they hear from (sticky), at its rate.
    pub sender_pool: Option<String>,
}

/// What a step asks for when the run reaches it.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// Done; `output` becomes `steps.<id>`.
    Next(Value),
    /// Make this call; its result becomes `steps.<id>`.
    Call(Box<ActionDraft>),
    /// Sleep until the given time, then go on; `output` becomes `steps.<id>`.
    Sleep { until: Timestamp, output: Value },
    /// Wait for an event of this type for the contact, until `timeout_at` if set.
    /// `filtered`: the step has a `match` expression the event must satisfy.
    WaitFor {
        event: String,
        /// More event types that end the wait as well.
        or: Vec<String>,
        timeout_at: Option<Timestamp>,
        filtered: bool,
    },
    /// End the run (completed) with this reason.
    Stop(String),
    /// A person takes over: the contact's conversation on `channel` needs a human, and the
    /// contact's automated messages hold, this run's next ones included.
    HandOver {
        channel: crate::ports::Channel,
        reason: String,
    },
}
