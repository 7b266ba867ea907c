//! Schedule triggers: `trigger: { schedule: "0 9 * * *", segment: lapsed, audience: <rhai>,
//! reenroll_after: 90d }`.
//!
//! Each scheduled flow keeps its next fire time in the store, computed with croner in the
//! tenant's time zone (5 fields, POSIX day-of-week; a daily time inside a daylight-saving gap
//! fires at the first valid time after it, and one inside a repeated hour fires once). A tick
//! enrols every contact in the segment (as it is at the tick) for whom the audience holds,
//! except those enrolled less than
//! `reenroll_after` ago, then moves the schedule on. Enrolment is idempotent (the run id
//! derives from the flow, the tick and the contact), so a crash mid-tick repeats nothing, and a
//! tick missed while everything was down still fires when the system is back.

use std::str::FromStr;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;

use super::engine::{Engine, IngestOutcome};
use super::ingest::run_id_for;
use crate::error::EngineError;
use crate::model::{Event, Run};
use crate::ports::{Schedule, StoreError};

/// The first tick of `expr` strictly after `after`, in `zone`.
pub fn next_fire(expr: &str, zone: &TimeZone, after: Timestamp) -> Option<Timestamp> {
    let cron = croner::Cron::from_str(expr).ok()?;
    let start = after.to_zoned(zone.clone());
    cron.find_next_occurrence(&start, false)
        .ok()
        .map(|z| z.timestamp())
}

/// Contacts are read in pages of this size.
const PAGE: u32 = 500;

impl Engine {
    /// Records when a newly published scheduled flow fires first.
    pub(super) async fn schedule_flow(
        &self,
        tenant_id: &str,
        flow_id: &str,
        version: u32,
        expr: &str,
    ) -> Result<(), EngineError> {
        let tenant = self.tenant(tenant_id).await?;
        let zone = TimeZone::get(&tenant.timezone).unwrap_or(TimeZone::UTC);
        let next = next_fire(expr, &zone, self.clock.now())
            .ok_or_else(|| EngineError::InvalidInput(format!("\"{expr}\" never fires")))?;
        let schedule = Schedule {
            tenant_id: tenant_id.to_owned(),
            flow_id: flow_id.to_owned(),
            version,
            next_fire_at: next,
        };
        self.store.save_schedule(&schedule).await?;
        Ok(())
    }

    /// Fires every schedule that is due; returns how many runs started.
    pub async fn fire_schedules_once(&self) -> Result<usize, EngineError> {
        let mut started = 0;
        for schedule in self.store.due_schedules(self.clock.now(), 100).await? {
            started += self.fire(&schedule).await?;
        }
        Ok(started)
    }

