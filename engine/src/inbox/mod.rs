//! What the engine does for the inbox besides keeping conversations (the store does that):
//! replies by hand through the flows' own send path ([`reply`]), and human takeover, which
//! holds a contact's automated messages while a person handles them ([`takeover`]), the
//! live stream's order ([`stream`]), and templates rendered before they are sent
//! ([`preview`]).

pub mod preview;
pub mod reply;
pub mod stream;
pub mod takeover;

pub use preview::{Preview, preview};
pub use reply::{Replied, Reply, ReplyStatus};
pub use takeover::{Automation, Takeover};
