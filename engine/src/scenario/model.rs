//! A scenario's language model: `model:` lists what the model answers each `llm` call, in
//! order (`{json: …}`, `{text: …}`, or `{error: …}` for a failed call); calls past the list,
//! and every other call, go to the simulator's sandbox. The answers are given as a real
//! provider's, so the engine holds them to the step's `output_schema` as it would OpenAI's.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use crate::ports::{CallCx, Connector, ConnectorError, Request, Response};
use stepwise_core::{LlmAnswer, estimated_tokens};

/// At most this many scripted answers: a scenario is a test, not a corpus.
pub const MAX_ANSWERS: usize = 100;

/// One scripted answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelAnswer {
    /// The answer as JSON (its text is the JSON written out).
    #[serde(default)]
    pub json: Option<Value>,
    /// The answer as text.
    #[serde(default)]
    pub text: Option<String>,
    /// The call fails permanently with this message (a refusal, a used-up account).
    #[serde(default)]
    pub error: Option<String>,
}

impl ModelAnswer {
    /// Exactly one of `json`, `text` and `error`.
    pub fn check(&self) -> Result<(), String> {
        let given = [
            self.json.is_some(),
            self.text.is_some(),
            self.error.is_some(),
        ];
        if given.iter().filter(|g| **g).count() == 1 {
            Ok(())
        } else {
            Err("each model answer is one of {json: …}, {text: …} or {error: …}".into())
        }
    }

    fn response(&self, prompt: &str) -> Result<Response, ConnectorError> {
        if let Some(message) = &self.error {
            return Err(ConnectorError::permanent("scripted", message.clone()));
        }
        let text = match (&self.text, &self.json) {
            (Some(text), _) => text.clone(),
            (None, Some(json)) => json.to_string(),
            (None, None) => String::new(),
        };
        Ok(Response::Llm(LlmAnswer {
            tokens: estimated_tokens(prompt) + estimated_tokens(&text),
            json: self.json.clone().unwrap_or(Value::Null),
            text,
            withheld: None,
            sandbox: false,
        }))
    }
}

/// The simulator's connector with the scenario's model answers in front of it.
#[derive(Debug)]
pub struct ScriptedModel {
    inner: Arc<dyn Connector>,
    answers: Mutex<VecDeque<ModelAnswer>>,
}

impl ScriptedModel {
    pub fn new(inner: Arc<dyn Connector>, answers: &[ModelAnswer]) -> Self {
        Self {
            inner,
            answers: Mutex::new(answers.iter().cloned().collect()),
        }
    }
}

#[async_trait]
impl Connector for ScriptedModel {
    async fn call(&self, request: &Request, cx: &CallCx) -> Result<Response, ConnectorError> {
        if let Request::Llm(call) = request {
            let next = self
                .answers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front();
            if let Some(answer) = next {
                return answer.response(&call.prompt);
            }
        }
        self.inner.call(request, cx).await
    }
}
