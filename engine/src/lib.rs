//! Stepwise's engine: the flow language and its validator, the expression sandbox, message
//! templates, step kinds, and the executor that advances runs over pluggable store, queue,
//! clock and connector seams.
//!
//! - [`model`]: plain data (flows, steps, contacts, events, runs, modules, packs)
//! - [`definition`]: YAML → schema → semantic checks → [`definition::CompiledFlow`]
//! - [`expr`], [`template`]: rhai conditions and handlebars messages
//! - [`steps`]: one folder per step kind, one registry line each
//! - [`catalog`], [`install`]: the modules and packs a tenant installs, and installing them
//! - [`runtime`]: the executor, compliance (consent, quiet hours), retries, the simulator
//! - [`ports`]: the seams (store, queue, clock, connector); [`store`], [`queue`]: in-memory implementations

pub mod audience;
pub mod catalog;
pub mod definition;
pub mod error;
pub mod expr;
pub mod inbound;
pub mod inbox;
pub mod install;
pub mod kpi;
pub mod model;
pub mod ports;
pub mod queue;
pub mod runtime;
pub mod scenario;
pub mod secrets;
pub mod steps;
pub mod store;
pub mod template;
pub mod testing;
pub mod usage;
pub mod vault;
