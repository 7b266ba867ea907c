//! The modules and packs a tenant can install: those built into the binary (the files under
//! `modules/` and `packs/`, one registry line each below) and, optionally, an operator's own
//! folder of the same shape, whose files add to them or replace a built-in of the same id (a
//! newer version of a module, say). Every file is validated when the catalog loads: a module
//! or pack that would not install is a start-up error, never a tenant's surprise.

pub mod docs;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::definition::{self, DocumentKind};
use crate::model::{Module, Pack};

/// A file of the repository, built into the binary: (path, text).
macro_rules! embedded {
    ($path:literal) => {
        ($path, include_str!(concat!("../../../", $path)))
    };
}

/// The built-in modules: `modules/<id>/module.yaml`. Adding one is its folder and one line.
const MODULES: &[(&str, &str)] = &[
    embedded!("modules/speed-to-lead/module.yaml"),
    embedded!("modules/show-up-saver/module.yaml"),
    embedded!("modules/reactivation/module.yaml"),
    embedded!("modules/drip-campaign/module.yaml"),
    embedded!("modules/loyalty-nps/module.yaml"),
    embedded!("modules/ai-reply/module.yaml"),
    embedded!("modules/smart-proposals/module.yaml"),
    embedded!("modules/outbound-lead-machine/module.yaml"),
    embedded!("modules/ai-draft-assistant/module.yaml"),
    embedded!("modules/onboarding-autopilot/module.yaml"),
    embedded!("modules/invoice-autoflow/module.yaml"),
];

/// The built-in packs: `packs/<id>.yaml`.
const PACKS: &[(&str, &str)] = &[
    embedded!("packs/dental.yaml"),
    embedded!("packs/trades.yaml"),
    embedded!("packs/beauty.yaml"),
    embedded!("packs/health.yaml"),
    embedded!("packs/agency.yaml"),
    embedded!("packs/retail.yaml"),
];

/// A module as the catalog holds it.
#[derive(Debug, Clone)]
pub struct CatalogModule {
    pub module: Module,
    /// The flow a tenant's installation publishes: the module's flow with the module's id and
    /// name, as YAML.
    pub flow_source: String,
}

/// A catalog file that cannot be used, with every problem found in it.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {}", .problems.join("; "))]
pub struct CatalogError {
    pub file: String,
    pub problems: Vec<String>,
}

impl CatalogError {
    fn new(file: &str, problem: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            problems: vec![problem.into()],
        }
    }
}

/// The installable modules and packs, by id.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    modules: BTreeMap<String, CatalogModule>,
    packs: BTreeMap<String, Pack>,
}

impl Catalog {
    /// The built-in modules and packs.
    pub fn builtin() -> Result<Self, CatalogError> {
        Self::load(None)
    }

    /// The built-ins, then `dir`'s `modules/*/module.yaml` and `packs/*.yaml` over them.
    pub fn load(dir: Option<&Path>) -> Result<Self, CatalogError> {
        let mut files: Vec<(String, String)> = MODULES
            .iter()
            .chain(PACKS)
            .map(|(file, text)| ((*file).to_owned(), (*text).to_owned()))
            .collect();
        if let Some(dir) = dir {
            files.extend(read_dir(dir)?);
        }
        let mut catalog = Self::default();
        let mut packs = Vec::new();
        for (file, text) in files {
            match check(&file, &text)? {
                DocumentKind::Module => {
                    let entry = read_module(&file, &text)?;
                    catalog.modules.insert(entry.module.id.clone(), entry);
                }
                DocumentKind::Pack => packs.push((file.clone(), parse::<Pack>(&file, &text)?)),
                DocumentKind::Flow => {
                    return Err(CatalogError::new(&file, "a flow, not a module or a pack"));
                }
            }
        }
        for (file, pack) in packs {
            catalog.check_pack(&file, &pack)?;
            catalog.packs.insert(pack.id.clone(), pack);
        }
        Ok(catalog)
    }

    pub fn module(&self, id: &str) -> Option<&CatalogModule> {
        self.modules.get(id)
    }

    pub fn modules(&self) -> impl Iterator<Item = &CatalogModule> {
        self.modules.values()
    }

    pub fn pack(&self, id: &str) -> Option<&Pack> {
        self.packs.get(id)
    }

    pub fn packs(&self) -> impl Iterator<Item = &Pack> {
        self.packs.values()
    }

    /// A pack installs: every module it names exists, and its config and copy for each are
    /// what the module declares and accepts.
    fn check_pack(&self, file: &str, pack: &Pack) -> Result<(), CatalogError> {
        let mut problems = Vec::new();
        for (i, entry) in pack.modules.iter().enumerate() {
            let Some(module) = self.module(&entry.module) else {
                problems.push(format!("modules[{i}]: no module `{}`", entry.module));
                continue;
            };
            let given = super::install::Overrides {
                config: entry.config.clone().into_iter().collect(),
                templates: entry.templates.clone(),
            };
            // What the tenant must give (`required`) is not the pack's to give.
            let mut partial = module.clone();
            if let Some(Value::Object(schema)) = &mut partial.module.config {
                schema.remove("required");
            }
            let tenant_only = super::install::Overrides::default();
            match super::install::effective(&partial, Some(&given), &tenant_only) {
                Ok(_) => {}
                Err(crate::error::EngineError::InvalidConfig(found)) => {
                    problems.extend(found.into_iter().map(|p| {
                        format!(
                            "modules[{i}] ({}) at {}: {}",
                            entry.module, p.pointer, p.message
                        )
                    }));
                }
                Err(e) => problems.push(format!("modules[{i}] ({}): {e}", entry.module)),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CatalogError {
                file: file.to_owned(),
                problems,
            })
        }
    }
}

