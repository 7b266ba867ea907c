//! The pool numbers a campaign texts from: each contact's sticky number and its next slot,
//! and the numbers taken out because their delivery reports keep failing.

use jiff::{SignedDuration, Timestamp};

use super::dispatch::Turn;
use super::{Campaign, NumberOut, Progress};
use crate::audience::pools::{self, PoolNumber};
use crate::model::{Contact, Tenant};
use crate::ports::StoreError;

/// How far ahead a pool number's slots may be booked; a number booked further is at its
/// rate, and its contacts wait for a later turn.
const SLOT_HORIZON: SignedDuration = SignedDuration::from_secs(1);
/// How often a campaign reads its pool numbers' delivery reports, and how many of each
/// number's latest contacts it reads.
const HEALTH_EVERY: SignedDuration = SignedDuration::from_secs(5);
const HEALTH_READ: u32 = 50;

/// The campaign's pool numbers it still sends from; `None` without a pool.
pub(super) fn usable_numbers(tenant: &Tenant, campaign: &Campaign) -> Option<Vec<PoolNumber>> {
    let numbers = tenant.sender_pools.get(campaign.pool.as_ref()?)?;
    Some(
        numbers
            .iter()
            .filter(|n| !campaign.numbers_out.iter().any(|o| o.number == n.number))
            .cloned()
            .collect(),
    )
}

impl Turn<'_> {
    /// The pool numbers this campaign should stop sending from, read from their delivery
    /// reports at most every [`HEALTH_EVERY`] (`progress` records the reading).
    pub(super) async fn failing_numbers(
        &self,
        tenant: &Tenant,
        campaign: &Campaign,
        progress: &mut Progress,
        now: Timestamp,
    ) -> Result<Vec<NumberOut>, StoreError> {
        let Some(numbers) = usable_numbers(tenant, campaign) else {
            return Ok(Vec::new());
        };
        if progress
            .health_checked_at
            .is_some_and(|at| now.duration_since(at) < HEALTH_EVERY)
        {
            return Ok(Vec::new());
        }
        progress.health_checked_at = Some(now);
        let mut out = Vec::new();
        for number in numbers {
            let reports = self
                .campaigns
                .sender_reports(
                    &tenant.id,
                    &campaign.id,
                    &number.number,
                    progress.numbers_back_at.unwrap_or(Timestamp::UNIX_EPOCH),
                    HEALTH_READ,
                )
                .await?;
            if let Some(error_code) = pools::keeps_failing(&reports) {
                tracing::warn!(number = %number.number, %error_code, "a pool number keeps failing: the campaign stops sending from it");
                metrics::counter!("stepwise_campaign_numbers_out_total").increment(1);
                out.push(NumberOut {
                    number: number.number.clone(),
                    error_code,
                    since: now,
                });
            }
        }
        Ok(out)
    }

    /// The pool number the contact hears from and the slot reserved on it for the contact's
    /// first text; `None` when the number is booked up past [`SLOT_HORIZON`].
    pub(super) async fn sender(
        &self,
        tenant: &Tenant,
        pool: &str,
        numbers: &[PoolNumber],
        turn: u64,
        contact: &Contact,
    ) -> Result<Option<(String, Timestamp)>, StoreError> {
        if numbers.is_empty() {
            return Ok(None);
        }
        let allowed: Vec<String> = numbers.iter().map(|n| n.number.clone()).collect();
        let candidate = &numbers[(turn as usize) % numbers.len()].number;
        let number = self
            .campaigns
            .sticky_sender(&tenant.id, pool, &contact.id, candidate, &allowed)
            .await?;
        let Some(spec) = numbers.iter().find(|n| n.number == number) else {
            return Ok(None);
        };
        let interval = spec.planned_interval();
        let slot = self
            .campaigns
            .reserve_number_slot(
                &tenant.id,
                &number,
                Timestamp::now(),
                interval,
                SLOT_HORIZON,
            )
            .await?;
        Ok(slot.map(|at| (number, at)))
    }
}
