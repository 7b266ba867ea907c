//! `stepwise validate <files or dirs> [--json]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use stepwise_engine::definition::{self, Diagnostic};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files, or directories searched for .yaml and .yml files (except `scenarios` folders:
    /// run those with `stepwise test`).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print diagnostics as JSON lines.
    #[arg(long)]
    json: bool,
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            let yaml = entry.extension().is_some_and(|x| x == "yaml" || x == "yml");
            // Scenario files are tests (`stepwise test`), not flow documents.
            let scenarios = entry.is_dir() && entry.ends_with("scenarios");
            if (entry.is_dir() && !scenarios) || yaml {
                collect(&entry, out)?;
            }
        }
    } else {
        out.push(path.to_owned());
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for path in &args.paths {
        collect(path, &mut files)?;
    }
    let (mut errors, mut warnings) = (0, 0);
    for file in &files {
        let name = file.display().to_string();
        let diagnostics: Vec<Diagnostic> = match std::fs::read_to_string(file) {
            Ok(source) => definition::validate(&name, &source).diagnostics,
            Err(e) => {
                let mut d = Diagnostic::new(
                    definition::Severity::Error,
                    String::new(),
                    format!("cannot read: {e}"),
                );
                d.file = name.clone();
                vec![d]
            }
        };
        for d in &diagnostics {
            if d.is_error() {
                errors += 1
            } else {
                warnings += 1
            }
            let line = if args.json {
                serde_json::to_string(d)?
            } else {
                d.to_string()
            };
            super::print(&(line + "\n"))?;
        }
    }
    if !args.json {
        let files = files.len();
        eprintln!(
            "{files} file{} checked: {errors} error{}, {warnings} warning{}",
            if files == 1 { "" } else { "s" },
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" }
        );
    }
    Ok(if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
