//! A flow document: trigger, settings and steps.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{OnUncertain, Purpose, QuietHoursSetting, RetryPolicy, Step, Trigger};

/// One automation: what starts it, how it behaves, and its steps in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Stable identifier, unique per tenant, e.g. `speed-to-lead`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", regex(pattern = r"^[a-z0-9][a-z0-9_-]{0,63}$"))]
    pub id: Option<String>,
    /// A human name shown in the admin UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", length(max = 200))]
    pub name: Option<String>,
    /// What the flow is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub description: Option<String>,
    /// What starts a run.
    pub trigger: Trigger,
    /// Limits on simultaneous runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Concurrency")]
    pub concurrency: Option<Concurrency>,
    /// Event types that end a running run for the same contact (goals such as `appointment.booked`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancel_on: Vec<String>,
    /// Quiet hours: `inherit` (the tenant's), `off`, or `{ start: "21:00", end: "08:00" }`.
    /// Marketing sends always honour quiet hours; transactional sends only when this is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "QuietHoursSetting")]
    pub quiet_hours: Option<QuietHoursSetting>,
    /// `marketing` (default) or `transactional`; a step may override it.
    #[serde(default)]
    pub purpose: Purpose,
    /// Default retry policy for this flow's actions (else the tenant's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "RetryPolicy")]
    pub retry: Option<RetryPolicy>,
    /// Default for sends interrupted by a crash (`flag`, or `resend`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "OnUncertain")]
    pub on_uncertain: Option<OnUncertain>,
    /// The values this flow reads as `config.*`, declared as a JSON Schema object, as a
    /// module declares its config: `properties` (each with its `type` and, if it has one, its
    /// `default`) and `required`. The values come with the request that publishes the flow and
    /// are checked against it; a flow that reads `config.*` must declare it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub config: Option<serde_json::Value>,
    /// The steps, run in order.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
}

/// How many runs of this flow may be active at once for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Concurrency {
    /// What identifies "the same" run: the contact.
    #[serde(default)]
    pub key: ConcurrencyKey,
    /// What to do when a run for the same key is already active.
    pub on_conflict: OnConflict,
}

/// The key runs are limited by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConcurrencyKey {
    /// One active run per contact and flow.
    #[default]
    Contact,
}

/// What happens to a new trigger while a run for the same key is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnConflict {
    /// Do not start a new run.
    Skip,
    /// Cancel the active run and start a new one.
    Replace,
    /// Start the new run when the active one ends.
    Queue,
}
