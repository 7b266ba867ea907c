//! OpenAI for the `llm` capability: one Chat Completions call (`POST /v1/chat/completions`)
//! per `llm` step, with the step's system text and prompt as the system and user messages,
//! the tier's model from the tenant's settings, `max_completion_tokens`, and, when the step
//! asks for JSON, `response_format: json_schema` with the step's schema (not `strict`: a
//! tenant's schema need not be in the strict subset; the engine checks the answer against the
//! schema itself). `store: false` keeps customers' texts out of OpenAI's stored completions,
//! and `safety_identifier` is a hash of the tenant, so that OpenAI's abuse checks point at one
//! business rather than at the operator's whole key.
//!
//! The answer's `usage.total_tokens` is what the tenant's plan meters (`ai_tokens`). An answer
//! that does not parse as the JSON asked for comes back with `json: null` and its tokens, and
//! the engine fails the step on it; so does a refusal or a content filter (`withheld`), its
//! tokens metered too.
//!
//! A model call changes nothing outside, so no answer after sending is retryable (a repeat
//! costs tokens, never a second message). OpenAI's 429 means two things: a rate limit (retried
//! after `Retry-After`) or `insufficient_quota`, the account's credit used up, which no retry
//! mends (permanent, for the owner to look at in OpenAI's billing page).
//!
//! Tenant settings: `providers.llm: {provider: openai, cheap_model: …, strong_model: …}` and
//! the credential `openai_api_key`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use stepwise_core::{
    CallCx, Capability, ConnectorError, LlmAnswer, LlmCall, LlmTier, Request, Response,
    estimated_tokens,
};

use crate::outbound::{self, Reply};
use crate::provider::{Env, Provider, call_options, options, repeat_is_harmless, unsupported};

/// OpenAI's API, unless the operator overrides `openai`'s base URL (Azure-style gateways and
/// compatible servers take the same request).
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com";

/// The longest a model call may take whatever the step asks: a worker's slot is not held
/// longer by one tenant's call, and the call ends inside the runtime's default call lease
/// (120 s), so a slow answer is never mistaken for a crashed worker.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(90);

/// A model name as OpenAI spells them (`gpt-4o-mini`, `ft:gpt-4o:acme::abc123`).
const MAX_MODEL_NAME: usize = 100;

/// A tenant's OpenAI settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The credential holding the API key.
    #[serde(default = "default_api_key_credential")]
    pub api_key_credential: String,
    /// The model of the `cheap` tier (classification, extraction).
    #[serde(default = "default_cheap_model")]
    pub cheap_model: String,
    /// The model of the `strong` tier (replies a customer reads).
    #[serde(default = "default_strong_model")]
    pub strong_model: String,
}

fn default_api_key_credential() -> String {
    "openai_api_key".into()
}

fn default_cheap_model() -> String {
    "gpt-4o-mini".into()
}

fn default_strong_model() -> String {
    "gpt-4o".into()
}

impl Options {
    fn model(&self, tier: LlmTier) -> &str {
        match tier {
            LlmTier::Cheap => &self.cheap_model,
            LlmTier::Strong => &self.strong_model,
        }
    }

    fn check(&self) -> Result<(), String> {
        for (name, model) in [
            ("cheap_model", &self.cheap_model),
            ("strong_model", &self.strong_model),
        ] {
            let usable = !model.is_empty()
                && model.len() <= MAX_MODEL_NAME
                && model
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b));
            if !usable {
                return Err(format!(
                    "{name} {model:?} is not a model name (letters, digits, - _ . : /, at most \
                     {MAX_MODEL_NAME} characters)"
                ));
            }
        }
        Ok(())
    }
}

/// OpenAI's error body: `{"error": {"message": "…", "type": "…", "code": "…"}}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: OpenAiError,
}

#[derive(Debug, Default, Deserialize)]
struct OpenAiError {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// The part of a chat completion we read.
#[derive(Debug, Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: Message,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Usage {
    total_tokens: u64,
}

/// OpenAI's Chat Completions.
#[derive(Debug, Clone)]
pub struct OpenAi {
    env: Arc<Env>,
}

impl OpenAi {
    pub fn new(env: Arc<Env>) -> Self {
        Self { env }
    }

    async fn complete(
        &self,
        call: &LlmCall,
        options: &Options,
        cx: &CallCx,
    ) -> Result<Response, ConnectorError> {
        let key = self
            .env
            .vault
            .open(&cx.tenant_id, &options.api_key_credential)
            .await?;
        let base = self.env.base_url("openai", DEFAULT_BASE_URL);
        let timeout =
            Duration::from_secs(call.timeout_seconds).clamp(Duration::from_secs(1), MAX_TIMEOUT);
        let request = self
            .env
            .outbound
            .trusted()
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(key.expose())
            .json(&body(call, options, &cx.tenant_id))
            .timeout(timeout);
        let reply = self.env.outbound.send(request, "OpenAI").await?;
        judge(&reply)?;
        answer(call, &reply)
    }
}

