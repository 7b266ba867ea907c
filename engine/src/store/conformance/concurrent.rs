//! Transitions applied concurrently (as a worker's many advances and event ingestion do, and
//! as the SQL store commits them in groups): each run moves once per `seq`, losers are told
//! `Conflict` and leave no history, and every winner's records and contact are kept.

use std::sync::Arc;

use super::{contact, new_run, record};
use crate::model::ContactChange;
use crate::ports::{Store, StoreError, Transition};
use crate::runtime::Happening;

/// Runs started for the check; each gets two competing transitions.
const RUNS: usize = 40;

pub async fn concurrent_transitions_apply_once(store: Arc<dyn Store>) {
    store.put_tenant(&super::tenant("g")).await.expect("tenant");
    store
        .put_contact("g", &contact("c1"))
        .await
        .expect("contact");
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let run = new_run("g");
        store.create_run("g", &run, &[]).await.expect("create");
        runs.push(run);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, run) in runs.iter().enumerate() {
        for contender in 0..2usize {
            let mut next = run.clone();
            next.seq = 1;
            next.pc = contender + 1;
            let mut changed = contact("c1");
            changed.tags = vec![format!("run{i}-contender{contender}")];
            let transition = Transition {
                expected_seq: 0,
                run: next,
                records: vec![record(Happening::Woke {
                    by: format!("contender{contender}"),
                })],
                contact: Some(ContactChange::between(&contact("c1"), &changed)),
            };
            let store = store.clone();
            tasks.spawn(async move { (contender, store.apply("g", transition).await) });
        }
    }
    let mut won = 0;
    let mut lost = 0;
    while let Some(result) = tasks.join_next().await {
        match result.expect("task") {
            (_, Ok(())) => won += 1,
            (_, Err(StoreError::Conflict { expected: 0, .. })) => lost += 1,
            (_, Err(e)) => panic!("a concurrent transition failed: {e}"),
        }
    }
    assert_eq!(
        (won, lost),
        (RUNS, RUNS),
        "one winner and one loser per run"
    );
    let mut winners = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let stored = store.run("g", run.id).await.expect("run");
        winners.push(format!("run{i}-contender{}", stored.pc - 1));
        assert_eq!(stored.seq, 1, "each run moved once");
        let history = store.records("g", run.id).await.expect("records");
        assert_eq!(history.len(), 1, "only the winner's record is kept");
        let Happening::Woke { by } = &history[0].what else {
            panic!("unexpected record {:?}", history[0]);
        };
        assert_eq!(
            by,
            &format!("contender{}", stored.pc - 1),
            "the record is the one of the state that won"
        );
    }
    let mut tags = store.contact("g", "c1").await.expect("contact").tags;
    tags.sort();
    winners.sort();
    assert_eq!(
        tags, winners,
        "every winner's contact change is kept, and no loser's"
    );
}
