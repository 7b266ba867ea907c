//! `stepwise pack list|install` and `stepwise module list|install|installed|upgrade|uninstall`:
//! the catalog, installing from it and managing what is installed, through a running server's API (`STEPWISE_URL`, `STEPWISE_KEY`: an editor key of
//! the tenant), so that validation, audit and versions are exactly the API's.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

#[derive(Debug, clap::Args)]
pub struct PackArgs {
    #[command(subcommand)]
    command: PackCommand,
    #[command(flatten)]
    server: Server,
}

#[derive(Debug, clap::Subcommand)]
enum PackCommand {
    /// The packs the server offers.
    List,
    /// Install every module of a pack: `stepwise pack install dental --set booking_link=https://…`.
    Install {
        /// The pack's id.
        id: String,
        /// A config value for every module that takes the key: KEY=VALUE (VALUE is read as
        /// JSON when it parses, else as text). Repeat for more.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// A config value for one module: MODULE.KEY=VALUE.
        #[arg(long = "module-set", value_name = "MODULE.KEY=VALUE")]
        module_set: Vec<String>,
        /// Copy for one module: MODULE.TEMPLATE=TEXT.
        #[arg(long = "template", value_name = "MODULE.TEMPLATE=TEXT")]
        template: Vec<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct ModuleArgs {
    #[command(subcommand)]
    command: ModuleCommand,
    #[command(flatten)]
    server: Server,
}

#[derive(Debug, clap::Subcommand)]
enum ModuleCommand {
    /// The modules the server offers.
    List,
    /// Install one module: `stepwise module install speed-to-lead --set booking_link=https://…`.
    Install {
        /// The module's id.
        id: String,
        /// A config value: KEY=VALUE (JSON when it parses, else text). Repeat for more.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Copy: TEMPLATE=TEXT.
        #[arg(long = "template", value_name = "TEMPLATE=TEXT")]
        template: Vec<String>,
        /// Install it with this pack's config and copy for it.
        #[arg(long)]
        pack: Option<String>,
    },
    /// The tenant's installed modules, with the version each could upgrade to.
    Installed,
    /// Upgrade an installed module to the server's version: the tenant's edits are kept, and a
    /// text both changed is a conflict to resolve with --mine or --theirs.
    Upgrade {
        /// The module's id.
        id: String,
        /// Show what would change and conflict; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Keep the tenant's text of this conflicting template. Repeat for more.
        #[arg(long, value_name = "TEMPLATE")]
        mine: Vec<String>,
        /// Take the new version's text of this conflicting template. Repeat for more.
        #[arg(long, value_name = "TEMPLATE")]
        theirs: Vec<String>,
        /// Change a config value with the upgrade: KEY=VALUE (JSON when it parses, else text;
        /// `null` drops the key), for a key the new version renamed or reshaped.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Uninstall a module: its flow starts no new runs; running runs finish (or stop, with
    /// --cancel-runs).
    Uninstall {
        /// The module's id.
        id: String,
        /// Cancel the module's running runs too.
        #[arg(long)]
        cancel_runs: bool,
    },
}

/// Where the API is and the key to call it with.
#[derive(Debug, clap::Args)]
pub(super) struct Server {
    /// The server's base URL.
    #[arg(
        long,
        env = "STEPWISE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub(super) url: String,
    /// A key of the tenant (editor or admin to install).
    #[arg(long, env = "STEPWISE_KEY", hide_env_values = true, global = true)]
    pub(super) key: Option<String>,
}

impl Server {
    pub(super) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let key = self
            .key
            .as_deref()
            .context("give the tenant's key: STEPWISE_KEY or --key")?;
        stepwise_connectors::outbound::install_crypto_provider();
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let mut request = reqwest::Client::new()
            .request(method, &url)
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = answer.status().as_u16();
        let body = answer.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }
}

/// KEY=VALUE, the value read as JSON when it parses, else as text.
fn pair(spec: &str) -> anyhow::Result<(String, Value)> {
    let (key, value) = spec
        .split_once('=')
        .with_context(|| format!("{spec}: write KEY=VALUE"))?;
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((key.to_owned(), value))
}

/// MODULE.REST=VALUE → (MODULE, REST, VALUE).
fn module_pair(spec: &str) -> anyhow::Result<(String, String, Value)> {
    let (key, value) = pair(spec)?;
    let (module, rest) = key
        .split_once('.')
        .with_context(|| format!("{spec}: write MODULE.KEY=VALUE"))?;
    Ok((module.to_owned(), rest.to_owned(), value))
}

/// The API's error, with every located problem, as the command's failure.
pub(super) fn refused(status: u16, body: &Value) -> anyhow::Error {
    let error = &body["error"];
    let mut text = format!(
        "{status} {}: {}",
        error["code"].as_str().unwrap_or("error"),
        error["message"].as_str().unwrap_or("")
    );
    for problem in error["details"]["problems"]
        .as_array()
        .into_iter()
        .flatten()
    {
        text.push_str(&format!(
            "\n  {}: {}",
            problem["pointer"].as_str().unwrap_or(""),
            problem["message"].as_str().unwrap_or("")
        ));
    }
    anyhow::anyhow!(text)
}

fn installed_line(installed: &Value) -> String {
    let i = &installed["installation"];
    let what = if installed["changed"] == true {
        "installed"
    } else {
        "unchanged"
    };
    format!(
        "{what:<10} {} {} (flow version {})\n",
        i["module"].as_str().unwrap_or(""),
        i["version"].as_str().unwrap_or(""),
        i["flow_version"]
    )
}

fn listing(body: &Value, name: &str) -> String {
    let mut out = String::new();
    for item in body["data"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<20} {}\n",
            item["id"].as_str().unwrap_or(""),
            item[name].as_str().unwrap_or("")
        ));
    }
    out
}

