//! OpenAI through the real binary, on both backends: a tenant chooses OpenAI for the `llm`
//! capability and stores its key through the API; the AI reply module, unchanged, answers a
//! customer's text with the model's reply (every request checked against OpenAI's own spec),
//! and the plan meters OpenAI's own token count. An answer that breaks the step's schema (a
//! reply over 320 characters), a refusal and a refused key each send the fallback copy
//! instead, the first two still metered; the key appears in no answer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::Backend;
use common::client::Client;
use common::fake_openai::{Answer, FakeOpenAi};
use serde_json::{Value, json};

const API_KEY: &str = "sk-proj-e2eOpenAiKey0123456789abcdef";
const FALLBACK: &str =
    "Thanks for your message, Ana! Someone from Bright Smile will get back to you shortly.";

/// Posts a customer's text; answers the finished run.
async fn text_in(api: &Client, key: &str, body: &str) -> Value {
    let event = json!({"type": "message.received",
        "contact": {"phone": "+15125550177", "first_name": "Ana"}, "data": {"body": body}});
    let accepted = api.post("/v1/events", key, &event).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let run = accepted.body["started"][0].as_str().unwrap().to_owned();
    api.run_until(key, &run, |r| r["run"]["status"] == "completed")
        .await
}

/// The text of the newest message in the outbox.
async fn last_text(api: &Client, key: &str) -> String {
    let outbox = api.get("/v1/messages", key).await.body;
    outbox["data"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn ai_tokens(api: &Client, key: &str) -> Value {
    api.get("/v1/usage", key).await.body["this_month"]["ai_tokens"].clone()
}

async fn openai_answers_customers(backend: &Backend, dir: &std::path::Path) {
    let openai = FakeOpenAi::start(API_KEY).await;
    let urls = format!("openai={}", openai.base);
    let env = [("STEPWISE_PROVIDER_URLS", urls.as_str())];
    let (_server, base) = common::start_server_with(dir, backend, "all", &env);
    let api = Client::new(&base);
    let key = api
        .tenant_in("smile", "Bright Smile", "America/Chicago")
        .await;

    let typo = json!({"providers": {"llm": {"provider": "openai", "model": "gpt-4.1"}}});
    let refused = api.patch("/v1/settings", &key, &typo).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    let settings = json!({"providers": {"llm": {"provider": "openai", "strong_model": "gpt-4.1"}}});
    let patched = api.patch("/v1/settings", &key, &settings).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    api.put_credential(&key, "openai_api_key", API_KEY).await;
    let install = json!({"config": {"mode": "auto", "business_facts": "Open Saturdays 9-1."}});
    let installed = api
        .post("/v1/modules/ai-reply/install", &key, &install)
        .await;
    assert!(installed.status.is_success(), "{}", installed.body);

    // The model's reply reaches the customer; the plan meters OpenAI's count.
    openai.then([Answer::Content {
        content: json!({"reply": "Yes! We are open Saturdays 9 to 1."}).to_string(),
        tokens: 61,
    }]);
    let done = text_in(&api, &key, "are you open saturday?").await;
    assert_eq!(
        last_text(&api, &key).await,
        "Yes! We are open Saturdays 9 to 1."
    );
    assert_eq!(ai_tokens(&api, &key).await, 61);
    let asked = &openai.requests()[0];
    assert_eq!(asked["model"], "gpt-4.1", "the strong tier, as configured");
    let prompt = asked["messages"][1]["content"].as_str().unwrap_or_default();
    assert!(
        prompt.contains("are you open saturday?") && prompt.contains("Open Saturdays 9-1."),
        "{prompt}"
    );
    assert_eq!(
        asked["response_format"]["json_schema"]["schema"]["required"],
        json!(["reply"])
    );

    // A reply longer than the module's schema allows is not sent: the fallback is, and the
    // tokens the answer cost are still counted.
    openai.then([Answer::Content {
        content: json!({"reply": "Yes. ".repeat(80)}).to_string(),
        tokens: 90,
    }]);
    let long = text_in(&api, &key, "and sunday?").await;
    assert_eq!(last_text(&api, &key).await, FALLBACK);
    assert!(long.to_string().contains("answer_mismatch"), "{long}");
    assert_eq!(ai_tokens(&api, &key).await, 151);

    // A refusal: the fallback, and the tokens OpenAI charged for it counted.
    openai.then([Answer::Refusal {
        refusal: "I can't help with that.".into(),
        tokens: 12,
    }]);
    let declined = text_in(&api, &key, "tell me a secret").await;
    assert_eq!(last_text(&api, &key).await, FALLBACK);
    assert!(declined.to_string().contains("model_refused"), "{declined}");
    assert_eq!(ai_tokens(&api, &key).await, 163);

    // A refused key: the fallback again, and nothing metered.
    openai.then([Answer::Error {
        status: 401,
        code: "invalid_api_key",
    }]);
    let refused = text_in(&api, &key, "hello?").await;
    assert_eq!(last_text(&api, &key).await, FALLBACK);
    assert!(refused.to_string().contains("invalid_api_key"), "{refused}");
    assert_eq!(ai_tokens(&api, &key).await, 163);

    assert_eq!(openai.requests().len(), 4);
    assert_eq!(openai.violations(), Vec::<String>::new());
    for shown in [
        done,
        long,
        declined,
        refused,
        api.get("/v1/settings", &key).await.body,
    ] {
        assert!(!shown.to_string().contains(API_KEY), "the key in {shown}");
    }
}

common::place::on_both_backends!(
    openai_answers_customers,
    "openai",
    openai_answers_customers_on_sqlite,
    openai_answers_customers_on_postgres
);
