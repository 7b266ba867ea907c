//! Each tenant's share of a process's outside calls. A worker runs a bounded number of tasks
//! at once (`--concurrency`), and a task making a call holds its place until the provider
//! answers or the call times out. Without a share, one tenant whose calls hang (an `http` step
//! to a URL that never answers, a slow model) would hold every place, and every other
//! business's texts would wait behind it.
//!
//! A tenant has at most its share of calls with providers at a time, and the process as a
//! whole at most three quarters of its places' worth ([`CallShare::new`]), so that a few
//! stalled tenants together cannot fill it either; a tenant with no call in flight always gets
//! one, so every business moves. The share is taken after the call's start is committed and
//! given back when the provider answers, so it counts time spent with providers only: a busy
//! tenant's fast calls pass through it at once, however slow the commits around them.
//!
//! A run refused a place first waits a moment in the process ([`PATIENCE`]), as long as fewer
//! than a share's worth of its tenant's runs, and an eighth of the places' worth of the
//! process's, wait already (a waiting run holds a place too). Only when no place frees within
//! that moment (calls hang), or too many wait, does the run put the call off instead
//! (`RunCx::put_off_call`): it gives the attempt back, frees its place, sleeps, and asks
//! again, later still the more of its tenant's runs were turned away (about a second for
//! every share's worth of them, at most a minute), so a stalled tenant's runs cost little
//! while they wait. Nothing is lost: the run's step is planned again when it wakes, as after
//! quiet hours. (A process that dies while a run waits for a place leaves the call as
//! started: it is recovered as an interrupted call, flagged rather than sent twice.)
//!
//! So a stalled tenant holds at most a share of calls and a share of waiters; stalled tenants
//! together hold at most three quarters of the places with calls and an eighth with waiters,
//! and the last eighth is always free for everyone else's work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jiff::SignedDuration;
use tokio::sync::Notify;

/// The hold of a run waiting for its tenant's share of calls.
pub const CALL_SHARE_HOLD: &str = "call share";

/// How long a run waits in the process for a place before sleeping.
pub const PATIENCE: Duration = Duration::from_millis(500);

/// The longest a run sleeps before asking again.
const MAX_DEFER: SignedDuration = SignedDuration::from_secs(60);

#[derive(Debug, Default)]
struct TenantCalls {
    in_flight: usize,
    /// Runs waiting in the process for a place.
    waiting: usize,
    /// Runs turned away since the tenant last had no call in flight.
    turned_away: usize,
}

#[derive(Debug, Default)]
struct Calls {
    tenants: HashMap<String, TenantCalls>,
    in_flight: usize,
    waiting: usize,
}

/// The calls in flight per tenant, and in all, in this process.
#[derive(Debug)]
pub struct CallShare {
    per_tenant: usize,
    /// Calls in flight in the process beyond which only a tenant with none gets a place.
    process_calls: usize,
    /// The most runs waiting in the process for a place.
    process_waiters: usize,
    calls: Mutex<Calls>,
    /// Told whenever a call ends.
    freed: Notify,
}

/// A call's place, given back when dropped (after the call).
#[derive(Debug)]
pub struct CallPermit {
    share: Arc<CallShare>,
    tenant_id: String,
}

/// Why a run is not calling now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPlace {
    /// No place now: wait a moment in the process ([`CallShare::take`]).
    Wait,
    /// Sleep this long, then ask again.
    Sleep(SignedDuration),
}

