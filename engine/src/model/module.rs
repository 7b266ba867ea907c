//! Modules (parameterised flows) and packs (niche bundles of modules), as documents.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Flow;

/// A reusable, parameterised flow (`modules/<id>/module.yaml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Module {
    /// Stable identifier, e.g. `speed-to-lead`.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]{0,63}$"))]
    pub id: String,
    /// Semantic version of the module, e.g. `1.0.0`.
    #[schemars(regex(pattern = r"^[0-9]+\.[0-9]+\.[0-9]+$"))]
    pub version: String,
    /// A human name.
    pub name: String,
    /// One sentence on what it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub summary: Option<String>,
    /// Key performance indicators the engine computes for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kpis: Vec<String>,
    /// JSON Schema of the tenant's settings (`config.*`), with defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "BTreeMap<String, Value>")]
    pub config: Option<Value>,
    /// Default message copy (`templates.*`); a pack and then a tenant may override each one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<String, String>,
    /// The flow body; it reads `config.*` and `templates.*`.
    pub flow: Flow,
}

/// A niche bundle of modules (`packs/<niche>.yaml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pack {
    /// Stable identifier, e.g. `dental`.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]{0,63}$"))]
    pub id: String,
    /// A human name, e.g. `Dental clinic`.
    pub name: String,
    /// What the pack is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub description: Option<String>,
    /// The modules it installs, with their pack-level settings.
    #[schemars(length(min = 1))]
    pub modules: Vec<PackModule>,
    /// What the business does to get going, in its own words; `GET /v1/onboarding?pack=`
    /// answers which items are done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checklist: Vec<ChecklistItem>,
}

/// One onboarding step of a pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChecklistItem {
    /// What the engine checks to call it done.
    pub check: Check,
    /// What to do, as the business would say it.
    pub title: String,
}

/// What an onboarding item checks in the tenant's settings and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// A real SMS provider (not the sandbox) is set for `sms`.
    SmsProvider,
    /// A real email provider is set for `email`.
    EmailProvider,
    /// A calendar's bookings come in (the Cal.com source, or a `calendar` provider).
    Calendar,
    /// A sender is set (`senders.sms` or `senders.email`).
    Sender,
    /// The HELP answer (`help_text`) is set.
    HelpText,
    /// At least one contact exists (imported or arrived).
    Contacts,
    /// At least one module is installed and on.
    Modules,
    /// An installed module has run at least once (a test lead, say).
    TestRun,
}

/// One module of a pack, with config defaults and copy for the niche.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackModule {
    /// The module id.
    pub module: String,
    /// Config values overriding the module's defaults.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, Value>,
    /// Message copy overriding the module's templates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<String, String>,
}

/// Where an installed module's flow came from: the module and its version, the pack, the
/// tenant's own overrides, and the copy the module and pack gave, which an upgrade merges from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Origin {
    /// The module id.
    pub module: String,
    /// The module's version.
    pub version: String,
    /// The pack that installed it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    /// The tenant's config values, over the module's defaults and the pack's.
    #[serde(default)]
    pub config: serde_json::Map<String, Value>,
    /// The tenant's copy, over the module's and the pack's.
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
    /// The copy the module and the pack gave, before the tenant's: the base an upgrade
    /// merges the tenant's edits and the new version's copy from.
    #[serde(default)]
    pub base_templates: BTreeMap<String, String>,
}
