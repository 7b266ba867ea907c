//! A fake OpenAI on 127.0.0.1 for end-to-end tests: it takes `POST /v1/chat/completions`,
//! validates each request against OpenAI's own OpenAPI document (the create-chat-completion
//! excerpt in `tests/fixtures/openai/`), and answers a chat completion with the scripted
//! content and token count (itself checked against the spec's response schema), or a scripted
//! error status.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

/// What the fake answers the next request with.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A completion whose message is `content`, having used `tokens` in all.
    Content { content: String, tokens: u64 },
    /// A completion whose message is a refusal, having used `tokens` in all.
    Refusal { refusal: String, tokens: u64 },
    /// An error status with OpenAI's error body of this `code`.
    Error { status: u16, code: &'static str },
}

#[derive(Debug, Default)]
struct State {
    requests: Vec<Value>,
    script: VecDeque<Answer>,
    violations: Vec<String>,
}

/// The fake's handle.
#[derive(Debug, Clone)]
pub struct FakeOpenAi {
    pub base: String,
    state: Arc<Mutex<State>>,
}

fn spec() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/openai/create-chat-completion.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("the OpenAI spec excerpt"))
        .expect("JSON")
}

/// The problems of `instance` against the schema at `pointer` in the excerpt.
fn violations(spec: &Value, pointer: &str, instance: &Value) -> Vec<String> {
    // The schema refers into the document's components: validate from a root that has them.
    let root = json!({
        "$ref": format!("#{pointer}"),
        "requestBody": spec["requestBody"],
        "responses": spec["responses"],
        "components": spec["components"],
    });
    let validator = jsonschema::options()
        .build(&root)
        .expect("the spec's schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// A completion of `content`, or of `refusal` with no content.
fn completion(content: Option<&str>, refusal: Option<&str>, tokens: u64) -> Value {
    json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_764_000_000,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null,
            "message": {"role": "assistant", "content": content, "refusal": refusal,
                "annotations": []}}],
        "usage": {"prompt_tokens": tokens.saturating_sub(20), "completion_tokens": tokens.min(20),
            "total_tokens": tokens},
    })
}

impl FakeOpenAi {
    /// Answers `key`'s requests; unscripted ones get a plain "Thanks!" of 50 tokens.
    pub async fn start(key: &str) -> FakeOpenAi {
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        let bearer = format!("Bearer {key}");
        let handler = move |headers: HeaderMap, body: Bytes| {
            let state = shared.clone();
            let bearer = bearer.clone();
            async move {
                let spec = spec();
                let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let mut state = state.lock().expect("fake state");
                let mut problems = violations(
                    &spec,
                    "/requestBody/content/application~1json/schema",
                    &request,
                );
                if headers.get("authorization").and_then(|v| v.to_str().ok())
                    != Some(bearer.as_str())
                {
                    problems.push("not the tenant's API key as a Bearer token".into());
                }
                state.violations.extend(problems);
                state.requests.push(request);
                let answer = state.script.pop_front().unwrap_or(Answer::Content {
                    content: "Thanks!".into(),
                    tokens: 50,
                });
                let body = match answer {
                    Answer::Content { content, tokens } => {
                        Ok(completion(Some(&content), None, tokens))
                    }
                    Answer::Refusal { refusal, tokens } => {
                        Ok(completion(None, Some(&refusal), tokens))
                    }
                    Answer::Error { status, code } => Err((status, code)),
                };
                let (status, body) = match body {
                    Ok(body) => {
                        let pointer = "/responses/200/content/application~1json/schema";
                        let wrong = violations(&spec, pointer, &body);
                        state
                            .violations
                            .extend(wrong.into_iter().map(|w| format!("our answer: {w}")));
                        (StatusCode::OK, body)
                    }
                    Err((status, code)) => (
                        StatusCode::from_u16(status).expect("a status"),
                        json!({"error": {"message": format!("scripted {code}"),
                            "type": "invalid_request_error", "param": null, "code": code}}),
                    ),
                };
                (
                    status,
                    [("content-type", "application/json")],
                    body.to_string(),
                )
            }
        };
        let app = axum::Router::new().route("/v1/chat/completions", post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the fake serves") });
        FakeOpenAi {
            base: format!("http://{addr}"),
            state,
        }
    }

    /// Answers the next requests with these, in order.
    pub fn then(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state
            .lock()
            .expect("fake state")
            .script
            .extend(answers);
    }

    /// Every request body received, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.state.lock().expect("fake state").requests.clone()
    }

    /// Where a request (or one of our own answers) broke OpenAI's spec.
    pub fn violations(&self) -> Vec<String> {
        self.state.lock().expect("fake state").violations.clone()
    }
}
