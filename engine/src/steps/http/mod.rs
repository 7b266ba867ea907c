//! `http`: a request to any HTTP endpoint (webhooks, APIs without a connector).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::FlowDuration;
use crate::steps::{ActionDraft, CheckCx, StepCx, StepError, StepKind, StepOutcome};
use crate::template::limits;

/// HTTP method.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    #[default]
    Post,
    Put,
    Patch,
    Delete,
}

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
}

pub struct Http;

impl StepKind for Http {
    const KEY: &'static str = "http";
    const SUMMARY: &'static str = "Call an HTTP endpoint.";
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
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let url = cx.render("url")?;
        let mut headers = serde_json::Map::new();
        for name in config.headers.keys() {
            let value = cx.render(&format!("headers/{}", crate::steps::context::escape(name)))?;
            headers.insert(name.clone(), Value::String(value));
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
        Ok(StepOutcome::Call(ActionDraft {
            connector: "http",
            action: "request".into(),
            payload: json!({ "method": config.method, "url": url, "headers": headers, "body": body, "timeout_seconds": timeout }),
            message: None,
            idempotent: true,
        }))
    }
}
