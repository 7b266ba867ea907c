//! Semantic checks and compilation of a schema-valid flow: unique step ids, expressions and
//! templates that compile, references to earlier steps and declared config keys, `goto`
//! targets, schedules, and the lints (warnings) that do not fail validation.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use super::program::{CompiledFlow, QuietPolicy};
use super::{Diagnostic, Severity};
use crate::expr::Expr;
use crate::model::{Flow, QuietHoursKeyword, QuietHoursSetting};
use crate::steps::context::{Artifacts, CheckSink};
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
    let (mut sink, program, ids) = super::lower::lower(&flow, around.prefix, sink);
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
    let step_index = ids;
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
