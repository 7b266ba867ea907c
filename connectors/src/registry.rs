//! Every provider and webhook source, one line each, and the routing of a call to the provider
//! the tenant chose for its capability. Adding a provider is its folder plus one line here.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use stepwise_core::{
    CallCx, Capability, Connector, ConnectorError, ProviderSetting, Request, Response,
    WebhookSource,
};

use crate::provider::{Env, Provider};
use crate::sandbox::Sandbox;

/// The providers and sources of this process.
#[derive(Debug, Clone)]
pub struct Connectors {
    providers: BTreeMap<&'static str, Arc<dyn Provider>>,
    sources: BTreeMap<&'static str, Arc<dyn WebhookSource>>,
    /// The provider of a capability the tenant configured nothing for.
    defaults: BTreeMap<Capability, &'static str>,
    sandbox: Arc<Sandbox>,
    env: Arc<Env>,
}

impl Connectors {
    /// Every provider, with the server's defaults: `http` steps call the URL their flow names
    /// (through the SSRF guard); messages, CRM, calendar and LLM calls stay in the sandbox
    /// until a tenant configures a provider.
    pub fn new(env: Env) -> Self {
        let env = Arc::new(env);
        let sandbox = Arc::new(Sandbox::new());
        let providers: Vec<Arc<dyn Provider>> = vec![
            sandbox.clone(),
            Arc::new(crate::http::Http::new(env.clone())),
            Arc::new(crate::twilio::Twilio::new(env.clone())),
            Arc::new(crate::smtp::Smtp::new(env.clone())),
            Arc::new(crate::slack::Slack::new(env.clone())),
            Arc::new(crate::stripe::Stripe::new(env.clone())),
            Arc::new(crate::openai::OpenAi::new(env.clone())),
        ];
        let sources: Vec<Arc<dyn WebhookSource>> = vec![
            Arc::new(crate::twilio::TwilioHooks),
            Arc::new(crate::calcom::CalcomHooks),
            Arc::new(crate::form::FormHooks),
            Arc::new(crate::stripe::StripeHooks),
            Arc::new(crate::smtp::BounceHooks),
        ];
        Self {
            providers: providers.into_iter().map(|p| (p.name(), p)).collect(),
            sources: sources.into_iter().map(|s| (s.name(), s)).collect(),
            defaults: BTreeMap::from([(Capability::Http, "http")]),
            sandbox,
            env,
        }
    }

    /// The same providers with every default on the sandbox: nothing a tenant did not
    /// configure leaves the machine, not even an `http` step (benchmarks, tests).
    pub fn sandboxed(env: Env) -> Self {
        Self {
            defaults: BTreeMap::new(),
            ..Self::new(env)
        }
    }

    /// The sandbox, to read what it recorded.
    pub fn sandbox_log(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The provider names usable for a capability, for settings and their errors.
    pub fn providers_of(&self, capability: Capability) -> Vec<&'static str> {
        let offers = |p: &&Arc<dyn Provider>| p.capabilities().contains(&capability);
        self.providers
            .values()
            .filter(offers)
            .map(|p| p.name())
            .collect()
    }

    /// Checks a tenant's provider setting for a capability (`providers.sms` in settings).
    pub fn check_setting(&self, capability: &str, setting: &ProviderSetting) -> Result<(), String> {
        let Some(capability) = Capability::parse(capability) else {
            let known: Vec<&str> = Capability::ALL.iter().map(|c| c.as_str()).collect();
            return Err(format!(
                "{capability} is not a capability (one of {})",
                known.join(", ")
            ));
        };
        let usable = self.providers_of(capability);
        match self.providers.get(setting.provider.as_str()) {
            Some(p) if p.capabilities().contains(&capability) => {
                p.check(capability, &setting.options)
            }
            _ => Err(format!(
                "{} is not a provider of {} (one of {})",
                setting.provider,
                capability.as_str(),
                usable.join(", ")
            )),
        }
    }

    /// Where credentials are opened.
    pub fn vault(&self) -> &Arc<dyn stepwise_core::Vault> {
        &self.env.vault
    }

    /// `{public_url}/hooks/{token}/{source}` for every source, for settings to show.
    pub fn hook_urls(&self, hook_token: &str) -> BTreeMap<&'static str, Option<String>> {
        self.sources
            .keys()
            .map(|name| (*name, self.env.hook_url(Some(hook_token), name)))
            .collect()
    }

    /// Signs and opens unsubscribe links (`None` without the server's secret key).
    pub fn links(&self) -> Option<&crate::links::LinkSigner> {
        self.env.links.as_ref()
    }

    /// The server's public base URL, if the operator set one.
    pub fn public_url(&self) -> Option<&str> {
        self.env.public_url.as_deref()
    }

    /// Checks a tenant's options for a webhook source (`sources.form` in settings).
    pub fn check_source(
        &self,
        name: &str,
        options: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), String> {
        match self.sources.get(name) {
            Some(source) => source.check(options),
            None => Err(format!(
                "{name} is not a webhook source (one of {})",
                self.sources.keys().copied().collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// The webhook source of `/hooks/{token}/{name}`.
    pub fn source(&self, name: &str) -> Option<&Arc<dyn WebhookSource>> {
        self.sources.get(name)
    }

    fn provider_for(
        &self,
        capability: Capability,
        cx: &CallCx,
    ) -> Result<&Arc<dyn Provider>, ConnectorError> {
        let name = match &cx.provider {
            Some(setting) => setting.provider.as_str(),
            None => self.defaults.get(&capability).copied().unwrap_or("sandbox"),
        };
        match self.providers.get(name) {
            Some(p) if p.capabilities().contains(&capability) => Ok(p),
            _ => Err(ConnectorError::permanent(
                "provider_unknown",
                format!(
                    "{name} is not a provider of {}; change providers.{} in settings",
                    capability.as_str(),
                    capability.as_str()
                ),
            )),
        }
    }
}

#[async_trait]
impl Connector for Connectors {
    async fn call(&self, request: &Request, cx: &CallCx) -> Result<Response, ConnectorError> {
        let provider = self.provider_for(request.capability(), cx)?;
        let empty = serde_json::Map::new();
        let options = cx.provider.as_ref().map_or(&empty, |s| &s.options);
        provider.call(request, options, cx).await
    }
}
