//! The one outbound HTTP client every provider uses: TLS by rustls, timeouts, a cap on the
//! response size, and one classification of failures for the runtime. Provider APIs the
//! operator configured go through [`Outbound::trusted`]; URLs a tenant controls go through
//! [`Outbound::guarded`], which the SSRF [`Guard`] holds to public addresses.

pub mod guard;

use std::sync::{Arc, Once};
use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use stepwise_core::ConnectorError;

pub use guard::Guard;
use guard::GuardedResolver;

/// The most of a response body read; the rest is refused (a provider's answer is small).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The longest `Retry-After` honoured: a provider asking for more is retried after this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// HTTP clients for providers and for tenant URLs.
#[derive(Debug, Clone)]
pub struct Outbound {
    trusted: reqwest::Client,
    guarded: reqwest::Client,
    guard: Arc<Guard>,
    /// How long a provider API call may take, connection included.
    pub request_timeout: Duration,
}

/// A response read within the size cap.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    /// The answer's headers, for what a provider says in them (Stripe's `Stripe-Should-Retry`).
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, or as a JSON string when it is not JSON.
    pub fn json_or_text(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| serde_json::Value::String(self.text()))
    }
}

/// Makes ring the process's TLS provider, which every reqwest client needs (reqwest is built
/// without one: aws-lc-rs would cost minutes of C on 2 cores). Calling it again does nothing.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    // Another part of the process may have installed one already; either is fine.
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Outbound {
    /// Clients for this process; `guard` decides which addresses tenant URLs may reach.
    pub fn new(guard: Guard) -> Self {
        install_crypto_provider();
        let guard = Arc::new(guard);
        let base = || {
            reqwest::Client::builder()
                .user_agent(concat!("stepwise/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(30))
                .no_proxy()
        };
        // Building fails only without a TLS provider, which was installed above.
        let trusted = base().build().unwrap_or_default();
        let guarded = base()
            // A redirect could lead to an address the guard refuses without asking it.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(GuardedResolver {
                guard: guard.clone(),
            })
            .build()
            .unwrap_or_default();
        Self {
            trusted,
            guarded,
            guard,
            request_timeout: Duration::from_secs(15),
        }
    }

    /// The same clients with another [`Outbound::request_timeout`] (tests use a short one).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Which addresses tenant-controlled destinations may have.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// For provider APIs at URLs the operator configured.
    pub fn trusted(&self) -> &reqwest::Client {
        &self.trusted
    }

    /// For a URL a tenant controls: refused unless it is http(s) to a permitted address.
    pub fn guarded(&self, url: &str) -> Result<(&reqwest::Client, url::Url), ConnectorError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| ConnectorError::permanent("bad_url", format!("\"{url}\": {e}")))?;
        self.guard
            .check_url(&parsed)
            .map_err(|why| ConnectorError::permanent("address_refused", format!("{url}: {why}")))?;
        Ok((&self.guarded, parsed))
    }

    /// Sends a request and reads its answer within [`MAX_RESPONSE_BYTES`]. `what` names the
    /// provider in errors. A failure before the request left is retryable; after it may have
    /// arrived, uncertain (a send is never blindly repeated). Statuses are not judged here.
    pub async fn send(&self, request: RequestBuilder, what: &str) -> Result<Reply, ConnectorError> {
        let mut response = request.send().await.map_err(|e| send_error(what, &e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ConnectorError::Uncertain {
                message: format!("{what}: the answer was cut off: {}", without_url(&e)),
            })?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ConnectorError::Uncertain {
                    message: format!("{what}: the answer is over {MAX_RESPONSE_BYTES} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            retry_after,
            headers,
            body,
        })
    }
}

/// The error's causes, without reqwest's own line, which holds the URL: a URL may carry a
/// credential (a Slack webhook's path).
fn without_url(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        parts.push(c.to_string());
        cause = c.source();
    }
    if parts.is_empty() {
        if e.is_timeout() {
            "timed out".into()
        } else {
            "the request failed".into()
        }
    } else {
        parts.join(": ")
    }
}

fn send_error(what: &str, e: &reqwest::Error) -> ConnectorError {
    let detail = without_url(e);
    if e.is_builder() {
        ConnectorError::permanent("bad_request", format!("{what}: {detail}"))
    } else if e.is_connect() {
        ConnectorError::Retryable {
            message: format!("{what}: cannot connect: {detail}"),
            retry_after: None,
        }
    } else {
        ConnectorError::Uncertain {
            message: format!("{what}: no answer after the request was sent: {detail}"),
        }
    }
}

/// What a status means for the runtime: 2xx is fine; 408, 429 and 5xx are worth another
/// attempt (after `Retry-After`); any other is permanent, with the provider's `code` when it
/// gave one, else the status.
pub fn classify(
    reply: &Reply,
    what: &str,
    code: Option<String>,
    message: &str,
) -> Result<(), ConnectorError> {
    let status = reply.status;
    if status.is_success() {
        return Ok(());
    }
    let message = format!(
        "{what} answered {status}: {}",
        message.chars().take(300).collect::<String>()
    );
    if status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
    {
        Err(ConnectorError::Retryable {
            message,
            retry_after: reply.retry_after,
        })
    } else {
        Err(ConnectorError::Permanent {
            code: code.unwrap_or_else(|| status.as_u16().to_string()),
            message,
        })
    }
}
