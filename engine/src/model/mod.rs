//! Plain data types of the flow language and the runtime: no I/O here.

mod contact;
mod contact_change;
mod duration;
mod event;
mod flow;
mod module;
mod run;
mod settings;
mod step;
mod tenant;
mod trigger;

pub use contact::{Contact, e164, load_phone_metadata};
pub use contact_change::ContactChange;
pub use duration::{DURATION_PATTERN, DurationError, DurationUnit, FlowDuration};
pub use event::{Event, check_event_type, event_types_of};
pub use flow::{Concurrency, ConcurrencyKey, Flow, OnConflict};
pub use module::{Check, ChecklistItem, Module, Origin, Pack, PackModule};
pub use run::{Run, RunId, RunStatus, Waiting};
pub use settings::{
    ClockTime, OnError, OnUncertain, Purpose, QuietHoursKeyword, QuietHoursSetting, QuietWindow,
    RetryPolicy,
};
pub use step::{COMMON_KEYS, STEP_ID_PATTERN, Step, StepBody, missing_kind_message};
pub use tenant::{MAX_HOLIDAYS, Tenant};
pub use trigger::Trigger;
