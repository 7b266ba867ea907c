//! Group commit: the writes that concurrent advances and ingestions hand the store at about
//! the same time (run transitions, new runs, contacts, new events, events marked processed)
//! are committed together,
//! in one transaction, so they share its round trips and (on PostgreSQL) its WAL flush. No
//! write waits for company: a committer takes whatever is queued when it becomes free, so at
//! low load a batch is one write and adds no delay.
//!
//! Each transition keeps its own `seq` guard: one that lost a race is answered `Conflict`
//! and leaves no trace, while the others in its batch commit. When the transaction itself
//! fails, each write of the batch is retried alone, so one bad write fails only itself.

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

use super::contacts::{change_contact_in, write_contact};
use super::first_events::{self, FirstEvent};
use super::runs::{RecordRow, insert_records, insert_run, update_run};
use super::{Scope, SqlStore, Tx, unavailable};
use crate::model::{Contact, ContactChange, Run};
use crate::ports::{EventContact, StoreError, StoredEvent, Transition};
use crate::runtime::StepRecord;

/// Writes committed together at most (their records go in multi-row inserts).
const MAX_BATCH: usize = 64;

/// Whether a write took effect: a transition passed its guard, a run was new.
type Reply = oneshot::Sender<Result<bool, StoreError>>;

/// One write of a batch.
enum Op {
    // Boxed: a run's state is large, an event id small.
    Apply(Box<Transition>),
    /// Runs with their first records; takes effect when every run is new. With `processed`,
    /// also marks that event processed: an event's runs and its mark commit together.
    Create {
        runs: Vec<(Run, Vec<StepRecord>)>,
        processed: Option<String>,
    },
    MarkProcessed {
        event_id: String,
    },
    PutContact(Box<Contact>),
    /// Takes effect when the event is new; its contact is written only then: stored when
    /// new, else its change applied.
    RecordEvent {
        event: Box<StoredEvent>,
        contact: Option<Box<Contact>>,
        change: Option<(String, ContactChange)>,
    },
    /// The first event of a new contact, stored processed with the contact and the runs it
    /// starts. Takes effect when the event is new and no stored contact has the contact's
    /// id, phone or email; otherwise leaves no trace.
    FirstEvent {
        event: Box<StoredEvent>,
        contact: Box<Contact>,
        runs: Vec<(Run, Vec<StepRecord>)>,
    },
}

struct Pending {
    tenant_id: String,
    op: Op,
    reply: Reply,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

/// Hands writes to the committer tasks.
#[derive(Debug, Clone)]
pub(super) struct GroupCommit {
    tx: mpsc::Sender<Pending>,
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

