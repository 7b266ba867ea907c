//! `stepwise secret-key rotate`: re-seals every tenant's stored credentials under a new secret
//! key, in one transaction (all or none), with the servers stopped. The current key comes from
//! where `serve` reads it; the new one from `--new-key-file`, made there (mode 0600) when the
//! file does not exist. Afterwards the servers start with the new key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use stepwise_engine::secrets::SecretBox;
use stepwise_engine::store::SqlStore;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Re-seal every stored credential under a new key (stop every server first).
    Rotate(RotateArgs),
}

#[derive(Debug, clap::Args)]
struct RotateArgs {
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://stepwise.db")]
    database_url: String,
    /// The current key's file, read when STEPWISE_SECRET_KEY is not set.
    #[arg(long, default_value = "stepwise.secret-key")]
    secret_key_file: PathBuf,
    /// The new key's file: read if it exists, else made with a new random key.
    #[arg(long)]
    new_key_file: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Command::Rotate(args) = args.command;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(rotate(args))
}

async fn rotate(args: RotateArgs) -> anyhow::Result<ExitCode> {
    let current = match std::env::var("STEPWISE_SECRET_KEY") {
        Ok(key) if !key.trim().is_empty() => key,
        _ => std::fs::read_to_string(&args.secret_key_file).with_context(|| {
            format!(
                "the current key: set STEPWISE_SECRET_KEY or give --secret-key-file ({} cannot be read)",
                args.secret_key_file.display()
            )
        })?,
    };
    let current = SecretBox::from_hex(&current).context("the current key")?;
    let (new_hex, made) = new_key(&args.new_key_file)?;
    let new = SecretBox::from_hex(&new_hex).context("the new key")?;

    let store = SqlStore::connect(&args.database_url).await?;
    store.migrate().await?;
    let sealed = store.sealed_credentials().await?;
    let mut replacements = Vec::with_capacity(sealed.len());
    for credential in sealed {
        let context = format!("{}/{}", credential.tenant_id, credential.name);
        let Ok(plain) = current.open(&credential.sealed, &context) else {
            bail!(
                "credential {} of tenant {} does not open with the current key; nothing was changed",
                credential.name,
                credential.tenant_id
            );
        };
        let resealed = new.seal(&plain, &context);
        replacements.push((credential, resealed));
    }
    store.replace_sealed_credentials(&replacements).await?;
    if made {
        println!("made a new key in {}", args.new_key_file.display());
    }
    println!(
        "re-sealed {} credentials under the key in {}; start the servers with that key \
         (STEPWISE_SECRET_KEY, or move the file to {})",
        replacements.len(),
        args.new_key_file.display(),
        args.secret_key_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The key in `file`, or a new one written there (mode 0600); answers it and whether it was
/// made.
fn new_key(file: &Path) -> anyhow::Result<(String, bool)> {
    match std::fs::read_to_string(file) {
        Ok(key) => return Ok((key.trim().to_owned(), false)),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("cannot read {}", file.display()));
        }
        Err(_) => {}
    }
    let key = SecretBox::generate_key();
    super::key_files::write_private_file(file, &key)?;
    Ok((key, true))
}
