//! An in-memory [`Queue`] ordered by due time; the caller pops what is due by its own clock,
//! so a virtual clock can jump straight to the next due task.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::ports::{AdvanceTask, Queue, QueueError};

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    at: Timestamp,
    order: u64,
    tenant_id: String,
    run_id: crate::model::RunId,
    seq: u64,
}

#[derive(Debug, Default)]
pub struct MemoryQueue {
    heap: Mutex<(BinaryHeap<Reverse<Entry>>, u64)>,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes and returns the earliest task due at or before `now`.
    pub fn pop_due(&self, now: Timestamp) -> Option<AdvanceTask> {
        let mut guard = self.heap.lock().unwrap_or_else(|p| p.into_inner());
        if guard.0.peek().is_some_and(|Reverse(e)| e.at <= now) {
            return guard.0.pop().map(|Reverse(e)| AdvanceTask {
                tenant_id: e.tenant_id,
                run_id: e.run_id,
                seq: e.seq,
            });
        }
        None
    }

    /// When the earliest task is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.heap
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .peek()
            .map(|Reverse(e)| e.at)
    }

    pub fn len(&self) -> usize {
        self.heap.lock().unwrap_or_else(|p| p.into_inner()).0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn schedule(&self, task: AdvanceTask, at: Timestamp) -> Result<(), QueueError> {
        let mut guard = self.heap.lock().unwrap_or_else(|p| p.into_inner());
        guard.1 += 1;
        let order = guard.1;
        guard.0.push(Reverse(Entry {
            at,
            order,
            tenant_id: task.tenant_id,
            run_id: task.run_id,
            seq: task.seq,
        }));
        Ok(())
    }
}