    /// Commits a run's transition (with the other writes queued at the same time).
    pub(super) async fn apply(
        &self,
        tenant_id: &str,
        transition: Transition,
    ) -> Result<(), StoreError> {
        let expected = transition.expected_seq;
        let run = transition.run.id;
        if self
            .submit(tenant_id, Op::Apply(Box::new(transition)))
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::Conflict { run, expected })
        }
    }

    /// Creates runs with their first records, and marks `processed` (an event) processed,
    /// in one commit; answers false when a run already existed.
    pub(super) async fn create(
        &self,
        tenant_id: &str,
        runs: Vec<(Run, Vec<StepRecord>)>,
        processed: Option<&str>,
    ) -> Result<bool, StoreError> {
        let op = Op::Create {
            runs,
            processed: processed.map(str::to_owned),
        };
        self.submit(tenant_id, op).await
    }

    /// Marks an event processed.
    pub(super) async fn mark_processed(
        &self,
        tenant_id: &str,
        event_id: &str,
    ) -> Result<(), StoreError> {
        let op = Op::MarkProcessed {
            event_id: event_id.to_owned(),
        };
        self.submit(tenant_id, op).await.map(|_| ())
    }

    /// Creates or replaces a contact.
    pub(super) async fn put_contact(
        &self,
        tenant_id: &str,
        contact: &Contact,
    ) -> Result<(), StoreError> {
        let op = Op::PutContact(Box::new(contact.clone()));
        self.submit(tenant_id, op).await.map(|_| ())
    }

    /// Stores an event, and its contact if the event is new; answers false when
    /// `(source, external_id)` was seen before.
    pub(super) async fn record_event(
        &self,
        tenant_id: &str,
        event: &StoredEvent,
        contact: Option<EventContact<'_>>,
    ) -> Result<bool, StoreError> {
        let (new, change) = match contact {
            Some(EventContact::New(c)) => (Some(Box::new(c.clone())), None),
            Some(EventContact::Change(id, change)) => (None, Some((id.to_owned(), change.clone()))),
            None => (None, None),
        };
        let op = Op::RecordEvent {
            event: Box::new(event.clone()),
            contact: new,
            change,
        };
        self.submit(tenant_id, op).await
    }

    /// Stores the first event of a new contact, processed, with the contact and the runs it
    /// starts; answers false, having stored nothing, when the event or the contact (by id,
    /// phone or email) is known.
    pub(super) async fn record_first_event(
        &self,
        tenant_id: &str,
        event: &StoredEvent,
        contact: &Contact,
        runs: Vec<(Run, Vec<StepRecord>)>,
    ) -> Result<bool, StoreError> {
        let op = Op::FirstEvent {
            event: Box::new(event.clone()),
            contact: Box::new(contact.clone()),
            runs,
        };
        self.submit(tenant_id, op).await
    }

    async fn submit(&self, tenant_id: &str, op: Op) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the store's committer stopped".into());
        let pending = Pending {
            tenant_id: tenant_id.to_owned(),
            op,
            reply,
        };
        self.tx.send(pending).await.map_err(|_| stopped())?;
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

