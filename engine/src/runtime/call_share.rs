//! Each tenant's share of a process's outside calls. A worker runs a bounded number of tasks
//! at once (`--concurrency`), and a task making a call holds its place until the provider
//! answers or the call times out. Without a share, one tenant whose calls hang (an `http` step
//! to a URL that never answers, a slow model) would hold every place, and every other
//! business's texts would wait behind it. With it, a tenant holds at most its share of calls
//! at a time; a run of a tenant at its share sleeps instead of calling, freeing its place, and
//! tries again later, later still the more of its runs were turned away (about one second for
//! every share's worth of them, at most a minute), so a stalled tenant's runs cost little
//! while they wait. Nothing is lost: the run's step is planned again when it wakes, as after
//! quiet hours.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::SignedDuration;

/// The hold of a run waiting for its tenant's share of calls.
pub const CALL_SHARE_HOLD: &str = "call share";

/// The longest a run waits before asking again.
const MAX_DEFER: SignedDuration = SignedDuration::from_secs(60);

#[derive(Debug, Default)]
struct TenantCalls {
    in_flight: usize,
    /// Runs turned away since the tenant last had no call in flight.
    turned_away: usize,
}

/// The calls in flight per tenant in this process.
#[derive(Debug)]
pub struct CallShare {
    per_tenant: usize,
    tenants: Mutex<HashMap<String, TenantCalls>>,
}

/// A call's place in its tenant's share, given back when dropped (after the call).
#[derive(Debug)]
pub struct CallPermit {
    share: Arc<CallShare>,
    tenant_id: String,
}

impl CallShare {
    /// At most `per_tenant` calls of one tenant at a time (at least one).
    pub fn new(per_tenant: usize) -> Arc<Self> {
        Arc::new(Self {
            per_tenant: per_tenant.max(1),
            tenants: Mutex::default(),
        })
    }

    /// A place for one call of `tenant_id`, or how long its run should sleep first.
    pub fn try_take(self: &Arc<Self>, tenant_id: &str) -> Result<CallPermit, SignedDuration> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let calls = tenants.entry(tenant_id.to_owned()).or_default();
        if calls.in_flight < self.per_tenant {
            calls.in_flight += 1;
            return Ok(CallPermit {
                share: self.clone(),
                tenant_id: tenant_id.to_owned(),
            });
        }
        calls.turned_away += 1;
        super::metrics::call_deferred();
        let shares_waiting = i64::try_from(calls.turned_away / self.per_tenant).unwrap_or(i64::MAX);
        // Spread over the next second too, so that the runs turned away together do not all
        // come back in the same instant.
        let spread =
            SignedDuration::from_millis(i64::try_from(calls.turned_away % 1000).unwrap_or(0));
        Err((SignedDuration::from_secs(shares_waiting.clamp(1, 60)) + spread).min(MAX_DEFER))
    }

    /// Calls of `tenant_id` in flight now.
    pub fn in_flight(&self, tenant_id: &str) -> usize {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.get(tenant_id).map_or(0, |c| c.in_flight)
    }
}

impl Drop for CallPermit {
    fn drop(&mut self) {
        let mut tenants = self.share.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(calls) = tenants.get_mut(&self.tenant_id) {
            calls.in_flight = calls.in_flight.saturating_sub(1);
            if calls.in_flight == 0 {
                tenants.remove(&self.tenant_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_at_its_share_waits_longer_the_more_of_its_runs_wait_and_others_go_on() {
        let share = CallShare::new(2);
        let first = share.try_take("mallory").expect("a place");
        let _second = share.try_take("mallory").expect("a place");
        let waits: Vec<SignedDuration> = (0..200)
            .map(|_| share.try_take("mallory").expect_err("over the share"))
            .collect();
        assert!(waits[0] >= SignedDuration::from_secs(1));
        assert!(
            waits[199] > waits[0],
            "{:?} then {:?}",
            waits[0],
            waits[199]
        );
        assert!(waits.iter().all(|w| *w <= MAX_DEFER));
        assert!(
            share.try_take("victim").is_ok(),
            "another tenant is not held"
        );
        assert_eq!(share.in_flight("mallory"), 2);

        drop(first);
        assert_eq!(share.in_flight("mallory"), 1);
        let _again = share.try_take("mallory").expect("a place given back");
    }

    #[test]
    fn a_tenant_with_no_call_in_flight_starts_afresh() {
        let share = CallShare::new(1);
        let only = share.try_take("t").expect("a place");
        for _ in 0..500 {
            let _ = share.try_take("t");
        }
        drop(only);
        assert_eq!(share.in_flight("t"), 0);
        let _next = share.try_take("t").expect("a place");
        let wait = share.try_take("t").expect_err("over the share");
        assert!(wait < SignedDuration::from_secs(2), "{wait:?}");
    }
}
