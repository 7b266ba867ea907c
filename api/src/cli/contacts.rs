//! `stepwise contacts import FILE`: a CSV file of contacts imported through a running
//! server's API (`STEPWISE_URL`, `STEPWISE_KEY`: an editor key of the tenant). It shows the
//! column mapping the server settled on, uploads the file, follows the import with a
//! progress bar, and can save the row report as CSV.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value};

use super::install::Server;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    server: Server,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Import a CSV file: `stepwise contacts import customers.csv --tag spring-list`.
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// The CSV file; its first line holds the headers.
    file: std::path::PathBuf,
    /// `skip-bad-rows` (default: import the rest, report the bad ones) or `all-or-nothing`.
    #[arg(long, default_value = "skip-bad-rows")]
    mode: String,
    /// A row of an existing contact: `update` it (default) or `skip` it.
    #[arg(long, default_value = "update")]
    existing: String,
    /// A tag every imported contact gets; repeat for more.
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// A column's field when the guess is wrong: HEADER=FIELD (phone, email, first_name,
    /// last_name, name, timezone, tags, fields.<name>, sms_opt_out, email_opt_out, ignore).
    #[arg(long = "map", value_name = "HEADER=FIELD")]
    map: Vec<String>,
    /// Only show the mapping and the first rows as they would be imported.
    #[arg(long)]
    preview: bool,
    /// Save the row report (bad and repeated rows) to this CSV file.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match args.command {
            Command::Import(import) => run_import(&args.server, import).await,
        }
    })
}

fn query(args: &ImportArgs) -> anyhow::Result<Vec<(String, String)>> {
    let mut query = vec![
        ("mode".to_owned(), args.mode.replace('-', "_")),
        ("existing".to_owned(), args.existing.clone()),
    ];
    if !args.tags.is_empty() {
        query.push(("tags".into(), args.tags.join(",")));
    }
    if !args.map.is_empty() {
        let mut mapping = Map::new();
        for spec in &args.map {
            let (header, field) = spec
                .split_once('=')
                .with_context(|| format!("--map {spec}: write HEADER=FIELD"))?;
            mapping.insert(header.to_owned(), Value::String(field.to_owned()));
        }
        query.push(("mapping".into(), Value::Object(mapping).to_string()));
    }
    Ok(query)
}

/// The lines a preview reads: the file's first 64 KiB, cut after its last whole line. The
/// server answers a preview from the head of the body without reading the rest, so sending
/// the whole file would leave the connection half-written (and a pooled connection broken
/// for the import that follows).
fn preview_part(file: &[u8]) -> &[u8] {
    const PREVIEW_BYTES: usize = 64 * 1024;
    if file.len() <= PREVIEW_BYTES {
        return file;
    }
    let head = &file[..PREVIEW_BYTES];
    head.iter()
        .rposition(|&b| b == b'\n')
        .map_or(head, |end| &head[..=end])
}

async fn run_import(server: &Server, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let key = server
        .key
        .as_deref()
        .context("give the tenant's key: STEPWISE_KEY or --key")?;
    stepwise_connectors::outbound::install_crypto_provider();
    let file = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let rows = file
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        .saturating_sub(1) as u64;
    let base = server.url.trim_end_matches('/');
    let http = reqwest::Client::new();
    let params = query(&args)?;
    let post = |path: &str, body: &[u8]| -> anyhow::Result<reqwest::RequestBuilder> {
        let url = url::Url::parse_with_params(&format!("{base}{path}"), &params)
            .with_context(|| format!("{base} is not a URL"))?;
        Ok(http
            .post(url)
            .bearer_auth(key)
            .header("content-type", "text/csv")
            .body(body.to_vec()))
    };
    let answer = post("/v1/imports/preview", preview_part(&file))?
        .send()
        .await
        .with_context(|| format!("cannot reach {base}"))?;
    let (status, preview) = (
        answer.status().as_u16(),
        answer.json::<Value>().await.unwrap_or(Value::Null),
    );
    if status != 200 {
        return Err(super::install::refused(status, &preview));
    }
    println!("columns:");
    for column in preview["mapping"].as_array().into_iter().flatten() {
        println!(
            "  {:<24} → {}",
            column["column"].as_str().unwrap_or(""),
            column["target"].as_str().unwrap_or("")
        );
    }
    if args.preview {
        println!("{}", serde_json::to_string_pretty(&preview["rows"])?);
        return Ok(ExitCode::SUCCESS);
    }
    let answer = post("/v1/imports", &file)?.send().await?;
    let (status, import) = (
        answer.status().as_u16(),
        answer.json::<Value>().await.unwrap_or(Value::Null),
    );
    match status {
        202 => {}
        200 => println!("this file was imported before with these options: nothing changed"),
        _ => return Err(super::install::refused(status, &import)),
    }
    let id = import["id"].as_str().unwrap_or_default().to_owned();
    let bar = progress(rows);
    let done = loop {
        let (status, now) = server
            .call(reqwest::Method::GET, &format!("/v1/imports/{id}"), None)
            .await?;
        if status != 200 {
            return Err(super::install::refused(status, &now));
        }
        let counts = &now["counts"];
        bar.set_position(counts["read"].as_u64().unwrap_or(0));
        bar.set_message(format!(
            "{} created, {} updated, {} failed",
            counts["created"], counts["updated"], counts["failed"]
        ));
        if matches!(now["status"].as_str(), Some("completed" | "failed")) {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    bar.finish_and_clear();
    let c = &done["counts"];
    println!(
        "import {id} {}: {} rows read, {} created, {} updated, {} skipped, {} failed",
        done["status"].as_str().unwrap_or(""),
        c["read"],
        c["created"],
        c["updated"],
        c["skipped"],
        c["failed"]
    );
    if let Some(error) = done["error"].as_str() {
        println!("{error}");
    }
    if let Some(path) = &args.report {
        let csv = http
            .get(format!("{base}/v1/imports/{id}/report.csv"))
            .bearer_auth(key)
            .send()
            .await?
            .bytes()
            .await?;
        std::fs::write(path, &csv).with_context(|| format!("cannot write {}", path.display()))?;
        println!("report written to {}", path.display());
    } else if c["failed"].as_u64().unwrap_or(0) + c["skipped"].as_u64().unwrap_or(0) > 0 {
        println!(
            "the rows not imported, and why: --report FILE, or GET /v1/imports/{id}/report.csv"
        );
    }
    if done["status"] == "failed" {
        bail!("the import failed");
    }
    Ok(ExitCode::SUCCESS)
}

fn progress(rows: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(rows), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("importing {bar:40} {pos}/{len} rows  {msg}")
            .unwrap_or(ProgressStyle::default_bar()),
    );
    bar
}
