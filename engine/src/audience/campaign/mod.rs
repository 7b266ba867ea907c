//! Campaigns: a flow run for every contact of an audience (a segment, a tag, a list), started
//! at a set rate from a sender pool, in the recipients' open hours. A dispatcher (see
//! [`dispatch`]) on any worker process takes a running campaign for a turn, starts the
//! contacts its rate allows since the campaign's pacing window opened, and lets it go: the
//! window and the cursor are stored, so the rate holds across turns, workers and restarts.

mod counting;
pub mod dispatch;
mod model;
mod senders;

pub use counting::CampaignCounting;
pub use model::{
    Audience, Campaign, CampaignStatus, DispatchCounts, MessageCounts, NumberOut, Progress,
};

use crate::model::Tenant;

/// The most contacts a campaign's own list names.
pub const MAX_LISTED: usize = 1_000;
/// The highest rate a campaign may ask for, contacts a second.
pub const MAX_PER_SECOND: f64 = 1_000.0;
/// The most campaigns a tenant has scheduled or running at once: dispatchers take turns per
/// campaign, so this bounds the share of them one tenant can take.
pub const MAX_ACTIVE: usize = 10;

/// Checks a campaign against the tenant's settings: a rate in range and within its pool's
/// capacity, a pool that exists, a bounded list.
pub fn check(campaign: &Campaign, tenant: &Tenant) -> Result<(), String> {
    if campaign.name.trim().is_empty() || campaign.name.chars().count() > 200 {
        return Err("name: 1 to 200 characters".into());
    }
    let rate = campaign.per_second;
    if !(rate.is_finite() && rate > 0.0 && rate <= MAX_PER_SECOND) {
        return Err(format!("per_second: above 0, at most {MAX_PER_SECOND}"));
    }
    if let Some(pool) = &campaign.pool {
        let numbers = tenant
            .sender_pools
            .get(pool)
            .ok_or_else(|| format!("pool: no sender pool \"{pool}\" in settings.sender_pools"))?;
        let capacity = super::pools::capacity(numbers);
        if rate > capacity + 1e-9 {
            return Err(format!(
                "per_second: {rate} is more than pool \"{pool}\" may send ({capacity} a second from its {} numbers); add numbers or lower the rate",
                numbers.len()
            ));
        }
    }
    match &campaign.audience {
        Audience::Contacts(ids) if ids.is_empty() || ids.len() > MAX_LISTED => {
            Err(format!("audience.contacts: 1 to {MAX_LISTED} contact ids"))
        }
        Audience::Segment(name) | Audience::Tag(name) if name.is_empty() => {
            Err("audience: name a segment or a tag".into())
        }
        _ => Ok(()),
    }
}
