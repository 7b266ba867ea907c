//! What a provider is: one outside system offering some capabilities, built once per process
//! from the operator's [`Env`], and given the tenant's options and credentials per call.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use stepwise_core::{CallCx, Capability, ConnectorError, Request, Response, Vault};

use crate::links::{LinkSigner, LinkTarget};
use crate::outbound::Outbound;

/// What the operator gives every provider.
#[derive(Debug, Clone)]
pub struct Env {
    pub outbound: Outbound,
    /// Opens the tenants' credentials.
    pub vault: Arc<dyn Vault>,
    /// The server's public base URL (`https://automations.example.com`), for the webhook URLs
    /// providers are told to call. `None`: providers are not told (status stays `sent`).
    pub public_url: Option<String>,
    /// Base URLs by provider name, replacing the provider's own (tests, regional endpoints).
    pub base_urls: BTreeMap<String, String>,
    /// Signs the unsubscribe links of marketing email; `None`: no links (and no marketing
    /// email: a send that needs one fails).
    pub links: Option<LinkSigner>,
}

impl Env {
    /// The provider's API base URL: the operator's override, else `default`.
    pub fn base_url(&self, provider: &str, default: &str) -> String {
        self.base_urls
            .get(provider)
            .map_or(default, String::as_str)
            .trim_end_matches('/')
            .to_owned()
    }

    /// `{public_url}/unsubscribe/{token}` for an address, if the server has a public URL and a key.
    pub fn unsubscribe_url(&self, target: &LinkTarget) -> Option<String> {
        let base = self.public_url.as_deref()?.trim_end_matches('/');
        Some(format!(
            "{base}/unsubscribe/{}",
            self.links.as_ref()?.token(target)
        ))
    }

    /// `{public_url}/hooks/{token}/{source}`, if the server has a public URL and the tenant a token.
    pub fn hook_url(&self, hook_token: Option<&str>, source: &str) -> Option<String> {
        let base = self.public_url.as_deref()?.trim_end_matches('/');
        Some(format!("{base}/hooks/{}/{source}", hook_token?))
    }
}

/// One outside system. See the crate documentation for the contract.
#[async_trait]
pub trait Provider: Send + Sync + std::fmt::Debug {
    /// The name tenants choose it by: `providers.sms.provider: twilio`.
    fn name(&self) -> &'static str;

    /// What it can do.
    fn capabilities(&self) -> &'static [Capability];

    /// Checks a tenant's options for it (when settings change), with a message for the admin.
    fn check(&self, capability: Capability, options: &Map<String, Value>) -> Result<(), String>;

    /// Makes one attempt.
    async fn call(
        &self,
        request: &Request,
        options: &Map<String, Value>,
        cx: &CallCx,
    ) -> Result<Response, ConnectorError>;
}

/// Reads a provider's typed options; the error names what is wrong, for settings and for a
/// call made with options stored before a provider changed.
pub fn options<T: DeserializeOwned>(options: &Map<String, Value>) -> Result<T, String> {
    serde_json::from_value(Value::Object(options.clone())).map_err(|e| e.to_string())
}

/// [`options`] for a call: bad options fail the step permanently.
pub fn call_options<T: DeserializeOwned>(
    provider: &str,
    map: &Map<String, Value>,
) -> Result<T, ConnectorError> {
    options(map).map_err(|e| {
        ConnectorError::permanent(
            "provider_settings",
            format!("the {provider} settings are not valid: {e}"),
        )
    })
}

/// For a provider whose repeat of a call does nothing new (Stripe under the same idempotency
/// keys, a model that only costs tokens): no answer after sending is worth another attempt,
/// not uncertain.
pub fn repeat_is_harmless(e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::Uncertain { message } => ConnectorError::Retryable {
            message,
            retry_after: None,
        },
        other => other,
    }
}

/// A request this provider does not take (the registry checks capabilities first).
pub fn unsupported(provider: &str, request: &Request) -> ConnectorError {
    ConnectorError::permanent(
        "capability_unsupported",
        format!(
            "{provider} cannot {} {}",
            request.capability().as_str(),
            request.action()
        ),
    )
}

/// A vault with nothing in it, for a process without the secret key: a provider needing a
/// credential fails its step with a clear message; the sandbox and `http` steps work.
#[derive(Debug, Clone, Copy)]
pub struct NoCredentials;

#[async_trait]
impl Vault for NoCredentials {
    async fn open(
        &self,
        _: &str,
        name: &str,
    ) -> Result<stepwise_core::Secret, stepwise_core::VaultError> {
        Err(stepwise_core::VaultError::Unavailable {
            name: name.into(),
            reason: "this process has no secret key (STEPWISE_SECRET_KEY)".into(),
        })
    }
}
