//! When an idle worker fetches again: at once when this process pushed a task due now, else at
//! the next poll tick.
//!
//! apalis calls a worker's poll strategy before each fetch and ignores its answer: the strategy
//! exists to arm wakers, so that a worker parked after an empty fetch is woken again. Its own
//! `Strategy` (apalis-core 1.0) stops at the first ready source and leaves what it consumed
//! unarmed: a wake-up taken from a stream or a tick that just fired leaves a fresh future that
//! nobody polled. When the fetch that followed came back empty, nothing could wake the worker
//! but its next heartbeat, and timers stalled for up to the heartbeat interval (seen as 2–5 s
//! bursts of late timers on Redis). [`WakeOrTick`] polls every source on every call and polls
//! again whatever fired, so that each stays armed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis::prelude::{PollSnapshot, PollStrategy};
use tokio::sync::Notify;
use tokio::time::{Interval, MissedTickBehavior};

/// Tells this process's workers that it pushed a task due now, so they fetch at once rather
/// than at their next poll. Wake-ups coalesce: one pending wake-up fetches every task pushed
/// before it. Other processes' workers still find the task by polling.
#[derive(Debug, Clone, Default)]
pub struct Wakeups(Arc<Notify>);

impl Wakeups {
    /// Wakes a parked worker, or the next one to park.
    pub(super) fn wake(&self) {
        self.0.notify_one(); // stores one permit when no worker is waiting
    }
}

type Wait = Pin<Box<dyn Future<Output = ()> + Send + Sync>>;

/// A worker's poll strategy: ready when [`Wakeups::wake`] was called or every `period`.
pub(super) struct WakeOrTick {
    notify: Arc<Notify>,
    woken: Wait,
    tick: Interval,
}

impl WakeOrTick {
    /// Must be called inside a tokio runtime (the tick is a tokio timer).
    pub(super) fn new(wakeups: &Wakeups, period: Duration) -> Self {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            notify: wakeups.0.clone(),
            woken: wait(&wakeups.0),
            tick,
        }
    }
}

fn wait(notify: &Arc<Notify>) -> Wait {
    let notify = notify.clone();
    Box::pin(async move { notify.notified().await })
}

impl PollStrategy for WakeOrTick {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        let mut ready = false;
        // A loop, not an `if`: a fresh wait may find a permit stored meanwhile; it ends at a
        // wait that is pending, which is then registered with `cx`.
        while self.woken.as_mut().poll(cx).is_ready() {
            self.woken = wait(&self.notify);
            ready = true;
        }
        // After a tick, poll again so that the next one is registered with `cx`.
        while self.tick.poll_tick(cx).is_ready() {
            ready = true;
        }
        if ready {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    use super::*;

    /// A waker that counts its wake-ups.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Count {
        fn get(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    const PERIOD: Duration = Duration::from_millis(100);

    fn drive(strategy: &mut WakeOrTick, waker: &Waker) -> bool {
        let mut cx = Context::from_waker(waker);
        strategy
            .poll_drive(&mut cx, &PollSnapshot::default())
            .is_ready()
    }

    #[tokio::test(start_paused = true)]
    async fn a_consumed_wake_up_leaves_the_next_one_armed() {
        let wakeups = Wakeups::default();
        let mut strategy = WakeOrTick::new(&wakeups, PERIOD);
        let count = Arc::new(Count::default());
        let waker = Waker::from(count.clone());
        drive(&mut strategy, &waker); // the first tick is immediate
        assert!(!drive(&mut strategy, &waker), "nothing pending");

        wakeups.wake();
        assert_eq!(count.get(), 1, "a parked worker is woken at once");
        assert!(drive(&mut strategy, &waker), "the wake-up is seen");

        wakeups.wake();
        assert_eq!(count.get(), 2, "the next wake-up reaches the worker too");
    }

    #[tokio::test(start_paused = true)]
    async fn a_fired_tick_leaves_the_next_one_armed() {
        let wakeups = Wakeups::default();
        let mut strategy = WakeOrTick::new(&wakeups, PERIOD);
        let count = Arc::new(Count::default());
        let waker = Waker::from(count.clone());
        drive(&mut strategy, &waker);
        for expected in 1..=3 {
            tokio::time::sleep(PERIOD).await;
            assert_eq!(count.get(), expected, "tick {expected} wakes the worker");
            assert!(drive(&mut strategy, &waker), "tick {expected} is seen");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_wake_up_stored_while_running_is_seen_at_the_next_poll() {
        let wakeups = Wakeups::default();
        let mut strategy = WakeOrTick::new(&wakeups, PERIOD);
        let waker = Waker::from(Arc::new(Count::default()));
        drive(&mut strategy, &waker); // the first tick is immediate
        wakeups.wake();
        wakeups.wake();
        assert!(drive(&mut strategy, &waker), "stored wake-ups are seen");
        assert!(!drive(&mut strategy, &waker), "and coalesce into one");
    }
}
