//! Connectors: the code that talks to outside systems. Each lives in its own folder and is
//! listed once in [`registry`]. Until a tenant configures a provider, every action goes to
//! the [`sandbox`], which records what would have been sent and sends nothing.

pub mod http;
pub mod registry;
pub mod sandbox;

pub use http::Http;
pub use registry::Connectors;
pub use sandbox::Sandbox;