/// A module file, validated, as the catalog holds it.
pub fn read_module(file: &str, text: &str) -> Result<CatalogModule, CatalogError> {
    if check(file, text)? != DocumentKind::Module {
        return Err(CatalogError::new(file, "not a module"));
    }
    let module = parse::<Module>(file, text)?;
    let flow_source = flow_source(file, text, &module)?;
    Ok(CatalogModule {
        module,
        flow_source,
    })
}

/// The document's kind, once it validates without errors.
fn check(file: &str, text: &str) -> Result<DocumentKind, CatalogError> {
    let report = definition::validate(file, text);
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    if errors.is_empty() {
        Ok(report.kind)
    } else {
        Err(CatalogError {
            file: file.to_owned(),
            problems: errors,
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, CatalogError> {
    let document =
        definition::Document::parse(file, text).map_err(|d| CatalogError::new(file, d.message))?;
    serde_json::from_value(document.json).map_err(|e| CatalogError::new(file, e.to_string()))
}

/// The module's flow as the YAML of a flow of its own: its `id`, `name` and `config` are the
/// module's. As the author wrote it (order, comments) where that reads back the same, else
/// written out from the parsed document.
fn flow_source(file: &str, text: &str, module: &Module) -> Result<String, CatalogError> {
    let document =
        definition::Document::parse(file, text).map_err(|d| CatalogError::new(file, d.message))?;
    let Some(Value::Object(body)) = document.json.get("flow").cloned() else {
        return Err(CatalogError::new(file, "no flow"));
    };
    let mut flow = serde_json::Map::new();
    flow.insert("id".into(), Value::String(module.id.clone()));
    flow.insert("name".into(), Value::String(module.name.clone()));
    for (key, value) in body {
        if key != "id" && key != "name" {
            flow.insert(key, value);
        }
    }
    // The module's config schema becomes the flow's declaration, so that its values are
    // checked (and its defaults filled) when the installation publishes.
    if let Some(config) = document.json.get("config") {
        flow.insert("config".into(), config.clone());
    }
    let flow = Value::Object(flow);
    let header = format!(
        "# Installed from the module {} {}.\n",
        module.id, module.version
    );
    if let Some(written) = as_written(text, module)
        && definition::Document::parse(file, &written).is_ok_and(|d| d.json == flow)
    {
        return Ok(format!("{header}{written}"));
    }
    let yaml = serde_saphyr::to_string(&flow)
        .map_err(|e| CatalogError::new(file, format!("cannot write the flow as YAML: {e}")))?;
    Ok(format!("{header}{yaml}"))
}

/// The flow as the module's author wrote it: `id`, `name`, the `config:` block, then the
/// `flow:` block's lines, dedented.
fn as_written(text: &str, module: &Module) -> Option<String> {
    let flow = block(text, "flow")?;
    let mut out = format!(
        "id: {}\nname: {}\n",
        module.id,
        Value::String(module.name.clone())
    );
    if let Some(config) = block(text, "config") {
        out.push_str("config:\n");
        for line in config.lines() {
            out.push_str(&format!("  {line}\n").replace("  \n", "\n"));
        }
    }
    out.push_str(&flow);
    Some(out)
}

/// The lines of a top-level block (`key:` alone on its line), dedented, without the blank
/// and comment lines that end it.
fn block(text: &str, key: &str) -> Option<String> {
    let mut lines = text.lines();
    let head = format!("{key}:");
    lines.by_ref().find(|l| l.trim_end() == head)?;
    let mut body: Vec<&str> = lines
        .take_while(|l| l.trim().is_empty() || l.starts_with(' ') || l.starts_with('#'))
        .collect();
    while body
        .last()
        .is_some_and(|l| l.trim().is_empty() || l.starts_with('#'))
    {
        body.pop();
    }
    let indent = body
        .iter()
        .filter(|l| !l.trim().is_empty() && l.starts_with(' '))
        .map(|l| l.len() - l.trim_start().len())
        .min()?;
    let mut out = String::new();
    for line in body {
        let dedented = line
            .get(indent..)
            .filter(|_| line[..indent].trim().is_empty());
        out.push_str(dedented.unwrap_or_else(|| line.trim_start()));
        out.push('\n');
    }
    Some(out)
}

/// The operator's files: `modules/*/module.yaml` and `packs/*.yaml` under `dir`.
fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, CatalogError> {
    let mut files = Vec::new();
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|e| CatalogError::new(&path.display().to_string(), e.to_string()))
    };
    let entries = |path: &Path| -> Result<Vec<std::path::PathBuf>, CatalogError> {
        match std::fs::read_dir(path) {
            Ok(entries) => {
                let mut paths: Vec<_> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
                paths.sort();
                Ok(paths)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(CatalogError::new(
                &path.display().to_string(),
                e.to_string(),
            )),
        }
    };
    for module_dir in entries(&dir.join("modules"))? {
        let file = module_dir.join("module.yaml");
        if file.is_file() {
            files.push((file.display().to_string(), read(&file)?));
        }
    }
    for file in entries(&dir.join("packs"))? {
        if file.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push((file.display().to_string(), read(&file)?));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests;
