//! Subcommands of `stepwise`, one file each.

mod bench;
mod contacts;
mod docs;
mod edge;
mod install;
mod key_files;
mod migrate;
mod schema;
mod secret_key;
mod serve;
mod simulate;
mod tenant;
mod test;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Stepwise: durable, multi-tenant automation flows for small businesses.
#[derive(Debug, Parser)]
#[command(name = "stepwise", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// Whether this command is a long-running process (`serve`, `worker`), whose logs say
    /// what it does at `info`; the one-shot commands log only warnings by default.
    pub fn is_server(&self) -> bool {
        matches!(self.command, Command::Serve(_) | Command::Worker(_))
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check flow, module and pack files (or every .yaml/.yml under directories).
    Validate(validate::Args),
    /// Run a flow on a virtual clock with sandbox connectors and print its timeline.
    Simulate(simulate::Args),
    /// Play scenario files (`modules/<id>/scenarios/*.yaml`, or your own) on the simulator
    /// and show how each differs from what it expects.
    Test(test::Args),
    /// The packs a server offers, and installing one for a tenant through its API:
    /// `pack install dental --set booking_link=https://…` (STEPWISE_URL, STEPWISE_KEY).
    Pack(install::PackArgs),
    /// The modules a server offers, and installing one: `module install speed-to-lead --set …`.
    Module(install::ModuleArgs),
    /// Contacts through a server's API: `contacts import customers.csv` (STEPWISE_URL,
    /// STEPWISE_KEY).
    Contacts(contacts::Args),
    /// Write the reference pages of the modules and packs from their files (`--write docs`).
    Docs(docs::Args),
    /// Print or write the JSON Schemas of flows, modules and packs.
    Schema(schema::Args),
    /// Apply the database migrations (SQLite or PostgreSQL).
    Migrate(migrate::Args),
    /// Run the API, workers and reconciler (embedded default: ./stepwise.db, 127.0.0.1:8080).
    Serve(serve::ServeArgs),
    /// Manage tenants in the database directly: `tenant create` (with its first admin key),
    /// `tenant key` (a new admin key for an existing tenant).
    Tenant(tenant::Args),
    /// Run workers and the reconciler only (production: several processes share the work).
    Worker(serve::WorkerArgs),
    /// Measure the engine: `bench flow`, `bench api`, `bench workers`, `bench timers`.
    Bench(bench::Args),
    /// Re-seal every stored credential under a new secret key: `secret-key rotate`.
    SecretKey(secret_key::Args),
}

/// Runs the command; the exit code says whether it succeeded.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Test(args) => test::run(args),
        Command::Docs(args) => docs::run(args),
        Command::Contacts(args) => contacts::run(args),
        Command::Pack(args) => install::pack(args),
        Command::Module(args) => install::module(args),
        Command::Schema(args) => schema::run(args),
        Command::Migrate(args) => migrate::run(args),
        Command::Serve(args) => serve::serve(args),
        Command::Tenant(args) => tenant::run(args),
        Command::Worker(args) => serve::worker(args),
        Command::Bench(args) => bench::run(args),
        Command::SecretKey(args) => secret_key::run(args),
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends output quietly instead of panicking.
fn print(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