    async fn fire(&self, schedule: &Schedule) -> Result<usize, EngineError> {
        let tenant = self.tenant(&schedule.tenant_id).await?;
        let zone = TimeZone::get(&tenant.timezone).unwrap_or(TimeZone::UTC);
        let live = self.store.live_flows(&tenant.id).await?;
        let current = live
            .iter()
            .find(|f| f.flow_id == schedule.flow_id && f.version == schedule.version);
        let d = self
            .deployment(&tenant.id, &schedule.flow_id, schedule.version)
            .await?;
        let trigger = &d.flow.flow.trigger;
        let Some(expr) = trigger.schedule.as_deref() else {
            // The flow is no longer scheduled: retire the schedule.
            self.store
                .advance_schedule(schedule, Timestamp::MAX)
                .await?;
            return Ok(0);
        };
        let fire_at = schedule.next_fire_at;
        let mut outcome = IngestOutcome::default();
        let segment = match &trigger.segment {
            Some(name) => self.segment_filter(&tenant.id, d.flow.id(), name).await?,
            None => None,
        };
        let skipped = trigger.segment.is_some() && segment.is_none();
        if current.is_some() && !skipped {
            let mut after: Option<String> = None;
            loop {
                let page = self
                    .store
                    .contacts(&tenant.id, after.as_deref(), PAGE)
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(last.id.clone());
                let active = match (&segment, &self.audiences) {
                    (Some(filter), Some(audiences)) => {
                        crate::audience::members::activity(
                            audiences.as_ref(),
                            &tenant.id,
                            filter,
                            &page,
                        )
                        .await?
                    }
                    _ => Default::default(),
                };
                let now = self.clock.now();
                for contact in &page {
                    if let Some(filter) = &segment
                        && !filter.matches(
                            contact,
                            &tenant.timezone,
                            active.get(&contact.id).copied(),
                            now,
                        )
                    {
                        continue;
                    }
                    if let Some(period) = trigger.reenroll_after {
                        let last = self
                            .store
                            .last_run_started(&tenant.id, d.flow.id(), &contact.id)
                            .await?;
                        let since = fire_at
                            .to_zoned(zone.clone())
                            .checked_sub(period.to_span())
                            .map(|z| z.timestamp());
                        if let (Some(last), Ok(since)) = (last, since)
                            && last > since
                        {
                            continue;
                        }
                    }
                    let tick = format!("{fire_at}/{}", contact.id);
                    let mut event =
                        Event::new("schedule.fired", json!({ "fire_at": fire_at.to_string() }));
                    event.source = "schedule".into();
                    event.external_id = Some(tick.clone());
                    if let Some(audience) = &d.flow.audience {
                        let probe = Run::start(
                            &tenant.id,
                            d.flow.id(),
                            d.version,
                            &contact.id,
                            event.clone(),
                            fire_at,
                        );
                        let mut bindings = self.bindings(&d, &tenant, contact, &probe);
                        // One contact the audience cannot judge is skipped and logged;
                        // it never stops the schedule for the others.
                        match audience.eval_bool(&mut bindings) {
                            Ok(true) => {}
                            Ok(false) => continue,
                            Err(e) => {
                                tracing::warn!(tenant_id = %tenant.id, flow_id = %d.flow.id(), contact_id = %contact.id, why = %e.message, "the schedule's audience could not be evaluated for a contact; skipped");
                                continue;
                            }
                        }
                    }
                    let run_id = run_id_for(&tenant.id, "schedule", &tick, d.flow.id());
                    if self.store.run(&tenant.id, run_id).await.is_ok() {
                        continue; // enrolled before an interruption
                    }
                    if let Some(task) = self
                        .start(&d, &tenant, contact, &event, run_id, &mut outcome)
                        .await?
                    {
                        self.queue.schedule(task, self.clock.now()).await?;
                    }
                }
            }
        }
        let next = next_fire(expr, &zone, fire_at).unwrap_or(Timestamp::MAX);
        self.store.advance_schedule(schedule, next).await?;
        Ok(outcome.started.len())
    }

    /// The filter of the schedule's segment; `None` (logged) when there is no segment store
    /// (the simulator) or the segment was deleted since the flow was published: the tick
    /// starts no runs.
    async fn segment_filter(
        &self,
        tenant_id: &str,
        flow_id: &str,
        name: &str,
    ) -> Result<Option<crate::audience::segment::Filter>, EngineError> {
        let Some(audiences) = &self.audiences else {
            tracing::warn!(%tenant_id, %flow_id, segment = %name, "segments are not available here: the schedule's tick starts no runs");
            return Ok(None);
        };
        match audiences.segment(tenant_id, name).await {
            Ok(segment) => Ok(Some(segment.filter)),
            Err(StoreError::NotFound { .. }) => {
                tracing::warn!(%tenant_id, %flow_id, segment = %name, "the schedule's segment is gone: the tick starts no runs");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn daily_ticks_keep_their_wall_clock_time_across_dst() {
        let chicago = TimeZone::get("America/Chicago").unwrap();
        // 09:00 CST on Saturday, then 09:00 CDT on Sunday 2026-03-08 (23-hour day).
        assert_eq!(
            next_fire("0 9 * * *", &chicago, at("2026-03-07T12:00:00Z")),
            Some(at("2026-03-07T15:00:00Z"))
        );
        assert_eq!(
            next_fire("0 9 * * *", &chicago, at("2026-03-07T15:00:00Z")),
            Some(at("2026-03-08T14:00:00Z"))
        );
        // 02:30 does not exist on 2026-03-08: the tick is not skipped, it fires at 03:00 CDT.
        assert_eq!(
            next_fire("30 2 * * *", &chicago, at("2026-03-08T06:00:00Z")),
            Some(at("2026-03-08T08:00:00Z"))
        );
        // 01:30 happens twice on 2026-11-01: it fires once.
        let first = next_fire("30 1 * * *", &chicago, at("2026-11-01T05:00:00Z")).unwrap();
        let second = next_fire("30 1 * * *", &chicago, first).unwrap();
        assert_eq!(first, at("2026-11-01T06:30:00Z"));
        assert_eq!(second, at("2026-11-02T07:30:00Z"));
    }

    #[test]
    fn day_of_week_one_is_monday() {
        let utc = TimeZone::UTC;
        // 2026-11-23 is a Monday.
        assert_eq!(
            next_fire("0 9 * * 1", &utc, at("2026-11-22T00:00:00Z")),
            Some(at("2026-11-23T09:00:00Z"))
        );
    }
}
