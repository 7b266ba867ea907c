//! The engine's seams, each a trait with its contract in its module doc: the store (durable
//! state), the queue (when to look at a run), the clock, and connectors (outside systems).

mod clock;
mod connector;
mod queue;
mod store;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use connector::{
    ActionRequest, ActionResult, CallCx, Channel, Connector, ConnectorError, OutboundMessage,
};
pub use queue::{AdvanceTask, Queue, QueueError};
pub use store::{
    EventInsert, FlowDocument, LiveFlow, Message, Schedule, Store, StoreError, StoredEvent,
    Transition,
};
