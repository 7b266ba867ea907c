//! The `http` step's provider: a real request to the URL the flow names, held by the SSRF
//! guard, with the step's idempotency key in an `Idempotency-Key` header and, when the step
//! names one, a stored credential as its authentication. The default provider of `http`.

use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{Map, Value};
use stepwise_core::{
    CallCx, Capability, ConnectorError, HttpAuthScheme, HttpCall, HttpResponse, Request, Response,
};

use crate::outbound::{self, Outbound};
use crate::provider::{Env, Provider, unsupported};

/// Calls HTTP endpoints.
#[derive(Debug, Clone)]
pub struct Http {
    env: std::sync::Arc<Env>,
}

impl Http {
    pub fn new(env: std::sync::Arc<Env>) -> Self {
        Self { env }
    }

    fn outbound(&self) -> &Outbound {
        &self.env.outbound
    }

    async fn request(&self, call: &HttpCall, cx: &CallCx) -> Result<Response, ConnectorError> {
        let (client, url) = self.outbound().guarded(&call.url)?;
        let method = reqwest::Method::from_bytes(call.method.as_str().as_bytes())
            .map_err(|e| ConnectorError::permanent("method", e.to_string()))?;
        let mut builder = client
            .request(method, url.clone())
            .timeout(std::time::Duration::from_secs(
                call.timeout_seconds.clamp(1, 120),
            ))
            .header("Idempotency-Key", &cx.idempotency_key);
        for (name, value) in &call.headers {
            builder = builder.header(name, value);
        }
        if let Some(auth) = &call.auth {
            let secret = self.env.vault.open(&cx.tenant_id, &auth.credential).await?;
            builder = match &auth.scheme {
                HttpAuthScheme::Bearer => builder.bearer_auth(secret.expose()),
                HttpAuthScheme::Basic => {
                    let encoded = base64::engine::general_purpose::STANDARD.encode(secret.expose());
                    builder.header(reqwest::header::AUTHORIZATION, format!("Basic {encoded}"))
                }
                HttpAuthScheme::Header(name) => builder.header(name, secret.expose()),
            };
        }
        if let Some(body) = &call.body {
            builder = builder.json(body);
        }
        // The host names the endpoint in messages; the path and query may hold a token.
        let what = url.host_str().unwrap_or("the endpoint").to_owned();
        let reply = match self.outbound().send(builder, &what).await {
            // The Idempotency-Key makes a repeat safe for servers that honour it.
            Err(ConnectorError::Uncertain { message }) => {
                return Err(ConnectorError::Retryable {
                    message,
                    retry_after: None,
                });
            }
            other => other?,
        };
        outbound::classify(&reply, &what, None, &reply.text())?;
        Ok(Response::Http(HttpResponse {
            status: reply.status.as_u16(),
            body: reply.json_or_text(),
            sandbox: false,
        }))
    }
}

#[async_trait]
impl Provider for Http {
    fn name(&self) -> &'static str {
        "http"
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Http]
    }

    fn check(&self, _: Capability, options: &Map<String, Value>) -> Result<(), String> {
        match options.keys().next() {
            Some(key) => Err(format!("http takes no options (got {key})")),
            None => Ok(()),
        }
    }

    async fn call(
        &self,
        request: &Request,
        _: &Map<String, Value>,
        cx: &CallCx,
    ) -> Result<Response, ConnectorError> {
        match request {
            Request::Http(call) => self.request(call, cx).await,
            other => Err(unsupported("http", other)),
        }
    }
}

#[cfg(test)]
mod tests;
