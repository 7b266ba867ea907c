//! Semantic checks and compilation of a schema-valid flow: unique step ids, expressions and
//! templates that compile, references to earlier steps and declared config keys, `goto`
//! targets, schedules, and the lints (warnings) that do not fail validation.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use super::program::{CompiledFlow, ErrorPolicy, Instr, QuietPolicy, StepMeta};
use super::{Diagnostic, Severity};
use crate::expr::Expr;
use crate::model::{Flow, OnError, QuietHoursKeyword, QuietHoursSetting, Step, StepBody};
use crate::steps::context::{Artifacts, CheckCx, CheckSink, EarlierStep};
use crate::steps::registry;
use crate::template::Templates;

/// Where the flow sits in its document (`""` for a flow file, `/flow` in a module) and what
/// else is known about its surroundings.
#[derive(Debug, Default)]
pub struct Surroundings<'a> {
    pub prefix: &'a str,
    /// Tenant snippets usable as partials.
    pub partials: Option<&'a BTreeMap<String, String>>,
    /// For module flows: the declared config keys.
    pub config_keys: Option<Vec<String>>,
    /// For module flows and installed modules: the copy (`templates.*`), spliced into the
    /// fields that name it.
    pub copy: Option<&'a BTreeMap<String, String>>,
    /// The tenant's library templates the flow names (see [`crate::template::library`]).
    pub library: Option<&'a crate::template::library::Library>,
    /// A version stored before: what a flow must declare since (its `config`) is not checked.
    pub stored: bool,
}

/// Checks and compiles `flow`. Returns the compiled flow when there is no error, and every
/// diagnostic (errors and warnings) with pointers relative to the document.
pub fn compile(flow: Flow, around: Surroundings<'_>) -> (Option<CompiledFlow>, Vec<Diagnostic>) {
    let (mut templates, mut diagnostics) = match around.partials.map(Templates::new) {
        None => (Templates::without_snippets(), Vec::new()),
        Some(Ok(t)) => (t, Vec::new()),
        Some(Err((name, e))) => {
            let message = format!("the snippet `{name}` cannot be used: {}", e.message);
            (
                Templates::without_snippets(),
                vec![Diagnostic::new(
                    Severity::Error,
                    around.prefix.to_owned(),
                    message,
                )],
            )
        }
    };
    // A version stored before the helper check keeps compiling (its runs go on).
    templates.check_helpers(!around.stored);
    // The config keys `config.*` may name: a module's, else the flow's own declaration; a
    // flow that declares none may name none (unless stored before that rule).
    if let Some(schema) = &flow.config
        && let Some(problem) = super::config::check_schema(schema)
    {
        diagnostics.push(Diagnostic::new(
            Severity::Error,
            format!("{}/config", around.prefix),
            problem,
        ));
    }
    let config_keys = around.config_keys.or_else(|| match &flow.config {
        Some(schema) => Some(super::config::declared_keys(schema)),
        None => (!around.stored).then(Vec::new),
    });
    let sink = CheckSink {
        diagnostics: Vec::new(),
        artifacts: Artifacts {
            templates,
            exprs: HashMap::new(),
        },
        earlier_steps: Vec::new(),
        check_outputs: !around.stored,
        config_keys,
        copy: around.copy.cloned(),
        library: around.library.cloned(),
    };
    let mut lowering = Lowering {
        flow: &flow,
        prefix: around.prefix,
        sink,
        program: Vec::new(),
        ids: HashMap::new(),
    };
    lowering.list(&flow.steps, &format!("{}/steps", around.prefix), None);
    let gotos = lowering.resolve_gotos();
    let Lowering {
        mut sink,
        mut program,
        ids,
        ..
    } = lowering;
    for (pc, target) in gotos {
        if let Instr::Step { meta, .. } | Instr::Branch { meta, .. } = &mut program[pc] {
            meta.on_error = target;
        }
    }
    let prefix = around.prefix;
    let trigger_when = compile_expr(
        flow.trigger.when.as_deref(),
        &format!("{prefix}/trigger/when"),
        &mut sink,
    );
    let audience = compile_expr(
        flow.trigger.audience.as_deref(),
        &format!("{prefix}/trigger/audience"),
        &mut sink,
    );
    let named_types = flow
        .trigger
        .event
        .iter()
        .map(|t| (format!("{prefix}/trigger/event"), t))
        .chain(
            flow.cancel_on
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("{prefix}/cancel_on/{i}"), t)),
        );
    for (pointer, event_type) in named_types {
        if let Err(message) = crate::model::check_event_type(event_type) {
            sink.diagnostics
                .push(Diagnostic::new(Severity::Error, pointer, message));
        }
    }
    if let Some(schedule) = &flow.trigger.schedule
        && let Err(e) = croner::Cron::from_str(schedule)
    {
        sink.diagnostics.push(Diagnostic::new(
            Severity::Error,
            format!("{prefix}/trigger/schedule"),
            format!("not a cron schedule ({e}); write 5 fields, minute first, e.g. \"0 9 * * *\""),
        ));
    } else if let Some(schedule) = &flow.trigger.schedule
        && crate::runtime::schedule::next_fire(
            schedule,
            &jiff::tz::TimeZone::UTC,
            jiff::Timestamp::now(),
        )
        .is_none()
    {
        sink.diagnostics.push(Diagnostic::new(
            Severity::Error,
            format!("{prefix}/trigger/schedule"),
            "the schedule never fires: no date matches it (30 February, say)",
        ));
    }
    let (marketing_quiet, transactional_quiet) =
        quiet_policies(&flow, prefix, &mut sink.diagnostics);
    diagnostics.append(&mut sink.diagnostics);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return (None, diagnostics);
    }
    let step_index = ids.into_iter().map(|(id, (pc, _))| (id, pc)).collect();
    let compiled = CompiledFlow {
        flow,
        program,
        step_index,
        artifacts: sink.artifacts,
        trigger_when,
        audience,
        marketing_quiet,
        transactional_quiet,
    };
    (Some(compiled), diagnostics)
}

