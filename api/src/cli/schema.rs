//! `stepwise schema [--write DIR]`: the JSON Schemas generated from the engine's types.

use std::path::PathBuf;
use std::process::ExitCode;

use stepwise_engine::definition::{DocumentKind, schema_of};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write flow.schema.json, module.schema.json and pack.schema.json into this directory
    /// instead of printing the flow schema.
    #[arg(long)]
    write: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.write {
        None => println!(
            "{}",
            serde_json::to_string_pretty(&schema_of(DocumentKind::Flow))?
        ),
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            for kind in DocumentKind::ALL {
                let path = dir.join(format!("{}.schema.json", kind.name()));
                std::fs::write(
                    &path,
                    serde_json::to_string_pretty(&schema_of(kind))? + "\n",
                )?;
                eprintln!("wrote {}", path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
