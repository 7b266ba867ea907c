//! `stepwise migrate`: apply the database migrations (also done on every start).

use std::process::ExitCode;

use stepwise_engine::store::SqlStore;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://stepwise.db")]
    database_url: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = SqlStore::connect(&args.database_url).await?;
        store.migrate().await?;
        eprintln!("migrations applied to {}", redact(&args.database_url));
        Ok(ExitCode::SUCCESS)
    })
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}
