//! Connectors: the code that talks to outside systems, both ways. Each provider lives in its
//! own folder and is listed once in [`registry`]; it implements the capabilities of
//! `stepwise-core` (typed requests, typed results, one error classification) and, where its
//! provider calls us back, a webhook source. Until a tenant configures a provider, every call
//! goes to the [`sandbox`], which records what would have been sent and sends nothing.
//!
//! Every provider uses the one [`outbound`] client (TLS, timeouts, size caps, the SSRF guard for
//! tenant URLs) and opens credentials through the core's `Vault` at call time.

pub mod calcom;
pub mod form;
pub mod hooks;
pub mod http;
pub mod links;
pub mod openai;
pub mod outbound;
pub mod provider;
pub mod registry;
pub mod sandbox;
pub mod slack;
pub mod smtp;
pub mod staff;
pub mod stripe;
pub mod twilio;

#[cfg(test)]
pub mod testing;

pub use outbound::{Guard, Outbound};
pub use provider::{Env, Provider};
pub use registry::Connectors;
pub use sandbox::Sandbox;
