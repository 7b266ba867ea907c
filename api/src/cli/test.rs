//! `stepwise test <paths>`: plays scenario files (`modules/<id>/scenarios/*.yaml`, or a
//! tenant's own, naming its `flow`) on the simulator and prints each difference from what the
//! scenario expects; a module's scenario is played again under every pack that installs the
//! module. Fails when any scenario fails, and when no scenario is found.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use stepwise_connectors::Sandbox;
use stepwise_engine::catalog::Catalog;
use stepwise_engine::scenario;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files, or directories searched for `scenarios/*.yaml`.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Modules and packs over the built-in ones (`modules/<id>/module.yaml`,
    /// `packs/<id>.yaml`); default: the current directory when it has a `modules` folder, so
    /// that a module being written is tested as it is on disk.
    #[arg(long, env = "STEPWISE_MODULES_DIR")]
    modules_dir: Option<PathBuf>,
}

fn collect(path: &Path, inside_scenarios: bool, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        let scenarios = path.ends_with("scenarios");
        for entry in entries {
            let yaml = entry.extension().is_some_and(|x| x == "yaml" || x == "yml");
            if entry.is_dir() {
                collect(&entry, scenarios, out)?;
            } else if yaml && scenarios {
                out.push(entry);
            }
        }
    } else if !inside_scenarios {
        out.push(path.to_owned());
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for path in &args.paths {
        collect(path, false, &mut files)?;
    }
    if files.is_empty() {
        eprintln!("no scenarios found (they live in `scenarios` folders)");
        return Ok(ExitCode::FAILURE);
    }
    let dir = args
        .modules_dir
        .or_else(|| Path::new("modules").is_dir().then(|| PathBuf::from(".")));
    let catalog = Catalog::load(dir.as_deref()).context("the modules and packs")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut passed, mut failed) = (0, 0);
    let mut report = String::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let played = runtime.block_on(scenario::run(
            &catalog,
            file,
            &text,
            Arc::new(Sandbox::new()),
        ));
        match played {
            Ok(outcomes) => {
                for outcome in outcomes {
                    if outcome.failures.is_empty() {
                        passed += 1;
                        report.push_str(&format!("ok    {}: {}\n", file.display(), outcome.name));
                    } else {
                        failed += 1;
                        report.push_str(&format!("FAIL  {}: {}\n", file.display(), outcome.name));
                        for failure in outcome.failures {
                            report.push_str(&format!(
                                "      {}\n",
                                failure.replace('\n', "\n      ")
                            ));
                        }
                    }
                }
            }
            Err(e) => {
                failed += 1;
                report.push_str(&format!("FAIL  {}: {e}\n", file.display()));
            }
        }
    }
    report.push_str(&format!("\n{passed} passed, {failed} failed\n"));
    super::print(&report)?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
