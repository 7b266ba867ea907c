//! `http`: a request to any HTTP endpoint (webhooks, APIs without a connector).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::model::FlowDuration;
use crate::ports::Request;
use crate::steps::{ActionDraft, CheckCx, StepCx, StepError, StepKind, StepOutcome};
use crate::template::limits;
pub use stepwise_core::HttpMethod as Method;
use stepwise_core::{HttpAuth, HttpAuthScheme, HttpCall};

/// Call an HTTP endpoint. It receives an `Idempotency-Key` header, so retries are safe for
/// servers that honour it. The response (`status`, `body`) becomes `steps.<id>`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "HttpConfig")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// GET, POST (default), PUT, PATCH or DELETE.
    #[serde(default)]
    pub method: Method,
    /// The URL (template); http or https.
    #[schemars(length(min = 1))]
    pub url: String,
    /// Request headers (values are templates).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON body; every string inside is a template.
    #[serde(default)]
    #[schemars(with = "Value")]
    pub body: Option<Value>,
    /// Give up after this long (default 10s).
    #[serde(default)]
    #[schemars(with = "FlowDuration")]
    pub timeout: Option<FlowDuration>,
    /// Authenticate with a credential stored in settings (`PUT /v1/settings/credentials/{name}`):
    /// its value never appears in the flow, the timeline or the logs.
    #[serde(default)]
    pub auth: Option<Auth>,
}

/// How a stored credential authenticates the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "HttpAuthKind")]
pub enum AuthKind {
    /// `Authorization: Bearer <credential>` (default).
    #[default]
    Bearer,
    /// `Authorization: Basic …` of a credential written `user:password`.
    Basic,
    /// The credential as the value of the header named in `header`.
    Header,
}

/// A stored credential to authenticate with.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "HttpAuth")]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// The credential's name, e.g. `crm_token`.
    #[schemars(regex(pattern = r"^[a-z0-9_]{1,64}$"))]
    pub credential: String,
    /// bearer (default), basic or header.
    #[serde(default)]
    pub scheme: AuthKind,
    /// The header that carries the credential, with `scheme: header` (e.g. `X-Api-Key`).
    #[serde(default)]
    #[schemars(with = "String")]
    pub header: Option<String>,
}

impl Auth {
    fn scheme(&self) -> Option<HttpAuthScheme> {
        Some(match self.scheme {
            AuthKind::Bearer => HttpAuthScheme::Bearer,
            AuthKind::Basic => HttpAuthScheme::Basic,
            AuthKind::Header => HttpAuthScheme::Header(self.header.clone()?),
        })
    }
}

pub struct Http;

impl StepKind for Http {
    const KEY: &'static str = "http";
    const SUMMARY: &'static str = "Call an HTTP endpoint.";
    const OUTPUTS: &'static [&'static str] = &["status", "body", "sandbox"];
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        cx.template("url", &config.url);
        let literal = !config.url.contains("{{");
        if literal && !(config.url.starts_with("http://") || config.url.starts_with("https://")) {
            cx.error("url", format!("\"{}\" is not an http(s) URL", config.url));
        }
        for (name, value) in &config.headers {
            cx.template(
                &format!("headers/{}", crate::steps::context::escape(name)),
                value,
            );
        }
        if let Some(body) = &config.body {
            cx.template_tree("body", body);
        }
        if let Some(auth) = &config.auth {
            let named = !auth.credential.is_empty()
                && auth.credential.len() <= 64
                && auth
                    .credential
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !named {
                cx.error(
                    "auth/credential",
                    "a credential name is 1–64 lowercase letters, digits and underscores",
                );
            }
            match (auth.scheme, &auth.header) {
                (AuthKind::Header, None) => {
                    cx.error("auth/header", "scheme: header needs the header's name")
                }
                (AuthKind::Header, Some(h))
                    if !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        || h.is_empty() =>
                {
                    cx.error("auth/header", format!("\"{h}\" is not a header name"))
                }
                (AuthKind::Bearer | AuthKind::Basic, Some(_)) => {
                    cx.error("auth/header", "header is only for scheme: header")
                }
                _ => {}
            }
        }
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let url = cx.render("url")?;
        let mut headers = BTreeMap::new();
        for name in config.headers.keys() {
            let value = cx.render(&format!("headers/{}", crate::steps::context::escape(name)))?;
            headers.insert(name.clone(), value);
        }
        let body = config
            .body
            .as_ref()
            .map(|b| cx.render_tree("body", b))
            .transpose()?;
        // Each string of the body has its own limit; the whole body has one too.
        let size = body.as_ref().map_or(0, |b| b.to_string().chars().count());
        if size > limits::REQUEST_BODY.chars {
            return Err(StepError {
                field: "body".into(),
                message: format!(
                    "the rendered body is {size} characters; {} may be at most {}",
                    limits::REQUEST_BODY.what,
                    limits::REQUEST_BODY.chars
                ),
            });
        }
        let timeout = config.timeout.map_or(10, |t| t.approx_seconds());
        Ok(StepOutcome::Call(Box::new(ActionDraft {
            request: Request::Http(HttpCall {
                method: config.method,
                url,
                headers,
                body,
                timeout_seconds: timeout.unsigned_abs(),
                auth: config.auth.as_ref().and_then(|a| {
                    Some(HttpAuth {
                        credential: a.credential.clone(),
                        scheme: a.scheme()?,
                    })
                }),
            }),
            message: None,
            idempotent: true,
            sender_pool: None,
        })))
    }
}
