//! Each tenant's share of a process's outside calls. A worker runs a bounded number of tasks
//! at once (`--concurrency`), and a task making a call holds its place until the provider
//! answers or the call times out. Without a share, one tenant whose calls hang (an `http` step
//! to a URL that never answers, a slow model) would hold every place, and every other
//! business's texts would wait behind it.
//!
//! A tenant has at most its share of calls with providers at a time. The share is taken after
//! the call's start is committed and given back when the provider answers, so it counts time
//! spent with providers only: a busy tenant's fast calls pass through it at once, however slow
//! the commits around them. A run of a tenant at its share first waits a moment in the process
//! ([`PATIENCE`]); only when no place frees within that moment (its calls hang), or a share's
//! worth of its runs already wait, does the run put the call off instead
//! (`RunCx::put_off_call`): it gives the attempt back, frees its
//! place, sleeps, and asks again, later still the more of its runs were turned away (about a
//! second for every share's worth of them, at most a minute), so a stalled tenant's runs cost
//! little while they wait. Nothing is lost: the run's step is planned again when it wakes, as
//! after quiet hours. (A process that dies while a run waits for a place leaves the call as
//! started: it is recovered as an interrupted call, flagged rather than sent twice.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::SignedDuration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The hold of a run waiting for its tenant's share of calls.
pub const CALL_SHARE_HOLD: &str = "call share";

/// How long a run waits in the process for its tenant's next free place before sleeping.
pub const PATIENCE: Duration = Duration::from_millis(500);

/// The longest a run sleeps before asking again.
const MAX_DEFER: SignedDuration = SignedDuration::from_secs(60);

#[derive(Debug)]
struct TenantCalls {
    places: Arc<Semaphore>,
    /// Runs waiting in the process for a place.
    waiting: usize,
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
    place: Option<OwnedSemaphorePermit>,
    share: Arc<CallShare>,
    tenant_id: String,
}

/// Why a run is not calling now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPlace {
    /// Its tenant's places are taken: wait a moment in the process ([`CallShare::take`]).
    Wait,
    /// Sleep this long, then ask again.
    Sleep(SignedDuration),
}

