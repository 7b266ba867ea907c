//! The executor and everything around it: advancing runs, ingesting events, compliance,
//! quiet hours, retries, and the simulator with its timeline.

mod admin;
mod advance;
pub mod builtin;
mod cache;
pub mod call_share;
mod commit;
pub mod compliance;
mod engine;
mod enroll;
mod fail;
mod first_event;
mod flows;
mod ingest;
mod library;
mod metrics;
pub mod quiet_hours;
pub mod reconcile;
mod record;
pub mod retry;
pub mod schedule;
mod setup;
mod simulate;
mod staff_alert;
mod start;
mod timeline;
mod unheard;
mod usage;

pub use advance::{Pause, RunCx};
pub use cache::{Expiring, FRESH_FOR};
pub use engine::{CALL_LEASE, Engine, IngestOutcome, TimerMode};
pub use enroll::Enrolment;
pub use flows::{Deployment, Published};
pub use ingest::{ContactWrite, run_id_for};
pub use record::{Happening, StepRecord, action_key};
pub use simulate::{Injection, Simulation, SimulationInput, simulate};
pub use timeline::{Entry as TimelineWhat, TimelineEntry, offset, render_text};
pub use unheard::{UNHEARD_WINDOW, Unheard};
pub use usage::{Cap, DayUsage, Sends, UsageReport};

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod interrupted_tests;
#[cfg(test)]
mod llm_answer_tests;
#[cfg(test)]
mod loop_tests;
#[cfg(test)]
mod tests;
