//! Contacts in bulk: declared custom fields, CSV imports and saved segments.

pub mod fields;
pub mod import;
pub mod members;
pub mod segment;
