//! Loading flow, module and pack documents: YAML → JSON Schema check → semantic checks →
//! typed model and compiled flow. Every problem found is reported at once, each with file,
//! line, column, path and a message a person can act on.

pub mod config;
mod diagnostic;
mod load;
mod lower;
pub mod program;
mod salvage;
mod schema;
mod semantic;

use std::collections::BTreeMap;

pub use diagnostic::{Diagnostic, Severity, display_path};
pub use load::{Document, MAX_DOCUMENT_BYTES};
pub use program::{
    CompiledFlow, ErrorPolicy, Instr, MAX_LOOP_BYTES, MAX_LOOP_ITEMS, QuietPolicy, StepMeta,
};
pub use schema::{DocumentKind, schema_of};
pub use semantic::Surroundings;

use crate::model::{Flow, Module, Pack};

/// The outcome of validating one document.
#[derive(Debug)]
pub struct Report {
    pub kind: DocumentKind,
    /// Errors and warnings, in document order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

fn finish(document: &Document, diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut placed: Vec<Diagnostic> = diagnostics.into_iter().map(|d| document.place(d)).collect();
    placed.sort_by_key(|d| (d.line, d.column, d.severity));
    placed
}

/// Validates a document of any kind (detected from its top-level keys).
pub fn validate(file: &str, source: &str) -> Report {
    let document = match Document::parse(file, source) {
        Ok(d) => d,
        Err(d) => {
            return Report {
                kind: DocumentKind::Flow,
                diagnostics: vec![d],
            };
        }
    };
    let kind = DocumentKind::detect(&document.json);
    let diagnostics = match kind {
        DocumentKind::Flow => match compile_document(&document, Setting::default()) {
            Ok((_, warnings)) => warnings,
            Err(diagnostics) => diagnostics,
        },
        DocumentKind::Module => check_module(&document),
        DocumentKind::Pack => check_pack(&document),
    };
    Report { kind, diagnostics }
}

/// What a flow compiles with besides its source.
#[derive(Debug, Default, Clone, Copy)]
pub struct Setting<'a> {
    /// The tenant's snippets, usable as partials.
    pub partials: Option<&'a BTreeMap<String, String>>,
    /// An installed module's copy (`templates.*`); `None` leaves `templates.*` unchecked.
    pub copy: Option<&'a BTreeMap<String, String>>,
    /// The tenant's library templates the flow names (`{{library "name"}}`); `None`: the
    /// flow is checked away from its tenant, and naming one is an error.
    pub library: Option<&'a crate::template::library::Library>,
    /// A version stored before: the checks of what a flow must declare that were added since
    /// (its `config`) are not applied, so that its runs go on after an upgrade.
    pub stored: bool,
}

/// Loads and compiles a flow document; `partials` are the tenant's snippets.
/// On success returns the compiled flow and its warnings; otherwise every diagnostic.
pub fn load_flow(
    file: &str,
    source: &str,
    partials: Option<&BTreeMap<String, String>>,
) -> Result<(CompiledFlow, Vec<Diagnostic>), Vec<Diagnostic>> {
    let setting = Setting {
        partials,
        ..Setting::default()
    };
    compile_flow(file, source, setting)
}

/// [`load_flow`] with every setting.
pub fn compile_flow(
    file: &str,
    source: &str,
    setting: Setting<'_>,
) -> Result<(CompiledFlow, Vec<Diagnostic>), Vec<Diagnostic>> {
    let document = Document::parse(file, source).map_err(|d| vec![d])?;
    compile_document(&document, setting)
}

/// A NUL character (`"\0"` in a double-quoted YAML string) can be neither stored nor sent.
fn nul_strings(value: &serde_json::Value, pointer: String, out: &mut Vec<Diagnostic>) {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => out.push(Diagnostic::new(
            Severity::Error,
            pointer,
            "text may not contain the NUL character".to_owned(),
        )),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                nul_strings(item, format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let escaped = crate::steps::context::escape(key);
                nul_strings(item, format!("{pointer}/{escaped}"), out);
            }
        }
        _ => {}
    }
}

