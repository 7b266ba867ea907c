//! The `stepwise` binary's library: the command line, the REST API, and tenants and keys
//! (shared by both).

pub mod access;
pub mod cli;
pub mod server;
