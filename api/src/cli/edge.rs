//! How a `serve` or `worker` process reaches providers and how providers reach it: the
//! public URL, providers' base URLs, the address ranges tenant URLs may reach, the provider
//! timeout; and the [`Connectors`] they make, with the vault over the store.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use stepwise_connectors::links::LinkSigner;
use stepwise_connectors::{Connectors, Env, Guard, Outbound};
use stepwise_engine::secrets::SecretBox;
use stepwise_engine::store::SqlStore;
use stepwise_engine::vault::StoreVault;

/// How this process reaches providers and how providers reach it.
#[derive(Debug, clap::Args)]
pub struct EdgeArgs {
    /// The server's public base URL, e.g. `https://automations.example.com`: webhook URLs shown
    /// in settings and given to providers (Twilio's status callbacks) start with it.
    #[arg(long, env = "STEPWISE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// A provider's API base URL instead of its own, as NAME=URL (tests, regional endpoints),
    /// e.g. `twilio=http://127.0.0.1:4010`; several separated by commas.
    #[arg(
        long = "provider-url",
        env = "STEPWISE_PROVIDER_URLS",
        value_delimiter = ','
    )]
    provider_urls: Vec<String>,
    /// Address ranges tenant URLs (an `http` step, a Slack webhook) may reach although they
    /// are not public, e.g. `10.1.0.0/16`; several separated by commas. Default: none.
    #[arg(
        long = "allow-private",
        env = "STEPWISE_ALLOW_PRIVATE",
        value_delimiter = ','
    )]
    allow_private: Vec<String>,
    /// Seconds a provider call may take before it is given up (then retried, or recorded as
    /// uncertain if the request may have arrived). Keep it under `--call-lease`.
    #[arg(long, env = "STEPWISE_PROVIDER_TIMEOUT", default_value_t = 15)]
    provider_timeout: u64,
}

impl EdgeArgs {
    /// The providers of this process, opening credentials with `secret_key`.
    pub(super) fn connectors(
        &self,
        store: Arc<SqlStore>,
        secret_key: Option<&str>,
    ) -> anyhow::Result<Connectors> {
        let mut allowed = Vec::new();
        for range in self.allow_private.iter().filter(|r| !r.trim().is_empty()) {
            allowed.push(range.trim().parse().with_context(|| {
                format!(
                    "STEPWISE_ALLOW_PRIVATE: {range:?} is not an address range (e.g. 10.1.0.0/16)"
                )
            })?);
        }
        let mut base_urls = std::collections::BTreeMap::new();
        for pair in self.provider_urls.iter().filter(|p| !p.trim().is_empty()) {
            let (name, url) = pair
                .split_once('=')
                .with_context(|| format!("STEPWISE_PROVIDER_URLS: {pair:?} is not NAME=URL"))?;
            base_urls.insert(name.trim().to_owned(), url.trim().to_owned());
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            bail!("STEPWISE_PUBLIC_URL: {url:?} is not an http(s) URL");
        }
        let vault: Arc<dyn stepwise_engine::ports::Vault> = match secret_key {
            Some(key) => Arc::new(StoreVault::new(
                store,
                SecretBox::from_hex(key).context("STEPWISE_SECRET_KEY")?,
            )),
            None => Arc::new(stepwise_connectors::provider::NoCredentials),
        };
        Ok(Connectors::new(Env {
            outbound: Outbound::new(Guard::new(allowed))
                .with_request_timeout(Duration::from_secs(self.provider_timeout.clamp(1, 300))),
            vault,
            public_url: self.public_url.clone(),
            base_urls,
            links: secret_key.map(LinkSigner::from_secret),
        }))
    }
}
