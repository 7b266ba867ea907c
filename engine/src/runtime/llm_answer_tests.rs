//! A model's answer is held to its step's `output_schema` whatever the provider: one that
//! breaks it fails the step (`answer_mismatch`) after its tokens are recorded for metering;
//! one that keeps it is the step's output; one the provider withheld (a refusal) fails the
//! step with its tokens kept too; the sandbox's stand-in answer is not judged.

use std::sync::Arc;

use serde_json::{Value, json};

use super::tests::run;
use crate::ports::Response;
use crate::testing::RecordingConnector;
use stepwise_core::LlmAnswer;

const DRAFT: &str = "id: f
trigger: {event: lead.created}
steps:
  - id: draft
    llm:
      prompt: hi
      output_schema: {type: object, properties: {reply: {type: string, maxLength: 12}}, required: [reply]}
    on_error: continue
  - set: {reply: 'steps.draft?.json?.reply ?? \"\"', status: 'steps.draft?.status ?? \"\"'}
  - notify: {text: 'reply={{vars.reply}} status={{vars.status}}'}
";

fn answer(json: Value, sandbox: bool) -> Response {
    Response::Llm(LlmAnswer {
        text: json.to_string(),
        json,
        tokens: 42,
        withheld: None,
        sandbox,
    })
}

/// The run's timeline, and the text the step after the model's sent.
async fn draft_with(response: Response) -> (Vec<Value>, String) {
    let connector = Arc::new(RecordingConnector::default());
    connector.script([Ok(response)]);
    let entries = run(DRAFT, connector.clone(), vec![]).await;
    let calls = connector.calls();
    let notified =
        serde_json::to_value(calls.last().expect("the notify")).unwrap_or_default()["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    (entries, notified)
}

fn entry<'a>(entries: &'a [Value], kind: &str) -> Option<&'a Value> {
    entries.iter().find(|e| e["kind"] == kind)
}

#[tokio::test]
async fn an_answer_that_breaks_the_schema_fails_the_step_and_keeps_its_tokens() {
    let (entries, notified) =
        draft_with(answer(json!({"reply": "far too long a reply"}), false)).await;
    let called = entry(&entries, "called").expect("the call is recorded");
    assert_eq!(called["result"]["tokens"], 42, "{called}");
    let handled = entry(&entries, "error_handled").expect("the step failed");
    let error = handled["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("answer_mismatch") && error.contains("longer than 12"),
        "{error}"
    );
    assert_eq!(notified, "reply= status=failed");
}

#[tokio::test]
async fn a_withheld_answer_fails_the_step_and_keeps_its_tokens() {
    let refused = Response::Llm(LlmAnswer {
        text: String::new(),
        json: Value::Null,
        tokens: 9,
        withheld: Some("the model refused: no (code model_refused)".into()),
        sandbox: false,
    });
    let (entries, notified) = draft_with(refused).await;
    let called = entry(&entries, "called").expect("the call is recorded");
    assert_eq!(called["result"]["tokens"], 9, "{called}");
    let handled = entry(&entries, "error_handled").expect("the step failed");
    assert!(
        handled["error"]
            .as_str()
            .is_some_and(|e| e.contains("model_refused")),
        "{handled}"
    );
    assert_eq!(notified, "reply= status=failed");
}

#[tokio::test]
async fn an_answer_that_keeps_the_schema_is_the_output_and_the_sandbox_is_not_judged() {
    for (response, reply) in [
        (
            answer(json!({"reply": "Yes, 9 to 1"}), false),
            "Yes, 9 to 1",
        ),
        (answer(json!({}), true), ""),
    ] {
        let (entries, notified) = draft_with(response).await;
        assert!(entry(&entries, "error_handled").is_none(), "{entries:?}");
        assert_eq!(notified, format!("reply={reply} status="));
    }
}

#[test]
fn a_schema_the_answer_check_cannot_compile_is_refused_at_publish() {
    // Look-around needs a backtracking engine; answers are checked in linear time.
    let flow = "id: f\ntrigger: {event: lead.created}\nsteps:\n  - llm:\n      prompt: hi\n      output_schema: {type: string, pattern: '^(?=a)'}\n";
    let report = crate::definition::validate("f.yaml", flow);
    let found = report
        .diagnostics
        .iter()
        .find(|d| d.message.contains("not a usable JSON Schema"));
    assert_eq!(found.map(|d| d.line), Some(6), "{:?}", report.diagnostics);
}
