//! The append-only history of a run: one record per thing that happened. The simulator's
//! timeline and the API's run history are both renderings of these records.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One thing that happened to a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub at: Timestamp,
    /// The step it concerns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Attempt number for actions (1 = first try).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempt: u32,
    #[serde(flatten)]
    pub what: Happening,
}

/// An action's idempotency key, which is also its outbox id: `run:step:attempt`, with the
/// item numbers of the loops around the step after its id (`run:step.2:attempt`), so each
/// iteration's send is its own.
pub fn action_key(
    run_id: impl std::fmt::Display,
    step: &str,
    iteration: &str,
    attempt: u32,
) -> String {
    if iteration.is_empty() {
        format!("{run_id}:{step}:{attempt}")
    } else {
        format!("{run_id}:{step}.{iteration}:{attempt}")
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Happening {
    Started {
        flow: String,
        version: u32,
        trigger: String,
    },
    /// A message went to the contact.
    Sent {
        channel: String,
        to: String,
        /// The number a text went from when the step or its pool chose one (else the
        /// tenant's sender): the conversation remembers it, so a reply by hand goes from it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        segments: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        encoding: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        provider_id: Option<String>,
        /// What the provider answered: `queued` (Twilio), `sent`; later reports are in the outbox.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        /// The item numbers of the `for_each` loops the step ran in (`2`, `0.3`): with the
        /// step and attempt, the send's idempotency key and outbox id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        iteration: Option<String>,
    },
    /// Another action was performed (notify, http, crm, calendar, llm).
    Called {
        connector: String,
        action: String,
        request: Value,
        result: Value,
    },
    /// A message was not sent, by design.
    Suppressed {
        channel: String,
        reason: String,
    },
    /// A message is held until the contact's quiet hours end.
    QuietHold {
        until: Timestamp,
        reason: String,
    },
    /// A text waits for its pool number's next free slot (the number's rate, shared by every
    /// run and worker that sends from it).
    Paced {
        until: Timestamp,
        number: String,
    },
    /// A message is held while a person handles the contact (human takeover); it goes on
    /// when a member releases the conversation.
    TakeoverHold {
        reason: String,
    },
    /// The flow handed the contact to a person (`hand_over`): their conversation on the
    /// channel needs a human, from this record's commit.
    HandedOver {
        channel: String,
        reason: String,
    },
    Condition {
        expression: String,
        result: bool,
    },
    Computed {
        output: Value,
    },
    /// A `for_each` began an iteration: item `index` (from 0) of `count`.
    Iteration {
        index: usize,
        count: usize,
        item: Value,
    },
    Sleeping {
        until: Timestamp,
    },
    WaitSkipped {
        until: Timestamp,
    },
    WaitingFor {
        event: String,
        /// More event types that end the wait as well.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        or: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout_at: Option<Timestamp>,
    },
    /// The run woke: `by` is `timer`, `timeout` or an event type.
    Woke {
        by: String,
    },
    RetryScheduled {
        retry_at: Timestamp,
        error: String,
    },
    /// An action failed and the step's `on_error` let the run go on.
    ErrorHandled {
        error: String,
        policy: String,
    },
    /// A send may or may not have happened (crash or provider timeout); not repeated.
    Uncertain {
        error: String,
    },
    Ended {
        status: String,
        reason: String,
    },
}
