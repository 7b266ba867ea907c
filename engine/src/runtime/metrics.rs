//! The engine's Prometheus metrics, through the `metrics` facade (the binary installs the
//! exporter; without one these are no-ops). Names and meanings are listed in docs/api.md
//! (Metrics). No tenant label: the number of tenants is unbounded.

use std::time::Duration;

use crate::model::RunStatus;

pub(super) fn event_ingested() {
    metrics::counter!("stepwise_events_ingested_total").increment(1);
}

pub(super) fn run_started() {
    metrics::counter!("stepwise_runs_started_total").increment(1);
}

/// Counts a run that reached `status`, if that status ends runs.
pub(super) fn run_ended(status: RunStatus) {
    let name = match status {
        RunStatus::Completed => "stepwise_runs_completed_total",
        RunStatus::Failed => "stepwise_runs_failed_total",
        RunStatus::Cancelled => "stepwise_runs_cancelled_total",
        _ => return,
    };
    metrics::counter!(name).increment(1);
}

/// How long one advance took: from reading the run to its last commit (the steps it ran,
/// provider calls included, until the run paused).
pub(super) fn advanced(took: Duration) {
    metrics::histogram!("stepwise_advance_duration_seconds").record(took.as_secs_f64());
}

/// A run that slept instead of calling: its tenant had its share of calls in flight.
pub(super) fn call_deferred() {
    metrics::counter!("stepwise_calls_deferred_total").increment(1);
}
