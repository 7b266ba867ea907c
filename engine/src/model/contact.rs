//! A person a tenant talks to.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A contact as flows see it (`contact.*` in expressions and templates).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default)]
    pub id: String,
    /// E.164, e.g. `+15125550100`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// IANA time zone, e.g. `America/Los_Angeles`; quiet hours use it before the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Custom fields.
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// The contact replied STOP (or equivalent): no SMS is sent to them.
    #[serde(default)]
    pub sms_opt_out: bool,
    /// The contact unsubscribed from email: no marketing email is sent to them.
    #[serde(default)]
    pub email_opt_out: bool,
}