impl CallShare {
    /// At most `per_tenant` calls of one tenant at a time (at least one).
    pub fn new(per_tenant: usize) -> Arc<Self> {
        Arc::new(Self {
            per_tenant: per_tenant.max(1),
            tenants: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TenantCalls>> {
        self.tenants.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn permit(self: &Arc<Self>, tenant_id: &str, place: OwnedSemaphorePermit) -> CallPermit {
        CallPermit {
            place: Some(place),
            share: self.clone(),
            tenant_id: tenant_id.to_owned(),
        }
    }

    /// A place now, if the tenant has one free; else whether to wait for one or sleep.
    pub fn try_take(self: &Arc<Self>, tenant_id: &str) -> Result<CallPermit, NoPlace> {
        let mut tenants = self.lock();
        let per_tenant = self.per_tenant;
        let calls = tenants
            .entry(tenant_id.to_owned())
            .or_insert_with(|| TenantCalls {
                places: Arc::new(Semaphore::new(per_tenant)),
                waiting: 0,
                turned_away: 0,
            });
        if let Ok(place) = calls.places.clone().try_acquire_owned() {
            drop(tenants);
            return Ok(self.permit(tenant_id, place));
        }
        if calls.waiting >= per_tenant {
            return Err(NoPlace::Sleep(self.turn_away(calls)));
        }
        Err(NoPlace::Wait)
    }

    /// A place within [`PATIENCE`], or how long the run should sleep first.
    pub async fn take(self: &Arc<Self>, tenant_id: &str) -> Result<CallPermit, SignedDuration> {
        let places = match self.try_take(tenant_id) {
            Ok(permit) => return Ok(permit),
            Err(NoPlace::Sleep(wait)) => return Err(wait),
            Err(NoPlace::Wait) => {
                let mut tenants = self.lock();
                let Some(calls) = tenants.get_mut(tenant_id) else {
                    return Err(SignedDuration::from_secs(1));
                };
                calls.waiting += 1;
                calls.places.clone()
            }
        };
        let got = tokio::time::timeout(PATIENCE, places.acquire_owned()).await;
        let mut tenants = self.lock();
        let Some(calls) = tenants.get_mut(tenant_id) else {
            return Err(SignedDuration::from_secs(1));
        };
        calls.waiting = calls.waiting.saturating_sub(1);
        match got {
            Ok(Ok(place)) => {
                drop(tenants);
                Ok(self.permit(tenant_id, place))
            }
            _ => Err(self.turn_away(calls)),
        }
    }

    /// Counts a run turned away and answers how long it sleeps.
    fn turn_away(&self, calls: &mut TenantCalls) -> SignedDuration {
        calls.turned_away += 1;
        super::metrics::call_deferred();
        let shares = i64::try_from(calls.turned_away / self.per_tenant).unwrap_or(i64::MAX);
        // Spread over the next second too, so that the runs turned away together do not all
        // come back in the same instant.
        let spread = i64::try_from(calls.turned_away % 1000).unwrap_or(0);
        (SignedDuration::from_secs(shares.clamp(1, 60)) + SignedDuration::from_millis(spread))
            .min(MAX_DEFER)
    }

    /// Calls of `tenant_id` in flight now.
    pub fn in_flight(&self, tenant_id: &str) -> usize {
        self.lock().get(tenant_id).map_or(0, |c| {
            self.per_tenant.saturating_sub(c.places.available_permits())
        })
    }
}

impl Drop for CallPermit {
    fn drop(&mut self) {
        drop(self.place.take());
        let mut tenants = self.share.lock();
        if let Some(calls) = tenants.get_mut(&self.tenant_id)
            && calls.places.available_permits() == self.share.per_tenant
        {
            // No call in flight: the tenant starts afresh.
            calls.turned_away = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Paused time: each wait of PATIENCE passes at once.
    #[tokio::test(start_paused = true)]
    async fn a_tenant_at_its_share_waits_a_moment_then_sleeps_longer_the_more_are_turned_away() {
        let share = CallShare::new(2);
        let first = share.try_take("mallory").expect("a place");
        let _second = share.try_take("mallory").expect("a place");
        assert_eq!(share.try_take("mallory").err(), Some(NoPlace::Wait));
        let mut waits = Vec::new();
        for _ in 0..20 {
            waits.push(share.take("mallory").await.expect_err("no place frees"));
        }
        assert!(waits[0] >= SignedDuration::from_secs(1));
        assert!(waits[19] > waits[0], "{:?} then {:?}", waits[0], waits[19]);
        assert!(waits.iter().all(|w| *w <= MAX_DEFER));
        assert!(
            share.try_take("victim").is_ok(),
            "another tenant is not held"
        );
        assert_eq!(share.in_flight("mallory"), 2);

        // A place freed while a run waits is its.
        let waiter = {
            let share = share.clone();
            tokio::spawn(async move { share.take("mallory").await.map(|_| ()) })
        };
        tokio::task::yield_now().await;
        drop(first);
        assert_eq!(waiter.await.expect("the waiter"), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_share_of_waiters_is_enough_and_an_idle_tenant_starts_afresh() {
        let share = CallShare::new(1);
        let only = share.try_take("t").expect("a place");
        let waiting = {
            let share = share.clone();
            tokio::spawn(async move { share.take("t").await.map(|_| ()) })
        };
        tokio::task::yield_now().await;
        assert!(
            matches!(share.try_take("t"), Err(NoPlace::Sleep(_))),
            "one waiter already: the next sleeps at once"
        );
        for _ in 0..50 {
            let _ = share.try_take("t");
        }
        drop(only);
        assert_eq!(waiting.await.expect("the waiter"), Ok(()));
        assert_eq!(share.in_flight("t"), 0);
        let _next = share.try_take("t").expect("a place");
        let wait = share.take("t").await.expect_err("over the share");
        assert!(wait < SignedDuration::from_secs(2), "{wait:?}");
    }
}
