//! Lowering a flow's steps to the flat program the runtime steps through: an `if` becomes a
//! branch and jumps, a `for_each` a loop head and a `next` at the end of its body; each
//! step's expressions and templates are checked as it is lowered, with the steps before it
//! known, and `on_error: goto` targets are resolved once every id is.

use std::collections::HashMap;

use super::program::{ErrorPolicy, Instr, StepMeta};
use super::{Diagnostic, Severity};
use crate::expr::Expr;
use crate::model::{Flow, OnError, Step, StepBody};
use crate::steps::context::{CheckCx, CheckSink, EarlierStep};
use crate::steps::registry;

/// What a `for_each` leaves in `steps.<id>` while it runs (and after, its last iteration).
pub const LOOP_OUTPUTS: [&str; 6] = ["item", "index", "count", "first", "last", "items"];

/// The program of `flow`'s steps, the sink with what checking them found, and each step
/// id's cursor.
pub(super) fn lower(
    flow: &Flow,
    prefix: &str,
    sink: CheckSink,
) -> (CheckSink, Vec<Instr>, HashMap<String, usize>) {
    let mut lowering = Lowering {
        flow,
        prefix,
        sink,
        program: Vec::new(),
        ids: HashMap::new(),
        within: Vec::new(),
    };
    lowering.list(&flow.steps, &format!("{prefix}/steps"), None);
    for (pc, target) in lowering.resolve_gotos() {
        if let Instr::Step { meta, .. } | Instr::Branch { meta, .. } | Instr::Loop { meta, .. } =
            &mut lowering.program[pc]
        {
            meta.on_error = target;
        }
    }
    let ids = lowering
        .ids
        .into_iter()
        .map(|(id, place)| (id, place.pc))
        .collect();
    (lowering.sink, lowering.program, ids)
}

/// Where a step id was lowered.
struct Place {
    pc: usize,
    /// The step's JSON pointer.
    pointer: String,
    /// The loops it is nested in, outermost first.
    within: Vec<String>,
}

struct Lowering<'a> {
    flow: &'a Flow,
    prefix: &'a str,
    sink: CheckSink,
    program: Vec<Instr>,
    ids: HashMap<String, Place>,
    /// The loops the step being lowered is nested in.
    within: Vec<String>,
}

