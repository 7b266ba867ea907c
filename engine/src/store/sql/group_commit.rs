//! Group commit: the transitions that concurrent advances hand the store at about the same
//! time are committed together, in one transaction, so they share its round trips and (on
//! PostgreSQL) its WAL flush. No transition waits for company: a committer takes whatever is
//! queued when it becomes free, so at low load a batch is one transition and adds no delay.
//!
//! Each transition keeps its own `seq` guard: one that lost a race is answered `Conflict`
//! and leaves no trace, while the others in its batch commit. When the transaction itself
//! fails, every transition in it is answered with the error and none is applied.

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

use super::contacts::write_contact;
use super::runs::{insert_records, update_run};
use super::{SqlStore, unavailable};
use crate::ports::{StoreError, Transition};

/// Transitions committed together at most (their records go in multi-row inserts).
const MAX_BATCH: usize = 64;

type Reply = oneshot::Sender<Result<(), StoreError>>;

struct Pending {
    tenant_id: String,
    transition: Transition,
    reply: Reply,
}

/// Hands transitions to the committer tasks.
#[derive(Debug, Clone)]
pub(super) struct GroupCommit {
    tx: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("run", &self.transition.run.id)
            .finish()
    }
}

impl GroupCommit {
    /// Starts `committers` committer tasks on `store`'s pool (one for SQLite, which has one
    /// writer; a few for PostgreSQL, so that a batch fills while another commits).
    pub(super) fn start(store: &SqlStore, committers: usize) -> Self {
        let (tx, rx) = mpsc::channel(1024);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..committers {
            tokio::spawn(committer(store.clone(), rx.clone()));
        }
        Self { tx }
    }

    /// Commits `transition` (with others queued at the same time) and answers its outcome.
    pub(super) async fn apply(
        &self,
        tenant_id: &str,
        transition: Transition,
    ) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the store's committer stopped".into());
        self.tx
            .send(Pending {
                tenant_id: tenant_id.to_owned(),
                transition,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn committer(store: SqlStore, rx: Arc<Mutex<mpsc::Receiver<Pending>>>) {
    loop {
        let mut batch = Vec::new();
        {
            let mut rx = rx.lock().await;
            if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return; // every store handle is gone
            }
        }
        commit(&store, batch).await;
    }
}

/// Commits one batch and answers every transition in it.
async fn commit(store: &SqlStore, batch: Vec<Pending>) {
    match write(store, &batch).await {
        Ok(applied) => {
            for (pending, applied) in batch.into_iter().zip(applied) {
                let answer = if applied {
                    Ok(())
                } else {
                    conflict(store, &pending).await
                };
                let _ = pending.reply.send(answer);
            }
        }
        // One bad transition must not sink its neighbours: alone, each gets its own answer.
        Err(_) if batch.len() > 1 => {
            for pending in batch {
                Box::pin(commit(store, vec![pending])).await;
            }
        }
        Err(e) => {
            for pending in batch {
                let _ = pending.reply.send(Err(e.clone()));
            }
        }
    }
}

/// Writes the batch in one transaction; answers which transitions passed their `seq` guard.
async fn write(store: &SqlStore, batch: &[Pending]) -> Result<Vec<bool>, StoreError> {
    let mut tx = store.pool.begin().await.map_err(unavailable)?;
    let mut applied = Vec::with_capacity(batch.len());
    for p in batch {
        applied.push(update_run(&mut tx, &p.tenant_id, &p.transition).await?);
    }
    let records: Vec<_> = batch
        .iter()
        .zip(&applied)
        .filter(|(_, applied)| **applied)
        .flat_map(|(p, _)| {
            p.transition
                .records
                .iter()
                .enumerate()
                .map(move |(idx, record)| (p.tenant_id.as_str(), &p.transition.run, idx, record))
        })
        .collect();
    insert_records(&mut tx, &records).await?;
    for (p, _) in batch.iter().zip(&applied).filter(|(_, applied)| **applied) {
        if let Some(contact) = &p.transition.contact {
            write_contact(&mut tx, &p.tenant_id, contact).await?;
        }
    }
    tx.commit().await.map_err(unavailable)?;
    Ok(applied)
}

/// Why a transition did not apply: a lost race, or a run that does not exist (for this tenant).
async fn conflict(store: &SqlStore, pending: &Pending) -> Result<(), StoreError> {
    let run = &pending.transition.run;
    super::runs::run(store, &pending.tenant_id, run.id).await?;
    Err(StoreError::Conflict {
        run: run.id,
        expected: pending.transition.expected_seq,
    })
}
