//! Contacts in bulk: declared custom fields, CSV imports, saved segments, sender pools and
//! campaigns.

pub mod campaign;
pub mod fields;
pub mod import;
pub mod members;
pub mod pools;
pub mod segment;
pub mod turns;