impl Lowering<'_> {
    fn error(&mut self, pointer: String, message: String) {
        self.sink
            .diagnostics
            .push(Diagnostic::new(Severity::Error, pointer, message));
    }

    fn list(&mut self, steps: &[Step], pointer: &str, parent: Option<(&str, &str)>) {
        let mut after_stop = false;
        for (i, step) in steps.iter().enumerate() {
            let at = format!("{pointer}/{i}");
            if after_stop {
                let message = "this step never runs: the step before it always stops the run";
                self.sink
                    .diagnostics
                    .push(Diagnostic::new(Severity::Warning, at.clone(), message));
            }
            let id = match (&step.id, parent) {
                (Some(id), _) => id.clone(),
                (None, Some((parent, branch))) => format!("{parent}_{branch}_{}", i + 1),
                (None, None) => format!("step_{}", i + 1),
            };
            if let Some(first) = self.ids.get(&id) {
                let first = super::diagnostic::display_path(&first.pointer);
                self.error(
                    format!("{at}/id"),
                    format!("duplicate step id `{id}` (first used at {first})"),
                );
            }
            let pc = self.program.len();
            self.ids.entry(id.clone()).or_insert_with(|| Place {
                pc,
                pointer: at.clone(),
                within: self.within.clone(),
            });
            self.step(step, id, &at);
            after_stop = step.kind_key() == "stop";
        }
    }

    fn meta(&self, step: &Step, id: String, key: &'static str) -> StepMeta {
        StepMeta {
            id,
            key,
            retry: step.retry.or(self.flow.retry),
            on_error: match step.on_error {
                Some(OnError::Continue) => ErrorPolicy::Continue,
                _ => ErrorPolicy::Fail,
            },
            on_uncertain: step
                .on_uncertain
                .or(self.flow.on_uncertain)
                .unwrap_or_default(),
            purpose: step.purpose.unwrap_or(self.flow.purpose),
            within: self.within.clone(),
        }
    }

    fn step(&mut self, step: &Step, id: String, at: &str) {
        let pc = self.program.len();
        match &step.body {
            StepBody::If {
                condition,
                then,
                otherwise,
            } => {
                let mut cx = CheckCx {
                    pc,
                    pointer: at.to_owned(),
                    sink: &mut self.sink,
                    flow: self.flow,
                };
                cx.expression("if", condition, &[]);
                let expr = self.sink.artifacts.exprs.remove(&format!("{pc}/if"));
                let meta = self.meta(step, id.clone(), "if");
                self.program.push(Instr::Jump { to: 0 }); // the branch, patched below
                self.sink.earlier_steps.push(EarlierStep {
                    id: id.clone(),
                    kind: "if",
                    outputs: Some(vec!["result".to_owned()]),
                });
                self.list(then, &format!("{at}/then"), Some((&id, "then")));
                let else_pc = if otherwise.is_empty() {
                    self.program.len()
                } else {
                    let jump = self.program.len();
                    self.program.push(Instr::Jump { to: 0 });
                    self.list(otherwise, &format!("{at}/else"), Some((&id, "else")));
                    self.program[jump] = Instr::Jump {
                        to: self.program.len(),
                    };
                    jump + 1
                };
                // An invalid condition was reported; keep the cursor layout with a never-taken branch.
                let condition = expr.or_else(|| Expr::compile("false", &[]).ok());
                if let Some(condition) = condition {
                    self.program[pc] = Instr::Branch {
                        meta,
                        condition,
                        else_pc,
                    };
                }
            }
            StepBody::ForEach { items, body } => self.for_each(step, id, at, items, body),
            StepBody::Kind { key, config } => {
                let Some(kind) = registry::find(key) else {
                    self.error(at.to_owned(), format!("unknown step kind `{key}`"));
                    return;
                };
                let outputs = match kind.parse(config) {
                    Ok(parsed) => {
                        let pointer = format!("{at}/{key}");
                        let mut cx = CheckCx {
                            pc,
                            pointer,
                            sink: &mut self.sink,
                            flow: self.flow,
                        };
                        parsed.check(&mut cx);
                        let outputs = parsed.outputs();
                        let meta = self.meta(step, id.clone(), kind.key());
                        self.program.push(Instr::Step {
                            meta,
                            config: parsed,
                        });
                        Some(outputs)
                    }
                    Err(e) => {
                        self.error(format!("{at}/{key}"), e.to_string());
                        self.program.push(Instr::Jump { to: pc + 1 });
                        None
                    }
                };
                self.sink.earlier_steps.push(EarlierStep {
                    id,
                    kind: kind.key(),
                    outputs,
                });
            }
        }
    }

    /// `for_each`: the loop head, the body, and the `next` that goes round again.
    fn for_each(&mut self, step: &Step, id: String, at: &str, items: &str, body: &[Step]) {
        let pc = self.program.len();
        let mut cx = CheckCx {
            pc,
            pointer: at.to_owned(),
            sink: &mut self.sink,
            flow: self.flow,
        };
        cx.expression("for_each", items, &[]);
        let expr = self.sink.artifacts.exprs.remove(&format!("{pc}/for_each"));
        if body.is_empty() {
            self.error(
                at.to_owned(),
                "a for_each needs the steps it repeats, under `do`".to_owned(),
            );
        }
        let meta = self.meta(step, id.clone(), "for_each");
        self.program.push(Instr::Jump { to: 0 }); // the loop head, patched below
        self.sink.earlier_steps.push(EarlierStep {
            id: id.clone(),
            kind: "for_each",
            outputs: Some(LOOP_OUTPUTS.iter().map(|o| (*o).to_owned()).collect()),
        });
        let first_id = self.sink.earlier_steps.len();
        self.within.push(id.clone());
        self.list(body, &format!("{at}/do"), Some((&id, "do")));
        self.within.pop();
        let body = self.sink.earlier_steps[first_id..]
            .iter()
            .map(|s| s.id.clone())
            .collect();
        self.program.push(Instr::Next { loop_pc: pc });
        // An invalid list was reported; keep the cursor layout with a loop over nothing.
        if let Some(items) = expr.or_else(|| Expr::compile("[]", &[]).ok()) {
            self.program[pc] = Instr::Loop {
                meta,
                items,
                end_pc: self.program.len(),
                body,
            };
        }
    }

    /// Resolves `on_error: goto <id>` after all ids are known.
    fn resolve_gotos(&mut self) -> Vec<(usize, ErrorPolicy)> {
        let mut found = Vec::new();
        let mut walk = vec![(self.flow.steps.as_slice(), format!("{}/steps", self.prefix))];
        while let Some((steps, pointer)) = walk.pop() {
            for (i, step) in steps.iter().enumerate() {
                let at = format!("{pointer}/{i}");
                for (key, nested) in step.nested() {
                    walk.push((nested, format!("{at}/{key}")));
                }
                let Some(OnError::Goto(target)) = &step.on_error else {
                    continue;
                };
                let Some(own) = self.ids.values().find(|p| p.pointer == at) else {
                    continue;
                };
                let (pc, within) = (own.pc, own.within.clone());
                match self.ids.get(target) {
                    // Into a loop only from inside it: its item is known there.
                    Some(place) if !within.starts_with(&place.within) => {
                        let inner = place.within.last().cloned().unwrap_or_default();
                        self.error(
                            format!("{at}/on_error"),
                            format!(
                                "`{target}` is inside the for_each `{inner}`; a goto may go to it only from within that loop"
                            ),
                        );
                    }
                    Some(place) => found.push((pc, ErrorPolicy::Goto(place.pc))),
                    None => {
                        let known: Vec<&str> = self.ids.keys().map(String::as_str).collect();
                        self.error(
                            format!("{at}/on_error"),
                            format!(
                                "no step `{target}` to go to (steps: {})",
                                sorted(known).join(", ")
                            ),
                        );
                    }
                }
            }
        }
        found
    }
}

fn sorted(mut v: Vec<&str>) -> Vec<&str> {
    v.sort_unstable();
    v
}
