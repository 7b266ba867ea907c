//! The seam module KPIs are computed through: a few aggregates over one tenant's runs of one
//! flow, their messages and the contact's events, in a period of run start times.
//!
//! Contract: every method takes the tenant and reads only its rows; `from` is inclusive and
//! `to` exclusive; a run counts in the period it started in.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use super::StoreError;

/// An event of the contact that followed one of the runs counted.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowingEvent {
    pub event_id: String,
    pub run_id: String,
    pub run_started: Timestamp,
    pub at: Timestamp,
    /// The event's `data`.
    pub data: serde_json::Value,
}

/// How many of the runs counted and how many of them had the outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Share {
    pub runs: u64,
    pub with: u64,
}

#[async_trait]
pub trait MetricsStore: Send + Sync + std::fmt::Debug {
    /// For each run of `flow_id` that sent a message: seconds from its start to its first.
    async fn first_response_seconds(
        &self,
        tenant_id: &str,
        flow_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<f64>, StoreError>;
    /// Runs of `flow_id`, and those whose contact had an event of one of `event_types`
    /// within `within` of the run's start.
    async fn runs_followed_by(
        &self,
        tenant_id: &str,
        flow_id: &str,
        from: Timestamp,
        to: Timestamp,
        event_types: &[&str],
        within: SignedDuration,
    ) -> Result<Share, StoreError>;
    /// Runs of `flow_id`, and those that reached a step whose id starts with `step_prefix`
    /// (letters, digits and `_`).
    async fn runs_reaching(
        &self,
        tenant_id: &str,
        flow_id: &str,
        from: Timestamp,
        to: Timestamp,
        step_prefix: &str,
    ) -> Result<Share, StoreError>;
    /// Every event of one of `event_types` that the contact of a run of `flow_id` had within
    /// `within` of the run's start, with its run.
    async fn events_following_runs(
        &self,
        tenant_id: &str,
        flow_id: &str,
        from: Timestamp,
        to: Timestamp,
        event_types: &[&str],
        within: SignedDuration,
    ) -> Result<Vec<FollowingEvent>, StoreError>;
    /// Events of `event_type` received in the period.
    async fn events_received(
        &self,
        tenant_id: &str,
        event_type: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<u64, StoreError>;
    /// The `fields` of contacts that have the field `field` (a contact's custom fields).
    async fn contacts_with_field(
        &self,
        tenant_id: &str,
        field: &str,
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, StoreError>;
}
