//! Secrets a server reads at start (the operator key, the key that seals credentials): from
//! the environment, else from a file, which the embedded default creates readable by its
//! owner only.

use std::path::Path;

use anyhow::Context;

/// A secret from `env`, else from `file`; in the embedded default (SQLite) a missing file
/// is created with `generate()` and mode 0600, and its path printed.
pub(super) fn secret(
    env: &str,
    file: &Path,
    embedded: bool,
    generate: fn() -> String,
) -> anyhow::Result<Option<String>> {
    if let Ok(value) = std::env::var(env)
        && !value.trim().is_empty()
    {
        return Ok(Some(value.trim().to_owned()));
    }
    match std::fs::read_to_string(file) {
        Ok(value) => return Ok(Some(value.trim().to_owned())),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("cannot read {}", file.display()));
        }
        Err(_) if !embedded => return Ok(None),
        Err(_) => {}
    }
    let value = generate();
    write_private_file(file, &value)?;
    eprintln!("generated {} (set {env} to choose one)", file.display());
    Ok(Some(value))
}

/// Writes `value` to a new file only its owner may read (mode 0600); an existing file is an
/// error, never overwritten.
pub(super) fn write_private_file(file: &Path, value: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("cannot create {}", file.display()))?;
    writeln!(f, "{value}")?;
    Ok(())
}
