//! What starts a flow: an event, a schedule, or manual enrolment.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::FlowDuration;

/// Exactly one of `event`, `schedule` or `manual`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "oneOf" = [{"required": ["event"]}, {"required": ["schedule"]}, {"required": ["manual"]}],
    "dependentRequired" = {"when": ["event"], "audience": ["schedule"], "segment": ["schedule"], "reenroll_after": ["schedule"]}
))]
pub struct Trigger {
    /// Start a run when an event of this type arrives, e.g. `lead.created`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        with = "String",
        regex(pattern = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
    )]
    pub event: Option<String>,
    /// A rhai condition on the event and contact; the run starts only when it is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub when: Option<String>,
    /// A cron expression (5 fields, minute first) in the tenant's time zone, e.g. `0 9 * * *`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub schedule: Option<String>,
    /// For schedules: a rhai condition over `contact`; one run starts per matching contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub audience: Option<String>,
    /// For schedules: a saved segment (`PUT /v1/segments/{name}`); one run starts per
    /// contact in it (and for whom `audience`, if given, is true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", regex(pattern = r"^[a-z0-9_-]{1,64}$"))]
    pub segment: Option<String>,
    /// For schedules: a contact enrolled less than this long ago is not enrolled again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "FlowDuration")]
    pub reenroll_after: Option<FlowDuration>,
    /// `true`: runs start only through the API's enrol call (drips, broadcasts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub manual: Option<bool>,
}
