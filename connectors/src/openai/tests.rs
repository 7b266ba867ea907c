//! OpenAI against a fake on 127.0.0.1: the connector contract, the request a step makes, and
//! what each kind of answer becomes (the request against OpenAI's own spec: the e2e fake).

use std::sync::Arc;

use serde_json::{Map, Value, json};
use stepwise_core::{CallCx, ConnectorError, LlmCall, LlmTier, ProviderSetting, Request, Response};

use super::OpenAi;
use crate::provider::Provider;
use crate::testing::{Answer, Case, Fake, MapVault, conformance, env};

const KEY: &str = "sk-proj-stepwiseTestKey0123456789";

fn ask(schema: Option<Value>) -> Request {
    Request::Llm(LlmCall {
        prompt: "A customer texted: \"are you open saturday?\"".into(),
        system: Some("You answer customers' texts.".into()),
        tier: LlmTier::Strong,
        output_schema: schema,
        max_tokens: Some(200),
        // The step's own limit is the request's: one second keeps the "no answer" case short.
        timeout_seconds: 1,
    })
}

fn completion(content: &str, tokens: u64) -> Answer {
    Answer::json(
        200,
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_764_000_000,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null,
                "message": {"role": "assistant", "content": content, "refusal": null}}],
            "usage": {"prompt_tokens": tokens - 10, "completion_tokens": 10, "total_tokens": tokens},
        }),
    )
}

fn setting(options: Value) -> Map<String, Value> {
    options.as_object().cloned().unwrap_or_default()
}

async fn call(fake: &Fake, request: &Request, options: Value) -> Result<Response, ConnectorError> {
    let openai = OpenAi::new(env(
        "openai",
        &fake.base,
        MapVault::with("t1", &[("openai_api_key", KEY)]),
    ));
    openai
        .call(
            request,
            &setting(options),
            &CallCx::bare("t1", "run1", "draft"),
        )
        .await
}

#[tokio::test]
async fn openai_meets_the_connector_contract() {
    conformance(Case {
        name: "openai",
        make: |env| Arc::new(OpenAi::new(env)),
        request: |_| ask(None),
        setting: ProviderSetting {
            provider: "openai".into(),
            options: Map::new(),
        },
        credentials: vec![("openai_api_key", KEY)],
        success: completion("We are open 9 to 1 on Saturdays.", 52),
        client_error: (
            Answer::json(
                401,
                json!({"error": {"message": "Incorrect API key provided.", "type":
                    "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
            ),
            "invalid_api_key",
        ),
        deduplicates: true,
    })
    .await;
}

#[tokio::test]
async fn a_step_becomes_one_chat_completion_with_the_tiers_model() {
    let fake = Fake::start(completion("{\"reply\": \"Yes, 9 to 1.\"}", 61)).await;
    let schema = json!({"type": "object", "properties": {"reply": {"type": "string"}}});
    let answer = call(
        &fake,
        &ask(Some(schema.clone())),
        json!({"strong_model": "gpt-4.1"}),
    )
    .await
    .expect("an answer");

    let Response::Llm(answer) = answer else {
        panic!("an LLM answer, got {answer:?}")
    };
    assert_eq!(answer.json, json!({"reply": "Yes, 9 to 1."}));
    assert_eq!(answer.tokens, 61, "OpenAI's own count is metered");
    assert!(!answer.sandbox);

    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].headers["authorization"], format!("Bearer {KEY}"));
    let body: Value = serde_json::from_str(&seen[0].body).expect("a JSON body");
    assert_eq!(body["model"], "gpt-4.1", "the strong tier's model");
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "You answer customers' texts."},
            {"role": "user", "content": "A customer texted: \"are you open saturday?\""},
        ])
    );
    assert_eq!(body["max_completion_tokens"], 200);
    assert_eq!(body["store"], false);
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["schema"], schema);
    let id = body["safety_identifier"].as_str().expect("an identifier");
    assert!(id.starts_with("stepwise-") && !id.contains("t1"), "{id}");
}

#[tokio::test]
async fn plain_text_is_asked_without_a_format_and_the_cheap_tier_uses_its_model() {
    let fake = Fake::start(completion("Yes, 9 to 1.", 40)).await;
    let mut request = ask(None);
    if let Request::Llm(call) = &mut request {
        call.tier = LlmTier::Cheap;
        call.system = None;
    }
    let answer = call(&fake, &request, json!({})).await.expect("an answer");
    let Response::Llm(answer) = answer else {
        panic!("an LLM answer")
    };
    assert_eq!(answer.text, "Yes, 9 to 1.");
    assert_eq!(answer.json, Value::Null);
    let body: Value = serde_json::from_str(&fake.seen()[0].body).expect("JSON");
    assert_eq!(body["model"], "gpt-4o-mini");
    assert!(body.get("response_format").is_none());
    assert_eq!(body["messages"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn an_answer_that_is_not_json_keeps_its_tokens_for_the_engine_to_refuse() {
    let fake = Fake::start(completion("Sure! {\"reply\": ", 33)).await;
    let answer = call(&fake, &ask(Some(json!({"type": "object"}))), json!({}))
        .await
        .expect("an answer");
    let Response::Llm(answer) = answer else {
        panic!("an LLM answer")
    };
    assert_eq!(answer.json, Value::Null);
    assert_eq!(answer.tokens, 33);
}

#[tokio::test]
async fn a_refusal_and_a_filter_are_withheld_answers_with_their_tokens() {
    let refusal = Answer::json(
        200,
        json!({"choices": [{"finish_reason": "stop",
            "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."}}],
            "usage": {"total_tokens": 9}}),
    );
    let filtered = Answer::json(
        200,
        json!({"choices": [{"finish_reason": "content_filter",
            "message": {"role": "assistant", "content": ""}}],
            "usage": {"total_tokens": 14}}),
    );
    for (answer, code, tokens) in [
        (refusal, "model_refused", 9),
        (filtered, "content_filter", 14),
    ] {
        let fake = Fake::start(answer).await;
        match call(&fake, &ask(None), json!({})).await {
            Ok(Response::Llm(answer)) => {
                assert_eq!(answer.tokens, tokens, "{code}: OpenAI's count is metered");
                let why = answer.withheld.unwrap_or_default();
                assert!(why.contains(&format!("(code {code})")), "{why}");
            }
            other => panic!("{code}: a withheld answer, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_used_up_account_is_permanent() {
    let quota = Answer::json(
        429,
        json!({"error": {"message": "You exceeded your current quota.", "type":
            "insufficient_quota", "param": null, "code": "insufficient_quota"}}),
    );
    let fake = Fake::start(quota).await;
    match call(&fake, &ask(None), json!({})).await {
        Err(e @ ConnectorError::Permanent { .. }) => {
            assert_eq!(e.code(), Some("insufficient_quota"));
        }
        other => panic!("permanent, got {other:?}"),
    }
}

#[test]
fn settings_name_usable_models() {
    let openai = OpenAi::new(env("openai", "http://127.0.0.1:9", MapVault::default()));
    let check = |options: Value| openai.check(stepwise_core::Capability::Llm, &setting(options));
    assert!(check(json!({})).is_ok());
    assert!(check(json!({"cheap_model": "ft:gpt-4o-mini:acme::abc123"})).is_ok());
    let bad = check(json!({"strong_model": "gpt 4o\n"})).expect_err("a space and a newline");
    assert!(bad.contains("strong_model"), "{bad}");
    assert!(check(json!({"model": "gpt-4o"})).is_err(), "unknown option");
}
