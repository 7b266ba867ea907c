//! Timers in the memory store: runs sleeping or waiting until a time, claimed once per
//! `seq` (so a reconciler pass does not queue a run twice), and every run due by a time.

use jiff::Timestamp;

use super::MemoryStore;
use crate::model::{RunId, RunStatus};
use crate::ports::AdvanceTask;

impl MemoryStore {
    /// Claims the timers due by `until` not yet claimed at their run's `seq`, earliest first,
    /// at most `limit`.
    pub(super) fn claim_due_timers(
        &self,
        until: Timestamp,
        limit: u32,
    ) -> Vec<(AdvanceTask, Timestamp)> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        let mut due: Vec<(Timestamp, String, RunId)> = Vec::new();
        for (tenant_id, t) in tenants.iter() {
            for r in t.runs.values() {
                let timed = matches!(r.status, RunStatus::Sleeping | RunStatus::Waiting);
                let claimed = t.queued.get(&r.id) == Some(&r.seq);
                if let Some(at) = r.wake_at.filter(|at| timed && !claimed && *at <= until) {
                    due.push((at, tenant_id.clone(), r.id));
                }
            }
        }
        due.sort();
        due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let mut out = Vec::new();
        for (at, tenant_id, run_id) in due {
            let t = tenants.entry(tenant_id.clone()).or_default();
            if let Some(run) = t.runs.get(&run_id) {
                t.queued.insert(run_id, run.seq);
                out.push((AdvanceTask::for_run(&tenant_id, run), at));
            }
        }
        out
    }

    /// Every run due by `now`, earliest first, at most `limit`.
    pub(super) fn runs_due(&self, now: Timestamp, limit: u32) -> Vec<AdvanceTask> {
        let tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        let mut due: Vec<(Timestamp, AdvanceTask)> = tenants
            .iter()
            .flat_map(|(tenant_id, t)| {
                t.runs.values().filter_map(move |r| {
                    let at = r.wake_at.filter(|at| *at <= now)?;
                    Some((at, AdvanceTask::for_run(tenant_id, r)))
                })
            })
            .collect();
        due.sort_by_key(|(at, _)| *at);
        due.into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|(_, task)| task)
            .collect()
    }
}