/// The request OpenAI is sent for `call`.
pub fn body(call: &LlmCall, options: &Options, tenant_id: &str) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = call.system.as_deref().filter(|s| !s.trim().is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": call.prompt}));
    let mut body = json!({
        "model": options.model(call.tier),
        "messages": messages,
        "store": false,
        "safety_identifier": safety_identifier(tenant_id),
    });
    if let Some(max) = call.max_tokens {
        body["max_completion_tokens"] = json!(max);
    }
    if let Some(schema) = call.output_schema.as_ref().filter(|s| !s.is_null()) {
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": false},
        });
    }
    body
}

/// `stepwise-` and 32 hex digits of the tenant's id hashed: stable per business, and no
/// business's name or id leaves the machine.
fn safety_identifier(tenant_id: &str) -> String {
    let digest = hex::encode(Sha256::digest(tenant_id.as_bytes()));
    format!("stepwise-{}", &digest[..32])
}

/// The model's answer, or why there is none.
fn answer(call: &LlmCall, reply: &Reply) -> Result<Response, ConnectorError> {
    let completion: Completion = serde_json::from_slice(&reply.body).map_err(|e| {
        ConnectorError::permanent("bad_answer", format!("OpenAI's answer cannot be read: {e}"))
    })?;
    let Some(choice) = completion.choices.into_iter().next() else {
        return Err(ConnectorError::permanent(
            "bad_answer",
            "OpenAI answered no choices",
        ));
    };
    let text = choice.message.content.unwrap_or_default();
    let tokens = completion.usage.map_or_else(
        || estimated_tokens(&call.prompt) + estimated_tokens(&text),
        |u| u.total_tokens,
    );
    // A refusal or a filtered answer still cost tokens: it is an answer that withholds, so
    // the engine meters it before failing the step.
    let withheld = if let Some(refusal) = choice.message.refusal.filter(|r| !r.is_empty()) {
        Some(format!(
            "the model refused: {} (code model_refused)",
            refusal.chars().take(300).collect::<String>()
        ))
    } else if choice.finish_reason.as_deref() == Some("content_filter") {
        Some("OpenAI's content filter withheld the answer (code content_filter)".to_owned())
    } else {
        None
    };
    if withheld.is_some() {
        return Ok(Response::Llm(LlmAnswer {
            text: String::new(),
            json: Value::Null,
            tokens,
            withheld,
            sandbox: false,
        }));
    }
    // Not JSON (or cut off by max_tokens mid-object): `null`, which the engine's check of the
    // answer against the step's schema refuses, after metering the tokens it cost.
    let json = match call.output_schema.as_ref().filter(|s| !s.is_null()) {
        Some(_) => serde_json::from_str(&text).unwrap_or(Value::Null),
        None => Value::Null,
    };
    Ok(Response::Llm(LlmAnswer {
        text,
        json,
        tokens,
        withheld: None,
        sandbox: false,
    }))
}

/// A used-up account is permanent though OpenAI answers it with 429; the rest by status.
fn judge(reply: &Reply) -> Result<(), ConnectorError> {
    if reply.status.is_success() {
        return Ok(());
    }
    let error = serde_json::from_slice::<ErrorBody>(&reply.body)
        .unwrap_or_default()
        .error;
    let code = error.code.or(error.kind);
    let message = error.message.unwrap_or_else(|| reply.text());
    if code.as_deref() == Some("insufficient_quota") {
        return Err(ConnectorError::permanent(
            "insufficient_quota",
            format!(
                "OpenAI answered {}: the account's credit is used up ({})",
                reply.status,
                message.chars().take(200).collect::<String>()
            ),
        ));
    }
    outbound::classify(reply, "OpenAI", code, &message)
}

#[async_trait]
impl Provider for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn capabilities(&self) -> &'static [Capability] {
        &[Capability::Llm]
    }

    fn check(&self, _: Capability, map: &Map<String, Value>) -> Result<(), String> {
        options::<Options>(map)?.check()
    }

    async fn call(
        &self,
        request: &Request,
        map: &Map<String, Value>,
        cx: &CallCx,
    ) -> Result<Response, ConnectorError> {
        let options: Options = call_options("openai", map)?;
        let Request::Llm(call) = request else {
            return Err(unsupported("openai", request));
        };
        // A repeat costs tokens and changes nothing outside: no answer is worth another try.
        self.complete(call, &options, cx)
            .await
            .map_err(repeat_is_harmless)
    }
}

#[cfg(test)]
mod tests;
