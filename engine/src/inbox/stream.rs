//! The order of the inbox's live stream. Changes are numbered when they are written, before
//! their commit, so on PostgreSQL a number may become visible after a higher one (two
//! workers committing at once). The stream therefore sends changes strictly in number order
//! and waits at a gap, for at most [`GAP_WAIT`]: a number still missing by then belonged to
//! a commit that was rolled back, and is passed over.

use jiff::{SignedDuration, Timestamp};

use crate::ports::InboxChange;

/// How long the stream waits at a gap in the numbers.
pub const GAP_WAIT: SignedDuration = SignedDuration::from_secs(2);

/// Of `read` (the changes numbered above `last`, in order), those the stream may send now.
pub fn sendable(last: u64, read: Vec<InboxChange>, now: Timestamp) -> Vec<InboxChange> {
    let mut next = last + 1;
    let mut out = Vec::with_capacity(read.len());
    for change in read {
        if change.seq != next && change.at > now - GAP_WAIT {
            break; // a lower number may still commit
        }
        next = change.seq + 1;
        out.push(change);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(seq: u64, at: Timestamp) -> InboxChange {
        InboxChange {
            seq,
            kind: "message".into(),
            data: serde_json::Value::Null,
            at,
        }
    }

    fn seqs(changes: &[InboxChange]) -> Vec<u64> {
        changes.iter().map(|c| c.seq).collect()
    }

    #[test]
    fn numbers_in_a_row_go_at_once_and_a_fresh_gap_waits() {
        let now: Timestamp = "2026-12-02T12:00:00Z".parse().unwrap();
        let read = vec![change(5, now), change(6, now), change(8, now)];
        assert_eq!(seqs(&sendable(4, read, now)), [5, 6]);
    }

    #[test]
    fn a_gap_older_than_the_wait_is_passed_over() {
        let now: Timestamp = "2026-12-02T12:00:00Z".parse().unwrap();
        let old = now - GAP_WAIT - SignedDuration::from_millis(1);
        let read = vec![change(7, old), change(9, now)];
        assert_eq!(seqs(&sendable(4, read, now)), [7]);
        let read = vec![change(9, old), change(10, now)];
        assert_eq!(seqs(&sendable(7, read, now)), [9, 10]);
    }
}
