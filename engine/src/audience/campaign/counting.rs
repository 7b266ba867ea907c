//! A campaign's message counters as the API answers them. They are counted by joining the
//! campaign's runs with the outbox, the delivery reports, the replies and the opt-outs, which
//! takes tenths of a second for a campaign of 50,000 contacts; a dashboard polling it, or a
//! hostile tenant asking in a loop, must not take the database from everyone else. So a
//! tenant's counts run one at a time ([`TenantTurns`]), and those who asked for a campaign
//! while it was being counted share the count that began after they asked: however many ask
//! at once, a tenant holds one connection for its counts, and no answer is older than the
//! question (a count begun before someone asked is not theirs).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::MessageCounts;
use crate::audience::turns::TenantTurns;
use crate::ports::StoreError;

/// The most campaigns whose last count is kept (then those older than [`KEPT_FOR`] go).
const MAX_KEPT: usize = 4_096;
/// How long a count is kept for those still waiting behind it.
const KEPT_FOR: Duration = Duration::from_secs(60);

/// Campaign counters counted one at a time per tenant, shared by those who asked together.
#[derive(Debug, Default)]
pub struct CampaignCounting {
    turns: TenantTurns,
    /// Each campaign's last count: when it began, and what it found.
    last: Mutex<HashMap<(String, String), (Instant, MessageCounts)>>,
}

impl CampaignCounting {
    /// The campaign's counters as `count` finds them, counted after this call began: one
    /// begun since by someone else's ask, else `count`'s, once the tenant's counts before
    /// it are done.
    pub async fn messages<F, Fut>(
        &self,
        tenant_id: &str,
        campaign_id: &str,
        count: F,
    ) -> Result<MessageCounts, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<MessageCounts, StoreError>>,
    {
        let asked = Instant::now();
        let key = (tenant_id.to_owned(), campaign_id.to_owned());
        let _turn = self.turns.take(tenant_id).await;
        // Those who asked together waited behind the first: its count began after they asked.
        if let Some(counts) = self.begun_since(&key, asked) {
            return Ok(counts);
        }
        let began = Instant::now();
        let counts = count().await?;
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.len() >= MAX_KEPT {
            last.retain(|_, (at, _)| at.elapsed() < KEPT_FOR);
        }
        if last.len() < MAX_KEPT {
            last.insert(key, (began, counts));
        }
        Ok(counts)
    }

    fn begun_since(&self, key: &(String, String), asked: Instant) -> Option<MessageCounts> {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        last.get(key)
            .filter(|(began, _)| *began >= asked)
            .map(|(_, counts)| *counts)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn sent(n: u64) -> MessageCounts {
        MessageCounts {
            sent: n,
            ..MessageCounts::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_asks_counts_once_and_another_tenant_is_not_held_behind_it() {
        let counting = Arc::new(CampaignCounting::default());
        let counted = Arc::new(AtomicUsize::new(0));
        let (open, gate) = tokio::sync::watch::channel(false);
        let mut asks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (counting, counted, mut gate) = (counting.clone(), counted.clone(), gate.clone());
            asks.spawn(async move {
                counting
                    .messages("mallory", "c1", || async move {
                        counted.fetch_add(1, Ordering::SeqCst);
                        gate.wait_for(|open| *open).await.expect("the gate");
                        Ok(sent(7))
                    })
                    .await
            });
        }
        // Mallory's first count is stuck in the database; the victim's goes through.
        while counted.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let victim = counting
            .messages("victim", "c1", || async { Ok(sent(3)) })
            .await;
        assert_eq!(victim, Ok(sent(3)));

        open.send_replace(true);
        while let Some(answer) = asks.join_next().await {
            assert_eq!(answer.expect("an ask"), Ok(sent(7)));
        }
        assert_eq!(counted.load(Ordering::SeqCst), 1, "fifty asks, one count");

        // Asked after that count began: counted again.
        tokio::time::advance(Duration::from_millis(1)).await;
        let again = counting
            .messages("mallory", "c1", || async { Ok(sent(8)) })
            .await;
        assert_eq!(again, Ok(sent(8)));
    }

    #[tokio::test]
    async fn a_failed_count_is_not_kept() {
        let counting = CampaignCounting::default();
        let failed = counting
            .messages("t", "c", || async {
                Err(StoreError::Unavailable("down".into()))
            })
            .await;
        assert!(failed.is_err());
        let counted = counting.messages("t", "c", || async { Ok(sent(1)) }).await;
        assert_eq!(counted, Ok(sent(1)));
    }
}