fn block_on<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(work)
}

pub fn pack(args: PackArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let server = &args.server;
        let text = match args.command {
            PackCommand::List => {
                let (status, body) = server.call(reqwest::Method::GET, "/v1/packs", None).await?;
                if status != 200 {
                    return Err(refused(status, &body));
                }
                listing(&body, "name")
            }
            PackCommand::Install {
                id,
                set,
                module_set,
                template,
            } => {
                let config: Map<String, Value> =
                    set.iter().map(|s| pair(s)).collect::<anyhow::Result<_>>()?;
                let mut modules: BTreeMap<String, Value> = BTreeMap::new();
                for spec in &module_set {
                    let (module, key, value) = module_pair(spec)?;
                    let entry = modules.entry(module).or_insert_with(|| json!({}));
                    entry["config"][key] = value;
                }
                for spec in &template {
                    let (module, name, value) = module_pair(spec)?;
                    let Value::String(text) = value else {
                        bail!("{spec}: copy is text");
                    };
                    let entry = modules.entry(module).or_insert_with(|| json!({}));
                    entry["templates"][name] = Value::String(text);
                }
                let body = json!({ "config": config, "modules": modules });
                let path = format!("/v1/packs/{id}/install");
                let (status, body) = server
                    .call(reqwest::Method::POST, &path, Some(body))
                    .await?;
                if !(200..300).contains(&status) {
                    return Err(refused(status, &body));
                }
                body["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(installed_line)
                    .collect()
            }
        };
        super::print(&text)?;
        Ok(ExitCode::SUCCESS)
    })
}

