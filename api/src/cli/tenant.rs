//! `stepwise tenant create` (a tenant and its first admin key) and `stepwise tenant key` (a
//! new admin key for an existing tenant), in the database directly, no server needed. Each
//! key is printed once.

use std::process::ExitCode;

use anyhow::Context;
use stepwise_engine::model::Tenant;
use stepwise_engine::store::SqlStore;

use crate::access::{TenantError, create_tenant, mint_admin_key};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create a tenant and print its admin API key (shown only this once).
    Create(CreateArgs),
    /// Mint a new admin key for an existing tenant (when every admin key was lost or revoked).
    Key(KeyArgs),
}

#[derive(Debug, clap::Args)]
struct KeyArgs {
    /// The tenant's id.
    #[arg(long)]
    id: String,
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://stepwise.db")]
    database_url: String,
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The business's name, e.g. "Bright Smile Dental".
    #[arg(long)]
    name: String,
    /// IANA time zone for schedules and quiet hours, e.g. America/Chicago (required: quiet
    /// hours and schedules are kept in it).
    #[arg(long)]
    timezone: String,
    /// ISO country whose numbering plan reads phone numbers written without +.
    #[arg(long, default_value = "US")]
    country: String,
    /// The tenant's id (default: made from the name, e.g. bright-smile-dental-3f9a).
    #[arg(long)]
    id: Option<String>,
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://stepwise.db")]
    database_url: String,
    /// Print the tenant and key as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Create(args) => create(args),
        Command::Key(args) => mint(args),
    }
}

async fn open(url: &str) -> anyhow::Result<SqlStore> {
    let store = SqlStore::connect(url)
        .await
        .with_context(|| format!("cannot open the database {}", super::migrate::redact(url)))?;
    store.migrate().await?;
    Ok(store)
}

fn mint(args: KeyArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = open(&args.database_url).await?;
        if let Err(e) = stepwise_engine::ports::Store::tenant(&store, &args.id).await {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
        let (secret, key) = mint_admin_key(&store, &args.id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let text = format!(
            "new admin key {} for tenant {} (shown only now; keep it safe):\n{secret}\n",
            key.id, args.id
        );
        super::print(&text)?;
        Ok(ExitCode::SUCCESS)
    })
}

fn create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = open(&args.database_url).await?;
        let tenant = Tenant {
            id: args.id.unwrap_or_default(),
            name: args.name,
            timezone: args.timezone,
            country: args.country,
            ..Tenant::default()
        };
        let (tenant, secret, key) = match create_tenant(&store, tenant).await {
            Ok(created) => created,
            Err(TenantError::Invalid(message)) => {
                eprintln!("error: {message}");
                return Ok(ExitCode::FAILURE);
            }
            Err(TenantError::Store(e)) => return Err(e.into()),
        };
        let text = if args.json {
            serde_json::json!({ "tenant": tenant, "admin_key": { "id": key.id, "key": secret } })
                .to_string()
                + "\n"
        } else {
            format!(
                "created tenant {} ({})\nadmin API key (shown only now; keep it safe):\n{secret}\n",
                tenant.id, tenant.name
            )
        };
        super::print(&text)?;
        Ok(ExitCode::SUCCESS)
    })
}
