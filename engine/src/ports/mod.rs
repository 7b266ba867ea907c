//! The engine's seams, each a trait with its contract in its module doc: the store (durable
//! state), the queue (when to look at a run), the clock, and connectors (outside systems);
//! and, for the admin API, access control, team members, listings and the suppression list.

mod access;
mod audiences;
mod clock;
mod connector;
mod conversations;
mod edge;
mod listing;
mod members;
mod metrics;
mod queue;
mod store;
mod suppressions;
mod templates;
mod usage;

pub use access::{AccessStore, ApiKey, AuditEntry, Role, SecretInfo};
pub use audiences::{AudienceStore, CampaignChange, CampaignStore, ClaimedCampaign, ImportBatch};
pub use clock::{Clock, SystemClock, VirtualClock};
pub use connector::{
    ActionRequest, CallCx, Channel, Connector, ConnectorError, HttpResponse, OutboundMessage,
    Request, Response, Secret, Vault, VaultError,
};
pub use conversations::{
    Conversation, ConversationChange, ConversationFilter, ConversationStatus, ConversationStore,
    Direction, InboxChange, ThreadMessage, ThreadPage, conversation_id,
};
pub use edge::{Delivery, EdgeStore, StoredLink};
pub use listing::{
    ContactFilter, FlowSummary, FlowVersionInfo, Listings, MessageFilter, RunFilter, TimeCursor,
};
pub use members::{MAX_MEMBERS, Member, MemberRole, MemberStore};
pub use metrics::{FollowingEvent, MetricsStore, Share};
pub use queue::{AdvanceTask, Queue, QueueError};
pub use store::{
    EventContact, EventInsert, FlowDocument, LiveFlow, Message, Schedule, Store, StoreError,
    StoredEvent, TenantChange, TrackedLink, Transition, UnheardType,
};
pub use suppressions::{Suppression, SuppressionFilter, Suppressions, opted_out_addresses};
pub use templates::{
    MAX_TEMPLATES, MAX_VERSIONS, TemplateDraft, TemplateFilter, TemplateKind, TemplateStore,
    TemplateVersion, usable,
};
pub use usage::{DayCount, UsageStore};