pub fn module(args: ModuleArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let server = &args.server;
        let text = match args.command {
            ModuleCommand::List => {
                let (status, body) = server
                    .call(reqwest::Method::GET, "/v1/modules", None)
                    .await?;
                if status != 200 {
                    return Err(refused(status, &body));
                }
                listing(&body, "summary")
            }
            ModuleCommand::Install {
                id,
                set,
                template,
                pack,
            } => {
                let config: Map<String, Value> =
                    set.iter().map(|s| pair(s)).collect::<anyhow::Result<_>>()?;
                let mut templates = Map::new();
                for spec in &template {
                    let (name, text) = spec
                        .split_once('=')
                        .with_context(|| format!("{spec}: write TEMPLATE=TEXT"))?;
                    templates.insert(name.to_owned(), Value::String(text.to_owned()));
                }
                let body = json!({ "config": config, "templates": templates, "pack": pack });
                let path = format!("/v1/modules/{id}/install");
                let (status, body) = server
                    .call(reqwest::Method::POST, &path, Some(body))
                    .await?;
                if !(200..300).contains(&status) {
                    return Err(refused(status, &body));
                }
                installed_line(&body)
            }
            ModuleCommand::Installed => {
                let (status, body) = server
                    .call(reqwest::Method::GET, "/v1/installations", None)
                    .await?;
                if status != 200 {
                    return Err(refused(status, &body));
                }
                body["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(installation_line)
                    .collect()
            }
            ModuleCommand::Upgrade {
                id,
                dry_run,
                mine,
                theirs,
                set,
            } => {
                let resolve: Map<String, Value> = mine
                    .into_iter()
                    .map(|t| (t, json!("mine")))
                    .chain(theirs.into_iter().map(|t| (t, json!("theirs"))))
                    .collect();
                let config: Map<String, Value> =
                    set.iter().map(|s| pair(s)).collect::<anyhow::Result<_>>()?;
                let body = json!({ "dry_run": dry_run, "resolve": resolve, "config": config });
                let path = format!("/v1/installations/{id}/upgrade");
                let (status, body) = server
                    .call(reqwest::Method::POST, &path, Some(body))
                    .await?;
                match status {
                    200 => upgrade_plan(&body, dry_run),
                    409 if body["error"]["details"]["plan"].is_object() => {
                        let plan = upgrade_plan(&body["error"]["details"]["plan"], true);
                        return Err(anyhow::anyhow!(
                            "{plan}blocked: resolve each conflict with --mine TEMPLATE or --theirs TEMPLATE"
                        ));
                    }
                    _ => return Err(refused(status, &body)),
                }
            }
            ModuleCommand::Uninstall { id, cancel_runs } => {
                let path = format!("/v1/installations/{id}?cancel_runs={cancel_runs}");
                let (status, body) = server.call(reqwest::Method::DELETE, &path, None).await?;
                if status != 200 {
                    return Err(refused(status, &body));
                }
                format!("uninstalled {id}; runs cancelled: {}\n", body["cancelled"])
            }
        };
        super::print(&text)?;
        Ok(ExitCode::SUCCESS)
    })
}

fn installation_line(i: &Value) -> String {
    let state = if i["enabled"] == true {
        "on"
    } else {
        "uninstalled"
    };
    let upgrade = i["upgrade_to"]
        .as_str()
        .map(|v| format!("  (upgrade to {v})"))
        .unwrap_or_default();
    format!(
        "{:<22} {:<8} flow version {:<4} {state}{upgrade}\n",
        i["module"].as_str().unwrap_or(""),
        i["version"].as_str().unwrap_or(""),
        i["flow_version"]
    )
}

/// An upgrade plan: the versions, each text that changes, each conflict.
fn upgrade_plan(plan: &Value, dry_run: bool) -> String {
    let mut out = format!(
        "{} {} -> {}{}\n",
        plan["module"].as_str().unwrap_or(""),
        plan["from"].as_str().unwrap_or(""),
        plan["to"].as_str().unwrap_or(""),
        if plan["flow_changed"] == true {
            " (the flow's steps change)"
        } else {
            ""
        }
    );
    for change in plan["changes"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  changes  {}\n",
            change["template"].as_str().unwrap_or("")
        ));
    }
    for conflict in plan["conflicts"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  conflict {}: both you and the new version changed it\n",
            conflict["template"].as_str().unwrap_or("")
        ));
    }
    match plan["flow_version"].as_u64() {
        Some(v) => out.push_str(&format!("upgraded: flow version {v}\n")),
        None if dry_run => out.push_str("dry run: nothing changed\n"),
        None => {}
    }
    out
}
