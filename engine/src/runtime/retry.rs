//! Retry delays: exponential backoff with a cap and "equal jitter" (half fixed, half random),
//! as a pure function. The jitter is derived from the run, step and attempt rather than a
//! global random source, so the simulator is reproducible while runs released together
//! still spread out.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use crate::model::RetryPolicy;

/// The delay before retry number `attempt` (1 = the first retry).
pub fn backoff(policy: &RetryPolicy, attempt: u32, seed: impl Hash) -> Duration {
    let base = policy.backoff.approx_seconds().max(1) as f64;
    let cap = policy.max_backoff.approx_seconds().max(1) as f64;
    let exponential = (base * 2f64.powi(attempt.saturating_sub(1).min(30) as i32)).min(cap);
    let mut hasher = DefaultHasher::new();
    (seed, attempt).hash(&mut hasher);
    let unit = (hasher.finish() % 10_000) as f64 / 10_000.0;
    Duration::from_secs_f64(exponential / 2.0 + unit * exponential / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FlowDuration;

    #[test]
    fn grows_exponentially_within_jitter_and_respects_the_cap() {
        let policy = RetryPolicy {
            max: 10,
            backoff: FlowDuration::seconds(10),
            max_backoff: FlowDuration::minutes(1),
        };
        for attempt in 1..=8 {
            let d = backoff(&policy, attempt, "run-1").as_secs_f64();
            let full = (10.0 * 2f64.powi(attempt as i32 - 1)).min(60.0);
            assert!(
                d >= full / 2.0 && d <= full,
                "attempt {attempt}: {d} not in [{}, {full}]",
                full / 2.0
            );
        }
        assert_ne!(backoff(&policy, 3, "run-1"), backoff(&policy, 3, "run-2"));
        assert_eq!(backoff(&policy, 3, "run-1"), backoff(&policy, 3, "run-1"));
    }
}