fn compile_document(
    document: &Document,
    setting: Setting<'_>,
) -> Result<(CompiledFlow, Vec<Diagnostic>), Vec<Diagnostic>> {
    let Setting {
        partials,
        copy,
        library,
        stored,
    } = setting;
    let mut schema_errors = schema::check(DocumentKind::Flow, &document.json);
    nul_strings(&document.json, String::new(), &mut schema_errors);
    if !schema_errors.is_empty() {
        // Every error at once: check the rest with the refused parts set aside.
        let mut all = schema_errors.clone();
        if let Some((rest, aside)) = salvage::set_aside(&document.json, &schema_errors)
            && let Ok(flow) = serde_json::from_value::<Flow>(rest)
        {
            let around = Surroundings {
                prefix: "",
                partials,
                config_keys: None,
                copy,
                library,
                stored,
            };
            let (_, more) = semantic::compile(flow, around);
            all.extend(
                more.into_iter()
                    .filter(|d| d.is_error() && !salvage::is_aside(&d.pointer, &aside)),
            );
        }
        return Err(finish(document, all));
    }
    let flow: Flow = serde_json::from_value(document.json.clone()).map_err(|e| {
        finish(
            document,
            vec![Diagnostic::new(
                Severity::Error,
                String::new(),
                e.to_string(),
            )],
        )
    })?;
    let (compiled, diagnostics) = semantic::compile(
        flow,
        Surroundings {
            prefix: "",
            partials,
            config_keys: None,
            copy,
            library,
            stored,
        },
    );
    let diagnostics = finish(document, diagnostics);
    match compiled {
        Some(compiled) => Ok((compiled, diagnostics)),
        None => Err(diagnostics),
    }
}

fn check_module(document: &Document) -> Vec<Diagnostic> {
    let schema_errors = schema::check(DocumentKind::Module, &document.json);
    if !schema_errors.is_empty() {
        return finish(document, schema_errors);
    }
    let module: Module = match serde_json::from_value(document.json.clone()) {
        Ok(m) => m,
        Err(e) => {
            return finish(
                document,
                vec![Diagnostic::new(
                    Severity::Error,
                    String::new(),
                    e.to_string(),
                )],
            );
        }
    };
    let mut diagnostics = Vec::new();
    if let Some(config) = &module.config
        && let Err(e) = jsonschema::draft202012::meta::validate(config)
    {
        diagnostics.push(Diagnostic::new(
            Severity::Error,
            "/config".into(),
            format!("not a valid JSON Schema: {e}"),
        ));
    }
    for (i, name) in module.kpis.iter().enumerate() {
        if crate::kpi::kpi(name).is_none() {
            let known: Vec<&str> = crate::kpi::KPIS.iter().map(|k| k.name).collect();
            let message = format!("no KPI `{name}`; the engine computes: {}", known.join(", "));
            diagnostics.push(Diagnostic::new(
                Severity::Error,
                format!("/kpis/{i}"),
                message,
            ));
        }
    }
    let config_keys: Vec<String> = module
        .config
        .as_ref()
        .and_then(|c| c.get("properties"))
        .and_then(serde_json::Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for (name, source) in &module.templates {
        let pointer = format!("/templates/{}", crate::steps::context::escape(name));
        if let Err(e) = crate::template::Templates::check(source) {
            diagnostics.push(Diagnostic::new(Severity::Error, pointer.clone(), e.message));
        }
        for message in crate::steps::fields::unknown_fields(source) {
            diagnostics.push(Diagnostic::new(Severity::Error, pointer.clone(), message));
        }
        for key in crate::steps::context::references(source, "config.") {
            if !config_keys.iter().any(|k| k == key) {
                let message = format!("config.{key} is not declared in the module's config");
                diagnostics.push(Diagnostic::new(Severity::Error, pointer.clone(), message));
            }
        }
    }
    let around = Surroundings {
        prefix: "/flow",
        partials: None,
        config_keys: Some(config_keys),
        copy: Some(&module.templates),
        library: None,
        stored: false,
    };
    let (_, mut flow_diagnostics) = semantic::compile(module.flow, around);
    diagnostics.append(&mut flow_diagnostics);
    finish(document, diagnostics)
}

fn check_pack(document: &Document) -> Vec<Diagnostic> {
    let mut diagnostics = schema::check(DocumentKind::Pack, &document.json);
    if diagnostics.is_empty()
        && let Err(e) = serde_json::from_value::<Pack>(document.json.clone())
    {
        diagnostics.push(Diagnostic::new(
            Severity::Error,
            String::new(),
            e.to_string(),
        ));
    }
    finish(document, diagnostics)
}

#[cfg(test)]
mod tests;
