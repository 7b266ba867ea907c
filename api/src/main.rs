//! The `stepwise` binary: parses the command line and runs the command.

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = stepwise_api::cli::Cli::parse();
    init_logging(if cli.is_server() { "info" } else { "warn" });
    match stepwise_api::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to stderr at `default` (`info` for `serve` and `worker`, `warn` for the one-shot
/// commands; `STEPWISE_LOG` sets the filter, e.g. `warn` or `stepwise=debug`), as text, or
/// one JSON object a line with `STEPWISE_LOG_FORMAT=json` (production). Colours only when
/// stderr is a terminal.
fn init_logging(default: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("STEPWISE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("STEPWISE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}
