//! The seam between the engine and outside systems.
//!
//! Contract: the runtime calls [`Connector::call`] outside any transaction, with a request
//! already checked for consent and quiet hours, and an idempotency key (`run:step:attempt`)
//! that a provider able to de-duplicate must honour. A connector makes one attempt and
//! classifies its failure; it never retries by itself: retries and `on_error` belong to the
//! runtime.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{ConnectorError, Request, Response};

/// A tenant's choice of provider for one capability, from its settings, e.g.
/// `providers: {sms: {provider: twilio, account_sid: AC…, from: "+15125550100"}}`.
/// The options are the provider's own (each provider checks them); credentials are never here,
/// only their names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderSetting {
    /// `sandbox`, `twilio`, `smtp`, `slack`, …
    pub provider: String,
    #[serde(flatten)]
    pub options: Map<String, Value>,
}

impl ProviderSetting {
    pub fn sandbox() -> Self {
        Self {
            provider: "sandbox".into(),
            options: Map::new(),
        }
    }
}

/// Facts about the call that are not part of the request.
#[derive(Debug, Clone)]
pub struct CallCx {
    pub tenant_id: String,
    pub run_id: String,
    pub step_id: String,
    /// `run:step:attempt`.
    pub idempotency_key: String,
    /// The provider the tenant chose for this capability; `None`: the sandbox.
    pub provider: Option<ProviderSetting>,
    /// The tenant's sender for this channel (`senders.sms`), when the step names none.
    pub default_sender: Option<String>,
    /// The tenant's webhook token: a provider that reports delivery status is told to call
    /// `{public_url}/hooks/{hook_token}/{source}`.
    pub hook_token: Option<String>,
}

impl CallCx {
    /// A context for tests and tools: no provider chosen, no sender, no callback.
    pub fn bare(tenant_id: &str, run_id: &str, step_id: &str) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            run_id: run_id.into(),
            step_id: step_id.into(),
            idempotency_key: format!("{run_id}:{step_id}:1"),
            provider: None,
            default_sender: None,
            hook_token: None,
        }
    }
}

/// An outside system, or the sandbox standing in for all of them.
#[async_trait]
pub trait Connector: Send + Sync + std::fmt::Debug {
    async fn call(&self, request: &Request, cx: &CallCx) -> Result<Response, ConnectorError>;
}
