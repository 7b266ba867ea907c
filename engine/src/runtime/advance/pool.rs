//! A text sent from one of the business's sender pools (`send_sms: {pool: main}`): the
//! contact hears from the same number of the pool every time (the number is looked up, or
//! given in turn and kept, by the caller: [`Pause::PickSender`]), and the text then takes that
//! number's next slot like a campaign's (as does any text from a pool number), so the
//! number keeps its carrier's rate; a text that wakes late for its slot takes a new one.

use super::{PACED, Pause, RunCx};
use crate::definition::StepMeta;
use crate::ports::Request;
use crate::steps::ActionDraft;

impl RunCx<'_> {
    /// Puts the number the contact hears from on a text sent from a pool; answers a pause
    /// when the caller must look it up first, or when the step failed (no such pool).
    pub(super) fn send_from_pool(
        &mut self,
        meta: &StepMeta,
        draft: &mut ActionDraft,
    ) -> Option<Pause> {
        let pool = draft.sender_pool.as_deref()?;
        let Request::Sms(sms) = &mut draft.request else {
            return None;
        };
        if sms.from.is_some() {
            return None;
        }
        let Some(numbers) = self.tenant.sender_pools.get(pool) else {
            let error = format!(
                "pool: the business has no sender pool named \"{pool}\" (settings.sender_pools)"
            );
            return self.fail_step(meta, error);
        };
        // Once looked up, the number is taken as found (the lookup keeps to the pool's
        // numbers), so one lookup is all a text asks for.
        if let Some((picked_pool, number)) = &self.picked_sender
            && picked_pool == pool
        {
            sms.from = Some(number.clone());
            return None;
        }
        let allowed: Vec<String> = numbers.iter().map(|n| n.number.clone()).collect();
        let candidate = allowed[spread(&self.contact.id) % allowed.len()].clone();
        Some(Pause::PickSender {
            pool: pool.to_owned(),
            candidate,
            allowed,
        })
    }

    /// A text from one of the tenant's pool numbers takes the number's next slot first, unless
    /// this run holds one already (the dispatcher reserves a campaign contact's first).
    pub(super) fn pace(&self, request: &Request) -> Option<Pause> {
        let Request::Sms(sms) = request else {
            return None;
        };
        let from = sms.from.as_deref()?;
        let number = crate::audience::pools::pool_number(&self.tenant.sender_pools, from)?;
        // A text that holds its slot goes, unless it woke more than a slot's length after it
        // (a busy worker, a queue that polls): sent then, it would go out beside the texts of
        // the next slots and the number would pass its rate. It takes a new slot instead.
        if self.run.hold.as_deref() == Some(PACED) {
            let late = self
                .slot
                .is_some_and(|slot| self.now.duration_since(slot) > number.planned_interval());
            if !late {
                return None;
            }
        }
        Some(Pause::Pace {
            number: number.number.clone(),
            interval: number.planned_interval(),
        })
    }

    /// The number [`Pause::PickSender`] found for the pool; the step is planned again with it.
    pub fn take_sender(&mut self, pool: String, number: String) {
        self.picked_sender = Some((pool, number));
    }
}

/// Contacts spread over a pool's numbers (FNV-1a of the contact's id): a contact's first
/// number, before it is kept.
fn spread(contact_id: &str) -> usize {
    let hash = contact_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % (u32::MAX as u64)) as usize
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn contacts_spread_over_a_pool() {
        let mut counts = [0_u32; 3];
        for i in 0..3_000 {
            counts[spread(&format!("ct_{i}")) % 3] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1_200).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(spread("ana"), spread("ana"));
    }
}
