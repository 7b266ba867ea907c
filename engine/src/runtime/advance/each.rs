//! `for_each` at run time. The loop keeps its state in its own output, `steps.<id>` (the
//! list, the item number and the item), so a run resumed anywhere, on any worker, knows which
//! iteration it is in; each iteration starts without the outputs the last one left, and the
//! item numbers of the loops around a call make its idempotency key its own.

use serde_json::{Value, json};

use super::super::record::Happening;
use super::{Pause, RunCx};
use crate::definition::{MAX_LOOP_BYTES, MAX_LOOP_ITEMS, StepMeta};
use crate::expr::Expr;

impl RunCx<'_> {
    /// The loop head at the cursor: evaluates the list and enters its first item, or goes
    /// on at `end_pc` when there is none.
    pub(super) fn start_loop(
        &mut self,
        meta: &StepMeta,
        items: &Expr,
        end_pc: usize,
        body: &[String],
    ) -> Option<Pause> {
        let items = match items.eval_json(&mut self.bindings) {
            Ok(Value::Array(items)) if items.len() > MAX_LOOP_ITEMS => {
                let error = format!(
                    "for_each gave {} items; a loop takes at most {MAX_LOOP_ITEMS}",
                    items.len()
                );
                return self.fail_loop(meta, error, end_pc);
            }
            Ok(Value::Array(items)) => {
                let bytes = serde_json::to_vec(&items).map_or(usize::MAX, |b| b.len());
                if bytes > MAX_LOOP_BYTES {
                    let error = format!(
                        "for_each gave a list of {} KiB; a loop's list is at most {} KiB (loop over ids or numbers, not whole records)",
                        bytes.div_ceil(1024),
                        MAX_LOOP_BYTES / 1024
                    );
                    return self.fail_loop(meta, error, end_pc);
                }
                items
            }
            Ok(other) => {
                let error = format!("for_each gave {}, not a list", kind_of(&other));
                return self.fail_loop(meta, error, end_pc);
            }
            Err(e) => return self.fail_loop(meta, e.to_string(), end_pc),
        };
        if items.is_empty() {
            let output = json!({ "items": [], "count": 0 });
            self.record(
                Some(&meta.id),
                Happening::Computed {
                    output: output.clone(),
                },
            );
            self.set_output(&meta.id, output);
            self.run.pc = end_pc;
        } else {
            self.enter(meta, Value::Array(items), 0, body);
            self.run.pc += 1;
        }
        self.run.attempt = 0;
        None
    }

    /// The end of the loop's body: the next item, or on past the loop after the last.
    pub(super) fn next_item(&mut self, meta: &StepMeta, loop_pc: usize, body: &[String]) {
        let state = self.run.outputs.get(&meta.id).cloned().unwrap_or_default();
        let index = state.get("index").and_then(Value::as_u64).unwrap_or(0) as usize + 1;
        let count = state.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
        self.run.attempt = 0;
        self.run.hold = None;
        if index < count {
            let items = state.get("items").cloned().unwrap_or_default();
            self.enter(meta, items, index, body);
            self.run.pc = loop_pc + 1;
        } else {
            self.run.pc += 1;
        }
    }

    /// Sets the loop's output to item `index` and clears what its body left.
    fn enter(&mut self, meta: &StepMeta, items: Value, index: usize, body: &[String]) {
        for step in body {
            if self.run.outputs.remove(step).is_some() {
                self.bindings.remove_field("steps", step);
            }
        }
        let count = items.as_array().map_or(0, Vec::len);
        let item = items.get(index).cloned().unwrap_or(Value::Null);
        self.record(
            Some(&meta.id),
            Happening::Iteration {
                index,
                count,
                item: item.clone(),
            },
        );
        let output = json!({
            "item": item,
            "index": index,
            "count": count,
            "first": index == 0,
            "last": index + 1 == count,
            "items": items,
        });
        self.set_output(&meta.id, output);
    }

    /// A loop whose list could not be read fails as any step does; `on_error: continue` goes
    /// on past the loop, not into its body.
    fn fail_loop(&mut self, meta: &StepMeta, error: String, end_pc: usize) -> Option<Pause> {
        let head = self.run.pc;
        let pause = self.fail_step(meta, error);
        if pause.is_none() && self.run.pc == head + 1 {
            self.run.pc = end_pc;
        }
        pause
    }

    /// The item numbers of the loops `meta`'s step is nested in (`2` or `0.3`), empty
    /// outside loops: one iteration's call is not another's.
    pub(super) fn iteration(&self, meta: &StepMeta) -> String {
        meta.within
            .iter()
            .map(|id| {
                self.run
                    .outputs
                    .get(id)
                    .and_then(|o| o.get("index"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// What a JSON value is, as an error names it.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}