fn compile_expr(source: Option<&str>, pointer: &str, sink: &mut CheckSink) -> Option<Expr> {
    let source = source?;
    for message in crate::steps::fields::unknown_fields(source) {
        sink.diagnostics.push(Diagnostic::new(
            Severity::Error,
            pointer.to_owned(),
            message,
        ));
    }
    match Expr::compile(source, &[]) {
        Ok(expr) => Some(expr),
        Err(e) => {
            let at = e
                .position
                .map(|(l, c)| format!(" (expression line {l}, column {c})"))
                .unwrap_or_default();
            sink.diagnostics.push(Diagnostic::new(
                Severity::Error,
                pointer.to_owned(),
                format!("{}{at}", e.message),
            ));
            None
        }
    }
}

fn quiet_policies(
    flow: &Flow,
    prefix: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> (QuietPolicy, QuietPolicy) {
    match flow.quiet_hours {
        None => (QuietPolicy::Tenant, QuietPolicy::Off),
        Some(QuietHoursSetting::Keyword(QuietHoursKeyword::Inherit)) => {
            (QuietPolicy::Tenant, QuietPolicy::Tenant)
        }
        Some(QuietHoursSetting::Window(window)) => {
            (QuietPolicy::Window(window), QuietPolicy::Window(window))
        }
        Some(QuietHoursSetting::Keyword(QuietHoursKeyword::Off)) => {
            if flow.purpose == crate::model::Purpose::Marketing {
                diagnostics.push(Diagnostic::new(
                    Severity::Warning,
                    format!("{prefix}/quiet_hours"),
                    "marketing sends always honour quiet hours, so `off` changes nothing here; \
                     set `purpose: transactional` if these messages answer the contact",
                ));
            }
            (QuietPolicy::Tenant, QuietPolicy::Off)
        }
    }
}

struct Lowering<'a> {
    flow: &'a Flow,
    prefix: &'a str,
    sink: CheckSink,
    program: Vec<Instr>,
    /// Step id → (cursor, pointer of the step).
    ids: HashMap<String, (usize, String)>,
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
            if let Some((_, first)) = self.ids.get(&id) {
                let first = super::diagnostic::display_path(first);
                self.error(
                    format!("{at}/id"),
                    format!("duplicate step id `{id}` (first used at {first})"),
                );
            }
            let pc = self.program.len();
            self.ids.entry(id.clone()).or_insert((pc, at.clone()));
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

    /// Resolves `on_error: goto <id>` after all ids are known.
    fn resolve_gotos(&mut self) -> Vec<(usize, ErrorPolicy)> {
        let mut found = Vec::new();
        let mut walk = vec![(self.flow.steps.as_slice(), format!("{}/steps", self.prefix))];
        while let Some((steps, pointer)) = walk.pop() {
            for (i, step) in steps.iter().enumerate() {
                let at = format!("{pointer}/{i}");
                if let StepBody::If {
                    then, otherwise, ..
                } = &step.body
                {
                    walk.push((then.as_slice(), format!("{at}/then")));
                    walk.push((otherwise.as_slice(), format!("{at}/else")));
                }
                let Some(OnError::Goto(target)) = &step.on_error else {
                    continue;
                };
                let own = self
                    .ids
                    .iter()
                    .find(|(_, (_, p))| *p == at)
                    .map(|(_, (pc, _))| *pc);
                match (self.ids.get(target), own) {
                    (Some((target_pc, _)), Some(pc)) => {
                        found.push((pc, ErrorPolicy::Goto(*target_pc)))
                    }
                    (None, _) => {
                        let known: Vec<&str> = self.ids.keys().map(String::as_str).collect();
                        self.error(
                            format!("{at}/on_error"),
                            format!(
                                "no step `{target}` to go to (steps: {})",
                                sorted(known).join(", ")
                            ),
                        );
                    }
                    _ => {}
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
