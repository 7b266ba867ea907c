//! The sandbox records every request and answers like a provider would.

use serde_json::json;
use stepwise_engine::model::Purpose;
use stepwise_engine::ports::{ActionRequest, CallCx, Channel, Connector, OutboundMessage};
use stepwise_engine::template::Segments;

use super::Sandbox;

fn sms(text: &str) -> ActionRequest {
    ActionRequest {
        connector: "sms",
        action: "send".into(),
        payload: json!({"to": "+15125550100", "body": text}),
        message: Some(OutboundMessage {
            channel: Channel::Sms,
            to: "+15125550100".into(),
            subject: None,
            text: text.into(),
            segments: Some(Segments::of(text)),
        }),
        purpose: Purpose::Marketing,
        idempotency_key: "r:s:1".into(),
        idempotent: false,
    }
}

#[tokio::test]
async fn records_sms_and_answers_with_a_message_id() {
    let sandbox = Sandbox::new();
    let cx = CallCx {
        tenant_id: "t".into(),
        run_id: "r".into(),
        step_id: "s".into(),
    };
    let result = sandbox.call(&sms(&"a".repeat(200)), &cx).await.unwrap();
    assert_eq!(result.output["segments"], 2);
    assert!(result.provider_id.unwrap().starts_with("SM_sandbox_"));
    let recorded = sandbox.recorded();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].request.message.as_ref().unwrap().text.len(),
        200
    );
}