impl CallShare {
    /// At most `per_tenant` calls of one tenant at a time (at least one), in a process that
    /// advances `places` runs at once.
    pub fn new(per_tenant: usize, places: usize) -> Arc<Self> {
        let places = places.max(1);
        Arc::new(Self {
            per_tenant: per_tenant.max(1),
            process_calls: (places * 3 / 4).max(1),
            process_waiters: (places / 8).max(1),
            calls: Mutex::default(),
            freed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a call of `tenant_id` in flight if it may make one now.
    fn admit(&self, calls: &mut Calls, tenant_id: &str) -> bool {
        let process_full = calls.in_flight >= self.process_calls;
        let tenant = calls.tenants.entry(tenant_id.to_owned()).or_default();
        let admitted =
            tenant.in_flight == 0 || (tenant.in_flight < self.per_tenant && !process_full);
        if admitted {
            tenant.in_flight += 1;
            calls.in_flight += 1;
        }
        admitted
    }

    fn permit(self: &Arc<Self>, tenant_id: &str) -> CallPermit {
        CallPermit {
            share: self.clone(),
            tenant_id: tenant_id.to_owned(),
        }
    }

    /// A place now, if there is one; else whether to wait for one or sleep.
    pub fn try_take(self: &Arc<Self>, tenant_id: &str) -> Result<CallPermit, NoPlace> {
        let mut calls = self.lock();
        if self.admit(&mut calls, tenant_id) {
            return Ok(self.permit(tenant_id));
        }
        let process_waiting = calls.waiting;
        let tenant = calls.tenants.entry(tenant_id.to_owned()).or_default();
        if tenant.waiting >= self.per_tenant || process_waiting >= self.process_waiters {
            return Err(NoPlace::Sleep(self.turn_away(tenant)));
        }
        Err(NoPlace::Wait)
    }

    /// A place within [`PATIENCE`], or how long the run should sleep first.
    pub async fn take(self: &Arc<Self>, tenant_id: &str) -> Result<CallPermit, SignedDuration> {
        match self.try_take(tenant_id) {
            Ok(permit) => return Ok(permit),
            Err(NoPlace::Sleep(wait)) => return Err(wait),
            Err(NoPlace::Wait) => self.waiting(tenant_id, true),
        }
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            // Listening before looking, so a call that ends in between is not missed.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut calls = self.lock();
                if self.admit(&mut calls, tenant_id) {
                    drop(calls);
                    self.waiting(tenant_id, false);
                    return Ok(self.permit(tenant_id));
                }
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                self.waiting(tenant_id, false);
                let mut calls = self.lock();
                let tenant = calls.tenants.entry(tenant_id.to_owned()).or_default();
                return Err(self.turn_away(tenant));
            }
        }
    }

    /// Counts a run of `tenant_id` waiting in the process, or no longer.
    fn waiting(&self, tenant_id: &str, now: bool) {
        let mut calls = self.lock();
        calls.waiting = if now {
            calls.waiting + 1
        } else {
            calls.waiting.saturating_sub(1)
        };
        let tenant = calls.tenants.entry(tenant_id.to_owned()).or_default();
        tenant.waiting = if now {
            tenant.waiting + 1
        } else {
            tenant.waiting.saturating_sub(1)
        };
    }

    /// Counts a run turned away and answers how long it sleeps.
    fn turn_away(&self, tenant: &mut TenantCalls) -> SignedDuration {
        tenant.turned_away += 1;
        super::metrics::call_deferred();
        let shares = i64::try_from(tenant.turned_away / self.per_tenant).unwrap_or(i64::MAX);
        // Spread over the next second too, so that the runs turned away together do not all
        // come back in the same instant.
        let spread = i64::try_from(tenant.turned_away % 1000).unwrap_or(0);
        (SignedDuration::from_secs(shares.clamp(1, 60)) + SignedDuration::from_millis(spread))
            .min(MAX_DEFER)
    }

    /// Calls of `tenant_id` in flight now.
    pub fn in_flight(&self, tenant_id: &str) -> usize {
        self.lock()
            .tenants
            .get(tenant_id)
            .map_or(0, |t| t.in_flight)
    }
}

impl Drop for CallPermit {
    fn drop(&mut self) {
        let mut calls = self.share.lock();
        calls.in_flight = calls.in_flight.saturating_sub(1);
        if let Some(tenant) = calls.tenants.get_mut(&self.tenant_id) {
            tenant.in_flight = tenant.in_flight.saturating_sub(1);
            // No call in flight: the tenant starts afresh.
            if tenant.in_flight == 0 {
                tenant.turned_away = 0;
                if tenant.waiting == 0 {
                    calls.tenants.remove(&self.tenant_id);
                }
            }
        }
        drop(calls);
        self.share.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Paused time: each wait of PATIENCE passes at once.
    #[tokio::test(start_paused = true)]
    async fn a_tenant_at_its_share_waits_a_moment_then_sleeps_longer_the_more_are_turned_away() {
        let share = CallShare::new(2, 64);
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
        let share = CallShare::new(1, 64);
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

    #[tokio::test(start_paused = true)]
    async fn stalled_tenants_together_leave_room_and_a_tenant_without_calls_gets_one() {
        // 8 places: at most 6 calls in the process and 1 waiting run; 4 calls a tenant.
        let share = CallShare::new(4, 8);
        let mut held = Vec::new();
        for tenant in ["a", "b"] {
            for _ in 0..4 {
                if let Ok(permit) = share.try_take(tenant) {
                    held.push(permit);
                }
            }
        }
        assert_eq!(
            (share.in_flight("a"), share.in_flight("b")),
            (4, 2),
            "the process stops at three quarters of its places"
        );
        let c = share
            .try_take("c")
            .expect("a tenant with no call in flight gets one all the same");
        assert_eq!(
            share.try_take("c").err(),
            Some(NoPlace::Wait),
            "but no second"
        );

        let waiter = {
            let share = share.clone();
            tokio::spawn(async move { share.take("b").await.map(|_| ()) })
        };
        tokio::task::yield_now().await;
        assert!(
            matches!(share.try_take("a"), Err(NoPlace::Sleep(_))),
            "one run waits in the process at a time: the next sleeps"
        );
        drop(c);
        drop(held.remove(0)); // one of a's calls ends: the process has room for b's waiter
        assert_eq!(waiter.await.expect("the waiter"), Ok(()));
        assert_eq!(share.in_flight("a"), 3);
    }
}
