//! Flows and schedules in the memory store: a flow's versions in order (the latest is live
//! while the flow is enabled), and each scheduled flow's next tick, advanced only by the
//! caller that read it (compare-and-set, as the SQL stores do it).

use jiff::Timestamp;

use super::{MemoryStore, TenantData};
use crate::ports::{FlowDocument, LiveFlow, Schedule};

#[derive(Debug, Default)]
pub(super) struct FlowData {
    pub(super) enabled: bool,
    pub(super) versions: Vec<FlowDocument>,
}

impl TenantData {
    /// Adds a version (the flow enabled when new); answers its number.
    pub(super) fn save_flow(&mut self, flow_id: &str, doc: &FlowDocument) -> u32 {
        let flow = self
            .flows
            .entry(flow_id.to_owned())
            .or_insert_with(|| FlowData {
                enabled: true,
                versions: Vec::new(),
            });
        flow.versions.push(doc.clone());
        u32::try_from(flow.versions.len()).unwrap_or(u32::MAX)
    }

    pub(super) fn flow_version(&self, flow_id: &str, version: u32) -> Option<FlowDocument> {
        let index = usize::try_from(version).ok()?.checked_sub(1)?;
        self.flows.get(flow_id)?.versions.get(index).cloned()
    }

    /// Each enabled flow's latest version.
    pub(super) fn live_flows(&self) -> Vec<LiveFlow> {
        self.flows
            .iter()
            .filter(|(_, f)| f.enabled)
            .filter_map(|(id, f)| {
                Some(LiveFlow {
                    flow_id: id.clone(),
                    version: u32::try_from(f.versions.len()).ok()?,
                    doc: f.versions.last()?.clone(),
                })
            })
            .collect()
    }

    /// Moves the schedule's tick to `next` if it is still at the tick the caller read.
    pub(super) fn advance_schedule(&mut self, schedule: &Schedule, next: Timestamp) -> bool {
        match self.schedules.get_mut(&schedule.flow_id) {
            Some(current) if current.next_fire_at == schedule.next_fire_at => {
                current.next_fire_at = next;
                true
            }
            _ => false,
        }
    }
}

impl MemoryStore {
    /// Every tenant's schedules due at `now`, earliest first, at most `limit`.
    pub(super) fn schedules_due(&self, now: Timestamp, limit: u32) -> Vec<Schedule> {
        let tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        let mut due: Vec<Schedule> = tenants
            .values()
            .flat_map(|t| t.schedules.values())
            .filter(|s| s.next_fire_at <= now)
            .cloned()
            .collect();
        due.sort_by_key(|s| s.next_fire_at);
        due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        due
    }
}
