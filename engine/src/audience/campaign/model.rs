//! A campaign as stored and answered: a flow, an audience, when it starts, its send rate and
//! sender pool, where it stands, and its dispatcher's counters.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Who a campaign reaches: a saved segment, every contact with a tag, or a list of contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Audience {
    /// A segment's name (its filter as it is when each contact is reached).
    Segment(String),
    /// Contacts with this tag (an import's `tags` make one).
    Tag(String),
    /// These contacts (at most 1,000).
    Contacts(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CampaignStatus {
    /// Made, not launched.
    Draft,
    /// Launched; starts at `start_at`.
    Scheduled,
    Running,
    /// No contact is started until it is resumed; runs already started go on.
    Paused,
    /// Every contact of the audience was reached (started, or found unreachable).
    Completed,
    /// Stopped for good; runs already started go on.
    Cancelled,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "scheduled" => Self::Scheduled,
            "running" => Self::Running,
            "paused" => Self::Paused,
            "completed" => Self::Completed,
            "cancelled" => Self::Cancelled,
            _ => Self::Draft,
        }
    }
}

/// What the dispatcher did with the audience.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DispatchCounts {
    /// Contacts whose run was started (counted from the runs the campaign recorded, so a
    /// dispatcher killed mid-turn loses none).
    pub enrolled: u64,
    /// Contacts in their quiet hours (or on a closed day) at the last pass: reached when
    /// their morning comes.
    pub held: u64,
    /// Contacts that cannot be sent to (no phone, or opted out): no run is started.
    pub suppressed: u64,
    /// Contacts whose run the flow's `when` or concurrency rule did not start.
    pub not_started: u64,
}

/// A campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Campaign {
    pub id: String,
    pub name: String,
    /// The enabled flow each contact runs (a module's installed flow too).
    pub flow_id: String,
    pub audience: Audience,
    /// Contacts started per second (the campaign's first touches).
    pub per_second: f64,
    /// The sender pool (`settings.sender_pools`) its texts go from; `None`: the tenant's
    /// sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// When it starts once launched (default: at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub start_at: Option<Timestamp>,
    pub status: CampaignStatus,
    pub counts: DispatchCounts,
    /// Pool numbers taken out of this campaign because they kept failing (their latest
    /// delivery reports were failures); when every number is out the campaign pauses.
    /// Resuming puts them back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub numbers_out: Vec<NumberOut>,
    /// Passes over the audience so far (a pass after the first reaches those held).
    pub passes: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<Timestamp>,
}

/// A pool number a campaign stopped sending from, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NumberOut {
    pub number: String,
    /// The provider's error code on its latest failure (`unknown` without one).
    pub error_code: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub since: Timestamp,
}

/// Where a running campaign's dispatcher is: its pass's cursor, and the pacing window (the
/// rate applies from `window_start`, `window_started` contacts since).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The last contact id of this pass reached; `None` at a pass's start.
    pub after: Option<String>,
    #[serde(default)]
    pub held_this_pass: u64,
    pub window_start: Option<Timestamp>,
    #[serde(default)]
    pub window_started: u64,
    /// The next sender of the pool's rotation.
    #[serde(default)]
    pub rotation: u64,
    /// When the pool's numbers' delivery reports were last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_checked_at: Option<Timestamp>,
    /// When the campaign's numbers were last put back (a resume): reports on texts started
    /// before it no longer count against them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers_back_at: Option<Timestamp>,
}

/// What the messages of a campaign's runs did, counted from the outbox and events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageCounts {
    /// Runs the campaign started that are still running, sleeping or waiting.
    pub waiting: u64,
    pub sent: u64,
    pub delivered: u64,
    /// Undelivered or failed, as the provider reported.
    pub failed: u64,
    /// Contacts who texted back after their run started.
    pub replied: u64,
    /// Contacts who opted out after their run started.
    pub opted_out: u64,
}
