//! The sandbox records every request and answers like a provider would.

use stepwise_core::{CallCx, Connector, Request, SmsSend};

use super::Sandbox;

fn sms(text: &str) -> Request {
    Request::Sms(SmsSend {
        to: "+15125550100".into(),
        from: None,
        body: text.into(),
        media_urls: Vec::new(),
    })
}

#[tokio::test]
async fn records_sms_and_answers_with_a_message_id() {
    let sandbox = Sandbox::new();
    let cx = CallCx::bare("t", "r", "s");
    let result = sandbox.call(&sms(&"a".repeat(200)), &cx).await.unwrap();
    assert_eq!(result.output()["segments"], 2);
    assert!(result.sandbox());
    assert!(result.provider_id().unwrap().starts_with("SM_sandbox_"));
    let recorded = sandbox.recorded();
    assert_eq!(recorded.len(), 1);
    let Request::Sms(sent) = &recorded[0].request else {
        panic!("not an SMS")
    };
    assert_eq!(sent.body.len(), 200);
}