/// Commits one batch and answers every write in it.
async fn commit(store: &SqlStore, batch: Vec<Pending>) {
    match write(store, &batch).await {
        Ok(took_effect) => {
            for (pending, took_effect) in batch.into_iter().zip(took_effect) {
                let answer = match (&pending.op, took_effect) {
                    (Op::Apply(t), false) => missing_or_moved(store, &pending.tenant_id, &t.run)
                        .await
                        .map(|()| false),
                    _ => Ok(took_effect),
                };
                let _ = pending.reply.send(answer);
            }
        }
        // One bad write must not sink its neighbours: alone, each gets its own answer.
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

/// Writes the batch in one transaction; answers which writes took effect. The batch is
/// written tenant by tenant, each part in that tenant's row-level security scope.
async fn write(store: &SqlStore, batch: &[Pending]) -> Result<Vec<bool>, StoreError> {
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by(|a, b| batch[*a].tenant_id.cmp(&batch[*b].tenant_id));
    let mut took_effect = vec![false; batch.len()];
    let mut tx = store
        .begin(Scope::Tenant(&batch[order[0]].tenant_id))
        .await?;
    for (n, part) in order
        .chunk_by(|a, b| batch[*a].tenant_id == batch[*b].tenant_id)
        .enumerate()
    {
        let writes: Vec<&Pending> = part.iter().map(|i| &batch[*i]).collect();
        if n > 0 {
            let scope = Scope::Tenant(&writes[0].tenant_id);
            SqlStore::rescope(&mut tx, store.backend, scope).await?;
        }
        let done = write_one_tenant(&mut tx, &writes).await?;
        for (i, done) in part.iter().zip(done) {
            took_effect[*i] = done;
        }
    }
    tx.commit().await.map_err(unavailable)?;
    Ok(took_effect)
}

/// Writes one tenant's part of a batch; answers which writes took effect.
async fn write_one_tenant(tx: &mut Tx, batch: &[&Pending]) -> Result<Vec<bool>, StoreError> {
    let mut took_effect = Vec::with_capacity(batch.len());
    let mut history: Vec<RecordRow<'_>> = Vec::new();
    let mut contact_changes = Vec::new();
    // Written together after the loop: (position in the batch, the event).
    let mut first_events = Vec::new();
    for (i, p) in batch.iter().enumerate() {
        let tenant = p.tenant_id.as_str();
        let done = match &p.op {
            Op::Apply(transition) => {
                let done = update_run(tx, tenant, transition).await?;
                if done {
                    history.extend(rows(tenant, &transition.run, &transition.records));
                    if let Some(change) = &transition.contact {
                        contact_changes.push((transition.run.contact_id.as_str(), change));
                    }
                    if let Some(audit) = &transition.audit {
                        super::access::insert_audit(tx, tenant, audit).await?;
                    }
                }
                done
            }
            Op::Create { runs, processed } => {
                let mut every_one_new = true;
                for (run, records) in runs {
                    if insert_run(tx, tenant, run).await? {
                        history.extend(rows(tenant, run, records));
                    } else {
                        every_one_new = false;
                    }
                }
                if let Some(event_id) = processed {
                    super::events::mark_processed(tx, tenant, event_id).await?;
                }
                every_one_new
            }
            Op::MarkProcessed { event_id } => {
                super::events::mark_processed(tx, tenant, event_id).await?;
                true
            }
            Op::PutContact(contact) => {
                write_contact(tx, tenant, contact).await?;
                true
            }
            Op::RecordEvent {
                event,
                contact,
                change,
            } => {
                let new = super::events::insert_event(tx, tenant, event, false).await?;
                if let (true, Some(contact)) = (new, contact) {
                    write_contact(tx, tenant, contact).await?;
                }
                if let (true, Some((contact_id, change))) = (new, change) {
                    contact_changes.push((contact_id.as_str(), change));
                }
                new
            }
            Op::FirstEvent {
                event,
                contact,
                runs,
            } => {
                first_events.push((
                    i,
                    FirstEvent {
                        event,
                        contact,
                        runs,
                    },
                ));
                false // until written below
            }
        };
        took_effect.push(done);
    }
    if !first_events.is_empty() {
        let (at, events): (Vec<usize>, Vec<FirstEvent<'_>>) = first_events.into_iter().unzip();
        let stored = first_events::write(tx, batch[0].tenant_id.as_str(), &events, &mut history);
        for (i, stored) in at.into_iter().zip(stored.await?) {
            took_effect[i] = stored;
        }
    }
    // Changed contacts are locked in id order, so that two batches changing the same contacts
    // wait for each other rather than deadlock. (Other writes of a batch lock rows in arrival
    // order; a deadlock PostgreSQL breaks fails the batch, whose writes are then retried
    // one by one.)
    contact_changes.sort_by_key(|(id, _)| *id);
    for (contact_id, change) in contact_changes {
        change_contact_in(tx, batch[0].tenant_id.as_str(), contact_id, change).await?;
    }
    insert_records(tx, &history).await?;
    super::messages::insert_sent(tx, &history).await?;
    super::usage::insert_ai_usage(tx, &history).await?;
    super::conversations::hand_over(tx, &history).await?;
    Ok(took_effect)
}

/// The history rows of `records`, appended for `run`.
fn rows<'a>(
    tenant: &'a str,
    run: &'a Run,
    records: &'a [StepRecord],
) -> impl Iterator<Item = RecordRow<'a>> + 'a {
    records
        .iter()
        .enumerate()
        .map(move |(idx, record)| (tenant, run, idx, record))
}

/// A transition that did not apply: the run moved on (`Ok`, the caller reports the conflict)
/// or does not exist for this tenant (`NotFound`).
async fn missing_or_moved(store: &SqlStore, tenant_id: &str, run: &Run) -> Result<(), StoreError> {
    super::runs::run(store, tenant_id, run.id).await.map(|_| ())
}
