//! `stepwise docs [--write DIR]`: the reference pages of the modules and packs
//! (`modules/<id>.md`, `modules/README.md`, `packs.md`), generated from their files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use stepwise_engine::catalog::{Catalog, docs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the pages under this folder (`docs`) instead of listing them.
    #[arg(long)]
    write: Option<PathBuf>,
    /// The folder holding `modules/` and `packs/` (default: the current directory).
    #[arg(long, default_value = ".")]
    from: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(Some(&args.from)).context("the modules and packs")?;
    let pages = docs::pages(&catalog, &args.from.join("modules"));
    match args.write {
        None => {
            for (path, _) in &pages {
                super::print(&format!("{path}\n"))?;
            }
        }
        Some(dir) => {
            for (path, text) in pages {
                let file = dir.join(Path::new(&path));
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&file, text)
                    .with_context(|| format!("cannot write {}", file.display()))?;
                eprintln!("wrote {}", file.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
