//! The `http` step's connector: a real request to the URL the flow names, with the step's
//! idempotency key in an `Idempotency-Key` header, classified for the runtime's one retry
//! mechanism (timeouts, 429 and 5xx retry; other 4xx are permanent).

use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use serde_json::{Value, json};
use stepwise_engine::ports::{ActionRequest, ActionResult, CallCx, Connector, ConnectorError};

/// Calls HTTP endpoints.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("stepwise/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self { client }
    }
}

/// What a response status means for the runtime.
pub fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> Result<(), ConnectorError> {
    let message = format!(
        "HTTP {status}: {}",
        body.chars().take(200).collect::<String>()
    );
    if status.is_success() {
        Ok(())
    } else if status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
    {
        Err(ConnectorError::Retryable {
            message,
            retry_after,
        })
    } else {
        Err(ConnectorError::Permanent {
            code: status.as_u16().to_string(),
            message,
        })
    }
}

#[async_trait]
impl Connector for Http {
    async fn call(
        &self,
        request: &ActionRequest,
        _: &CallCx,
    ) -> Result<ActionResult, ConnectorError> {
        let p = &request.payload;
        let url = p["url"].as_str().unwrap_or_default();
        let method = reqwest::Method::from_bytes(p["method"].as_str().unwrap_or("POST").as_bytes())
            .map_err(|e| ConnectorError::Permanent {
                code: "method".into(),
                message: e.to_string(),
            })?;
        let timeout = Duration::from_secs(p["timeout_seconds"].as_u64().unwrap_or(10));
        let mut builder = self
            .client
            .request(method, url)
            .timeout(timeout)
            .header("Idempotency-Key", &request.idempotency_key);
        if let Some(headers) = p["headers"].as_object() {
            for (name, value) in headers {
                builder = builder.header(name, value.as_str().unwrap_or_default());
            }
        }
        if !p["body"].is_null() {
            builder = builder.json(&p["body"]);
        }
        let response = builder.send().await.map_err(|e| {
            let message = format!("{url}: {e}");
            // A request that may have reached the server is retried: the key makes it safe.
            ConnectorError::Retryable {
                message,
                retry_after: None,
            }
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs);
        let text = response.text().await.unwrap_or_default();
        classify(status, retry_after, &text)?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(ActionResult {
            output: json!({ "status": status.as_u16(), "body": body }),
            provider_id: None,
        })
    }
}

#[cfg(test)]
mod tests;
