//! The seam to the inbox: a conversation per contact and channel, kept by the store in the
//! same commit as each message that changes it (a run's send, an inbound message's event),
//! listed newest first with filters, read as a thread, and handled by staff (read, assign,
//! snooze, close).
//!
//! Contract: every method takes the tenant and touches only its rows. A new inbound message
//! reopens a closed or snoozed conversation and counts as unread; a send does neither. An
//! inbound message that asks for a person (`data.takeover`) makes it `needs_human`, which
//! only a release (or a close) ends.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AuditEntry, Channel, StoreError};

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConversationStatus {
    Open,
    /// Out of the open list until `snoozed_until`, or the contact's next message.
    Snoozed,
    Closed,
    /// A person must answer (the contact asked for one, or staff took it over): the
    /// contact's automated messages hold until a member releases it.
    NeedsHuman,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Snoozed => "snoozed",
            Self::Closed => "closed",
            Self::NeedsHuman => "needs_human",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Snoozed, Self::Closed, Self::NeedsHuman]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Direction {
    Inbound,
    Outbound,
}

/// A conversation as the inbox lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conversation {
    pub id: String,
    pub contact_id: String,
    pub channel: Channel,
    /// As it is now: a snooze that has run out reads `open`.
    pub status: ConversationStatus,
    /// The member it is assigned to.
    pub assignee: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub snoozed_until: Option<Timestamp>,
    /// Inbound messages since it was last read.
    pub unread: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub last_message_at: Timestamp,
    pub last_direction: Direction,
    /// The business's number the contact last wrote to, or last heard from when a flow chose
    /// it (a pool's number): replies by hand go from it, so the contact sees one thread.
    pub sender: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

/// Which conversations to list; every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub status: Option<ConversationStatus>,
    pub assignee: Option<String>,
    pub unassigned: bool,
    pub channel: Option<Channel>,
    pub has_unread: bool,
    /// Only conversations whose contact has this tag.
    pub tag: Option<String>,
    /// Conversations whose last message is before this one's (`last_message_at`, `id`).
    pub before: Option<(Timestamp, String)>,
    pub now: Option<Timestamp>,
}

/// A page of a thread.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadPage {
    /// Oldest first.
    pub messages: Vec<ThreadMessage>,
    /// When older messages are left: the time to ask for those before (the oldest message's
    /// here). A page never ends between two messages of the same microsecond (an inbound
    /// text and a send can share one), so asking before it misses none.
    pub older_before: Option<Timestamp>,
}

/// One message of a thread.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ThreadMessage {
    pub direction: Direction,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    pub text: String,
    /// Outbound: the run that sent it, its outbox status and the provider's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// Outbound: the flow of the run that sent it (`inbox-reply` for a reply by hand) and,
    /// for a reply by hand, the member who sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// Inbound: the event it arrived as (`message.received`, `contact.opted_out`, …); the
    /// automatic answer to a HELP (outbound, sent in the provider's reply to the webhook, so
    /// with no run): `help.requested`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<Value>,
}

/// What staff do to a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum ConversationChange {
    Read,
    Assign(Option<String>),
    Snooze(Timestamp),
    Close,
    Reopen,
    /// Staff take it over: `needs_human`, as if the contact had asked for a person.
    TakeOver,
    /// A member hands it back to automation: `open`; the contact's held runs go on.
    Release,
}

/// One change of a tenant's inbox, as the live stream sends it: a new message (`message`)
/// or a change to a conversation (`conversation`: read, assigned, snoozed, closed, reopened,
/// taken over, released).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboxChange {
    /// Numbered in commit order per store (the stream's event id).
    pub seq: u64,
    pub kind: String,
    pub data: Value,
    pub at: Timestamp,
}

/// The id of the conversation of a contact on a channel (the same on every process).
pub fn conversation_id(contact_id: &str, channel: Channel) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}\n{contact_id}", channel.as_str()).as_bytes());
    format!("cv_{}", &hex::encode(digest)[..24])
}

#[async_trait]
pub trait ConversationStore: Send + Sync + std::fmt::Debug {
    /// Up to `limit` conversations, newest message first. With a tag filter only a window
    /// of the conversations is read (a bounded cost whatever the tag): the page may hold
    /// fewer than `limit`, and [`ConversationStore::tag_scan_end`] says where to go on.
    async fn conversations(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
        limit: u32,
    ) -> Result<Vec<Conversation>, StoreError>;
    /// With a tag filter: the last conversation (`last_message_at`, `id`) of the window the
    /// listing read, when it read a whole one (more may follow); `None` when it read to
    /// the end, or without a tag filter.
    async fn tag_scan_end(
        &self,
        tenant_id: &str,
        filter: &ConversationFilter,
    ) -> Result<Option<(Timestamp, String)>, StoreError>;
    async fn conversation(&self, tenant_id: &str, id: &str) -> Result<Conversation, StoreError>;
    /// The newest messages of the conversation (those before `before`, when given), at most
    /// `limit`, oldest first, and where the next older page starts.
    async fn thread(
        &self,
        tenant_id: &str,
        conversation: &Conversation,
        before: Option<Timestamp>,
        limit: u32,
    ) -> Result<ThreadPage, StoreError>;
    /// Applies a staff action, with its audit entry if it has one (marking read has none);
    /// answers the conversation as it is now.
    async fn change_conversation(
        &self,
        tenant_id: &str,
        id: &str,
        change: &ConversationChange,
        audit: Option<&AuditEntry>,
    ) -> Result<Conversation, StoreError>;
    /// Up to `limit` of the tenant's inbox changes numbered above `after`, in order.
    async fn inbox_changes(
        &self,
        tenant_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<InboxChange>, StoreError>;
    /// The number of the tenant's latest inbox change (0: none yet).
    async fn last_inbox_change(&self, tenant_id: &str) -> Result<u64, StoreError>;
    /// Forgets every tenant's inbox changes made before `before`; answers how many.
    async fn prune_inbox_changes(&self, before: Timestamp) -> Result<u64, StoreError>;
}
