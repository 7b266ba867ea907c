//! A flow compiled for execution: steps lowered to a flat program whose index is the run's
//! cursor, with every template and expression compiled once per flow version.

use std::collections::HashMap;

use crate::expr::Expr;
use crate::model::{Flow, OnUncertain, Purpose, QuietWindow, RetryPolicy};
use crate::steps::{StepConfig, context::Artifacts};

/// What a step does when its action fails for good, with `goto` resolved to a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPolicy {
    Fail,
    Continue,
    Goto(usize),
}

/// Facts about a step the runtime needs.
#[derive(Debug, Clone)]
pub struct StepMeta {
    pub id: String,
    /// The kind key (`if` for branches).
    pub key: &'static str,
    pub retry: Option<RetryPolicy>,
    pub on_error: ErrorPolicy,
    pub on_uncertain: OnUncertain,
    pub purpose: Purpose,
    /// The `for_each` steps this step is nested in, outermost first: their item numbers
    /// tell one iteration's send from another's.
    pub within: Vec<String>,
}

/// The most items a `for_each` takes: more fails the step (a list read from an event or a
/// contact is the tenant's input, and each item may send).
pub const MAX_LOOP_ITEMS: usize = 100;

/// The largest list a `for_each` takes, as JSON: the loop keeps it in its output, which every
/// iteration rewrites (loop over ids or numbers, not whole records).
pub const MAX_LOOP_BYTES: usize = 64 * 1024;

/// One instruction.
#[derive(Debug)]
pub enum Instr {
    /// Evaluate `condition`; go on when true, else jump to `else_pc`.
    Branch {
        meta: StepMeta,
        condition: Expr,
        else_pc: usize,
    },
    /// Continue at `to` (the end of a `then` block skipping its `else`).
    Jump { to: usize },
    /// Evaluate `items` (a list) and start its first iteration at the next instruction, or
    /// go on at `end_pc` when it is empty. `body` holds the ids of the steps it repeats,
    /// whose outputs each iteration starts without.
    Loop {
        meta: StepMeta,
        items: Expr,
        end_pc: usize,
        body: Vec<String>,
    },
    /// The end of the loop at `loop_pc`: its next iteration, or on past the loop.
    Next { loop_pc: usize },
    /// Run a step kind.
    Step {
        meta: StepMeta,
        config: Box<dyn StepConfig>,
    },
}

/// How a flow treats quiet hours, resolved from `purpose` and `quiet_hours`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietPolicy {
    /// The tenant's window.
    Tenant,
    /// This window.
    Window(QuietWindow),
    /// None (transactional sends of a flow that did not ask for quiet hours, or said `off`).
    Off,
}

/// A validated, compiled flow version.
#[derive(Debug)]
pub struct CompiledFlow {
    pub flow: Flow,
    pub program: Vec<Instr>,
    /// Step id → cursor.
    pub step_index: HashMap<String, usize>,
    pub artifacts: Artifacts,
    pub trigger_when: Option<Expr>,
    pub audience: Option<Expr>,
    /// For marketing sends (always held to quiet hours).
    pub marketing_quiet: QuietPolicy,
    /// For transactional sends.
    pub transactional_quiet: QuietPolicy,
}

impl CompiledFlow {
    pub fn id(&self) -> &str {
        self.flow.id.as_deref().unwrap_or("flow")
    }

    /// The step meta at `pc`, if that instruction is a step.
    pub fn meta(&self, pc: usize) -> Option<&StepMeta> {
        match self.program.get(pc)? {
            Instr::Branch { meta, .. } | Instr::Loop { meta, .. } | Instr::Step { meta, .. } => {
                Some(meta)
            }
            Instr::Jump { .. } | Instr::Next { .. } => None,
        }
    }

    /// The quiet-hours policy for a send of `purpose`.
    pub fn quiet_policy(&self, purpose: Purpose) -> QuietPolicy {
        match purpose {
            Purpose::Marketing => self.marketing_quiet,
            Purpose::Transactional => self.transactional_quiet,
        }
    }
}
