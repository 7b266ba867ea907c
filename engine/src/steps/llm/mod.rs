//! `llm`: ask a language model, optionally for JSON that matches a schema.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::model::FlowDuration;
use crate::ports::Request;
use crate::steps::{ActionDraft, CheckCx, StepCx, StepError, StepKind, StepOutcome};
use crate::template::limits;
use stepwise_core::LlmCall;
pub use stepwise_core::LlmTier as Tier;

/// Ask a language model. The answer (`text`, and `json` with `output_schema`) becomes `steps.<id>`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "LlmConfig")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The prompt (template).
    #[schemars(length(min = 1))]
    pub prompt: String,
    /// System instructions (template).
    #[serde(default)]
    #[schemars(with = "String")]
    pub system: Option<String>,
    /// cheap (default) or strong.
    #[serde(default)]
    pub tier: Tier,
    /// A JSON Schema the answer must match; the answer is then parsed as JSON.
    #[serde(default)]
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub output_schema: Option<Value>,
    /// Upper bound on the answer's length in tokens.
    #[serde(default)]
    #[schemars(with = "u32", range(min = 1, max = 32000))]
    pub max_tokens: Option<u32>,
    /// Give up after this long (default 30s).
    #[serde(default)]
    #[schemars(with = "FlowDuration")]
    pub timeout: Option<FlowDuration>,
}

pub struct Llm;

impl StepKind for Llm {
    const KEY: &'static str = "llm";
    const SUMMARY: &'static str = "Ask a language model.";
    const OUTPUTS: &'static [&'static str] = &["text", "json", "tokens", "sandbox"];
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        cx.template_limited("prompt", &config.prompt, limits::REQUEST_BODY);
        if let Some(system) = &config.system {
            cx.template("system", system);
        }
        // Compiled as the answer's check will compile it: a schema valid on paper but not
        // usable there (a look-around `pattern`) is refused now, not at the first answer.
        if let Some(schema) = &config.output_schema
            && let Err(e) = crate::definition::config::validator(schema)
        {
            cx.error("output_schema", e);
        }
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let prompt = cx.render("prompt")?;
        let system = config
            .system
            .as_ref()
            .map(|_| cx.render("system"))
            .transpose()?;
        Ok(StepOutcome::Call(Box::new(ActionDraft {
            request: Request::Llm(LlmCall {
                prompt,
                system,
                tier: config.tier,
                output_schema: config.output_schema.clone(),
                max_tokens: config.max_tokens,
                timeout_seconds: config
                    .timeout
                    .map_or(30, |t| t.approx_seconds().unsigned_abs()),
            }),
            message: None,
            idempotent: true,
            sender_pool: None,
        })))
    }
}
