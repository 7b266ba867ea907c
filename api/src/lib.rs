//! The `stepwise` command line (and, in later issues, the REST API).

pub mod cli;
pub mod server;
