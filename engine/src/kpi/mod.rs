//! Module KPIs: what each measures, exactly, and how it is computed from a tenant's runs of
//! the module's flow, their messages and steps, and the contact's events, for the runs
//! started in a period. A module declares the KPIs it is judged by (`kpis:` in its file; an
//! unknown name is a validation error); `GET /v1/metrics` answers them with these
//! definitions, and docs/kpis.md is generated from them.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::ports::{FollowingEvent, MetricsStore, Share, StoreError};

mod catalog;

/// How a KPI reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Seconds,
    Percent,
    Count,
    /// The Net Promoter Score, −100 to 100.
    Score,
    /// Money in the currency's minor unit (cents).
    Cents,
    Days,
}

/// How a KPI is computed.
#[derive(Debug, Clone, Copy)]
enum Compute {
    /// Percentiles of the time from a run's start to its first message.
    FirstResponse,
    /// The share of runs whose contact had one of these events within this many days.
    FollowedBy(&'static [&'static str], i64),
    /// The number of runs whose contact had one of these events within this many days.
    CountFollowedBy(&'static [&'static str], i64),
    /// The share of runs that reached a step whose id starts with this.
    ReachedStep(&'static str),
    /// Events of the first type, less those of the second (a mark taken back), per event of
    /// the third, received in the period.
    EventRatio(&'static str, Option<&'static str>, &'static str),
    /// The NPS of contacts scored in the period (`fields.nps_score`, `fields.nps_at`).
    Nps,
    /// The sum of `data.amount_paid` of `payment.succeeded` events within this many days.
    RevenueWithin(i64),
    /// Days from a run's start to the contact's first payment in full within this many days.
    DaysToPaid(i64),
}

/// A KPI a module can declare.
#[derive(Debug, Clone, Copy)]
pub struct Kpi {
    pub name: &'static str,
    pub unit: Unit,
    /// What it measures, exactly.
    pub definition: &'static str,
    compute: Compute,
}

pub use catalog::KPIS;

/// The KPI of this name.
pub fn kpi(name: &str) -> Option<&'static Kpi> {
    KPIS.iter().find(|k| k.name == name)
}

/// A KPI's value over a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Measured {
    pub name: String,
    pub unit: Unit,
    /// `None` when nothing in the period could be measured (no runs, no scores).
    pub value: Option<f64>,
    /// For times: the median and the 90th percentile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p90: Option<f64>,
    /// What the value is made of: the numerator (runs with the outcome, promoters minus
    /// detractors, events) and the denominator (runs, respondents, events).
    pub numerator: u64,
    pub denominator: u64,
    pub definition: String,
}

/// The `q`-th percentile (0–100) of sorted `values`, by the nearest-rank method.
fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank - 1).copied()
}

/// The event a payment is.
const PAID: &str = "payment.succeeded";

/// An amount in cents as a payment event gives it (a whole number, or its text); 0 otherwise.
fn cents(value: &serde_json::Value) -> u64 {
    match value {
        serde_json::Value::Number(n) => n.as_u64().unwrap_or(0),
        serde_json::Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// Whether a payment left nothing due: `amount_due` absent, or zero. An amount that cannot be
/// read is not taken for zero.
fn nothing_due(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::Number(n) => n.as_f64() == Some(0.0),
        serde_json::Value::String(s) => s.trim().parse::<f64>().is_ok_and(|d| d == 0.0),
        _ => false,
    }
}

/// The runs of the period, and the payments that followed them within `within`, each
/// payment once (see [`each_to_its_run`]).
async fn payments_after_runs(
    store: &dyn MetricsStore,
    tenant_id: &str,
    flow_id: &str,
    from: Timestamp,
    to: Timestamp,
    within: SignedDuration,
) -> Result<(u64, Vec<FollowingEvent>), StoreError> {
    let share = store
        .runs_followed_by(tenant_id, flow_id, from, to, &[PAID], within)
        .await?;
    let payments = store
        .events_following_runs(tenant_id, flow_id, from, to, &[PAID], within)
        .await?;
    Ok((share.runs, each_to_its_run(payments)))
}

/// Each event once, with the contact's latest run that started before it: a contact with
/// several runs (an invoice per job) has each payment counted for one of them.
fn each_to_its_run(events: Vec<FollowingEvent>) -> Vec<FollowingEvent> {
    let mut latest: std::collections::HashMap<String, FollowingEvent> = Default::default();
    for event in events {
        match latest.get(&event.event_id) {
            Some(kept) if kept.run_started >= event.run_started => {}
            _ => {
                latest.insert(event.event_id.clone(), event);
            }
        }
    }
    latest.into_values().collect()
}

fn round_tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn percent(with: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| (with as f64 * 1000.0 / of as f64).round() / 10.0)
}

