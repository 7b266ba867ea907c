//! Which connector handles which action family. One line per connector.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use stepwise_engine::ports::{ActionRequest, ActionResult, CallCx, Connector, ConnectorError};

use crate::sandbox::Sandbox;

/// Routes each request to the connector registered for its family, else the sandbox.
#[derive(Debug, Clone)]
pub struct Connectors {
    routes: HashMap<&'static str, Arc<dyn Connector>>,
    fallback: Arc<Sandbox>,
}

impl Connectors {
    /// Every family on the sandbox.
    pub fn sandbox() -> Self {
        Self {
            routes: HashMap::new(),
            fallback: Arc::new(Sandbox::new()),
        }
    }

    /// The server's default: `http` steps call the URL their flow names; messages, CRM,
    /// calendar and LLM actions stay in the sandbox until a tenant configures a provider.
    /// One line per connector.
    pub fn default_live() -> Self {
        Self::sandbox().with("http", Arc::new(crate::http::Http::new()))
    }

    /// Sends `family` (`sms`, `email`, ...) to `connector`.
    pub fn with(mut self, family: &'static str, connector: Arc<dyn Connector>) -> Self {
        self.routes.insert(family, connector);
        self
    }

    /// The sandbox, to read what it recorded.
    pub fn sandbox_log(&self) -> &Sandbox {
        &self.fallback
    }
}

#[async_trait]
impl Connector for Connectors {
    async fn call(
        &self,
        request: &ActionRequest,
        cx: &CallCx,
    ) -> Result<ActionResult, ConnectorError> {
        match self.routes.get(request.connector) {
            Some(connector) => connector.call(request, cx).await,
            None => self.fallback.call(request, cx).await,
        }
    }
}
