//! A business using Stepwise, as flows see it (`tenant.*`) and as the runtime applies its defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stepwise_core::ProviderSetting;

use super::{QuietWindow, RetryPolicy};

/// Tenant settings the engine needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tenant {
    #[serde(default)]
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: String,
    /// IANA time zone used for contacts without one, e.g. `America/Chicago`. Required: a
    /// silent UTC would put a US business's quiet hours in the middle of its customers' night.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub timezone: String,
    /// Quiet period applied to sends that honour quiet hours.
    #[serde(default)]
    pub quiet_hours: QuietWindow,
    /// Days the business is closed (public holidays), as local dates: marketing messages are
    /// not sent on them but held to the next open day's end of quiet hours. At most
    /// [`MAX_HOLIDAYS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, format = Date, max_items = 400))]
    pub holidays: Vec<jiff::civil::Date>,
    /// Retry policy for actions whose step and flow set none.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Reusable message snippets, used as handlebars partials: `{{> greeting}}`.
    #[serde(default)]
    pub snippets: BTreeMap<String, String>,
    /// ISO country whose numbering plan reads phone numbers written without `+`.
    #[serde(default = "default_country")]
    pub country: String,
    /// Who messages come from, by channel: `sms` → `+15125550100`, `email` → `Bright Smile
    /// <hello@brightsmile.example>`.
    #[serde(default)]
    pub senders: BTreeMap<String, String>,
    /// The provider for each capability (`sms`, `email`, `notify`, …) with its options, e.g.
    /// `sms: {provider: twilio, account_sid: AC…}`. A capability not listed uses the sandbox:
    /// nothing is sent. Credentials are never here; providers open them by name.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub providers: BTreeMap<String, ProviderSetting>,
    /// The secret in this tenant's webhook URLs (`/hooks/{hook_token}/{source}`). Made by the
    /// server, changed only by rotating it.
    #[serde(default)]
    pub hook_token: String,
    /// Options of webhook sources that are not providers, by source: `form: {allowed_origins,
    /// thank_you_url, honeypot}`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub sources: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// The answer to a contact's HELP or INFO text (default: the business's name and how to
    /// stop and restart messages). Not sent when the SMS provider's own opt-out handling
    /// answers HELP (`providers.sms.advanced_opt_out`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 320))]
    pub help_text: Option<String>,
    /// The business's postal address, printed in the footer of marketing email (CAN-SPAM): a
    /// flow that sends marketing email cannot be published without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 300))]
    pub postal_address: Option<String>,
    /// The custom fields contacts carry, by name, with their type (`plan: text`, `visits:
    /// number`): imports read a column as its field's type, and segments compare by it. At
    /// most 100.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, crate::audience::fields::FieldType>,
    /// Numbers to send campaigns from, by pool name: `main: [{number: "+1512…", kind:
    /// long_code}]`. At most 20 pools of 50 numbers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sender_pools: BTreeMap<String, Vec<crate::audience::pools::PoolNumber>>,
    /// Human takeover: the words with which a contact asks for a person, and what automated
    /// runs do while one handles them (see [the inbox](../../docs/conversations.md)).
    #[serde(default)]
    pub takeover: crate::inbox::Takeover,
    /// The operator's plan the business is on (its limits: see [`crate::usage`]); `None`:
    /// the operator's default plan. Set by the operator, not in settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Which sends the plan refuses now: measured when the settings are read, not stored.
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub quota: crate::usage::Quota,
}

/// The most holidays a tenant keeps (a year's public holidays are a dozen; this leaves
/// several years ahead).
pub const MAX_HOLIDAYS: usize = 400;

fn default_country() -> String {
    "US".into()
}

fn default_timezone() -> String {
    "UTC".into()
}

impl Default for Tenant {
    fn default() -> Self {
        Self {
            id: "tenant".into(),
            name: "Demo Business".into(),
            timezone: default_timezone(),
            quiet_hours: QuietWindow::default(),
            holidays: Vec::new(),
            retry: RetryPolicy::default(),
            snippets: BTreeMap::new(),
            country: default_country(),
            senders: BTreeMap::new(),
            providers: BTreeMap::new(),
            hook_token: String::new(),
            sources: BTreeMap::new(),
            help_text: None,
            postal_address: None,
            custom_fields: BTreeMap::new(),
            sender_pools: BTreeMap::new(),
            takeover: crate::inbox::Takeover::default(),
            plan: None,
            quota: crate::usage::Quota::default(),
        }
    }
}