impl Kpi {
    /// This KPI for the tenant's runs of `flow_id` started in `[from, to)`.
    pub async fn measure(
        &self,
        store: &dyn MetricsStore,
        tenant_id: &str,
        flow_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Measured, StoreError> {
        let mut measured = Measured {
            name: self.name.to_owned(),
            unit: self.unit,
            value: None,
            p50: None,
            p90: None,
            numerator: 0,
            denominator: 0,
            definition: self.definition.to_owned(),
        };
        let days = |n: i64| SignedDuration::from_hours(24 * n);
        match self.compute {
            Compute::FirstResponse => {
                let mut seconds = store
                    .first_response_seconds(tenant_id, flow_id, from, to)
                    .await?;
                seconds.sort_by(f64::total_cmp);
                measured.p50 = percentile(&seconds, 50.0);
                measured.p90 = percentile(&seconds, 90.0);
                measured.value = measured.p50;
                measured.denominator = seconds.len() as u64;
            }
            Compute::FollowedBy(types, within) | Compute::CountFollowedBy(types, within) => {
                let Share { runs, with } = store
                    .runs_followed_by(tenant_id, flow_id, from, to, types, days(within))
                    .await?;
                (measured.numerator, measured.denominator) = (with, runs);
                measured.value = match self.compute {
                    Compute::CountFollowedBy(..) => Some(with as f64),
                    _ => percent(with, runs),
                };
            }
            Compute::ReachedStep(step) => {
                let Share { runs, with } = store
                    .runs_reaching(tenant_id, flow_id, from, to, step)
                    .await?;
                (measured.numerator, measured.denominator) = (with, runs);
                measured.value = percent(with, runs);
            }
            Compute::EventRatio(numerator, taken_back, denominator) => {
                let mut n = store
                    .events_received(tenant_id, numerator, from, to)
                    .await?;
                if let Some(taken_back) = taken_back {
                    let back = store
                        .events_received(tenant_id, taken_back, from, to)
                        .await?;
                    n = n.saturating_sub(back);
                }
                let d = store
                    .events_received(tenant_id, denominator, from, to)
                    .await?;
                (measured.numerator, measured.denominator) = (n, d);
                measured.value = percent(n, d);
            }
            Compute::RevenueWithin(within) => {
                let (runs, payments) =
                    payments_after_runs(store, tenant_id, flow_id, from, to, days(within)).await?;
                let cents: u64 = payments.iter().map(|p| cents(&p.data["amount_paid"])).sum();
                let paid_runs: std::collections::HashSet<&str> =
                    payments.iter().map(|p| p.run_id.as_str()).collect();
                (measured.numerator, measured.denominator) = (paid_runs.len() as u64, runs);
                measured.value = (runs > 0).then_some(cents as f64);
            }
            Compute::DaysToPaid(within) => {
                let (runs, payments) =
                    payments_after_runs(store, tenant_id, flow_id, from, to, days(within)).await?;
                // Each run's first payment that left nothing due.
                let mut first: std::collections::HashMap<&str, f64> = Default::default();
                for p in payments
                    .iter()
                    .filter(|p| nothing_due(&p.data["amount_due"]))
                {
                    let waited = p.at.duration_since(p.run_started).as_secs_f64() / 86_400.0;
                    first
                        .entry(p.run_id.as_str())
                        .and_modify(|d| *d = d.min(waited))
                        .or_insert(waited);
                }
                let mut waited: Vec<f64> = first.into_values().collect();
                waited.sort_by(f64::total_cmp);
                (measured.numerator, measured.denominator) = (waited.len() as u64, runs);
                measured.p50 = percentile(&waited, 50.0).map(round_tenth);
                measured.p90 = percentile(&waited, 90.0).map(round_tenth);
                measured.value = (!waited.is_empty())
                    .then(|| round_tenth(waited.iter().sum::<f64>() / waited.len() as f64));
            }
            Compute::Nps => {
                let (mut promoters, mut detractors, mut respondents) = (0u64, 0u64, 0u64);
                for fields in store.contacts_with_field(tenant_id, "nps_score").await? {
                    let at = fields
                        .get("nps_at")
                        .and_then(|v| v.as_str())
                        .and_then(|t| t.parse::<Timestamp>().ok());
                    let score = fields.get("nps_score").and_then(|v| {
                        v.as_i64()
                            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    });
                    let (Some(at), Some(score)) = (at, score) else {
                        continue;
                    };
                    if at < from || at >= to || !(0..=10).contains(&score) {
                        continue;
                    }
                    respondents += 1;
                    match score {
                        9..=10 => promoters += 1,
                        0..=6 => detractors += 1,
                        _ => {}
                    }
                }
                measured.denominator = respondents;
                measured.numerator = promoters.saturating_sub(detractors);
                measured.value = (respondents > 0).then(|| {
                    ((promoters as f64 - detractors as f64) * 100.0 / respondents as f64).round()
                });
            }
        }
        Ok(measured)
    }
}

/// docs/kpis.md, from [`KPIS`].
pub fn reference() -> String {
    let mut out = String::from(
        "# KPIs\n\n<!-- Generated by `stepwise docs --write docs` from engine/src/kpi; do not edit. -->\n\nWhat `GET /v1/metrics` answers for each installed module, over the module's runs started in the period asked (`from` inclusive, `to` exclusive; default the last 30 days). Each answer carries its `numerator` and `denominator`, so a rate can be checked by hand; a KPI with nothing to measure is `null`.\n\n| KPI | unit | definition |\n| --- | --- | --- |\n",
    );
    for kpi in KPIS {
        let unit = serde_json::to_value(kpi.unit)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        out.push_str(&format!(
            "| `{}` | {unit} | {} |\n",
            kpi.name, kpi.definition
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(percentile(&values, 50.0), Some(5.0));
        assert_eq!(percentile(&values, 90.0), Some(9.0));
        assert_eq!(percentile(&[3.0], 90.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn percentages_have_one_decimal() {
        assert_eq!(percent(1, 3), Some(33.3));
        assert_eq!(percent(0, 0), None);
    }
}
