//! Twilio against a fake on 127.0.0.1: the wire format, the error mapping and the conformance
//! kit; webhooks against signatures made the way Twilio makes them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use stepwise_core::{
    CallCx, ConnectorError, DeliveryStatus, HookError, HookRequest, InboundFact, Notify,
    NotifyAudience, ProviderSetting, Request, Response, Secret, SmsSend, WebhookSource,
};

use super::{Twilio, TwilioHooks, signature};
use crate::provider::Provider;
use crate::testing::{Answer, Case, Fake, MapVault, conformance, env};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-token-0123456789";

fn setting() -> ProviderSetting {
    serde_json::from_value(
        json!({"provider": "twilio", "account_sid": ACCOUNT, "from": "+15125550100"}),
    )
    .unwrap()
}

fn sms(_: &str) -> Request {
    Request::Sms(SmsSend {
        to: "+15125550111".into(),
        from: None,
        body: "Hi Ana, thanks for reaching out!".into(),
        media_urls: vec!["https://example.com/a.png".into()],
    })
}

fn created() -> Answer {
    Answer::json(
        201,
        json!({"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "num_segments": "1", "to": "+15125550111"}),
    )
}

#[tokio::test]
async fn twilio_meets_the_connector_contract() {
    conformance(Case {
        name: "twilio",
        make: |env| Arc::new(Twilio::new(env)),
        request: sms,
        setting: setting(),
        credentials: vec![("twilio_auth_token", TOKEN)],
        success: created(),
        client_error: (
            Answer::json(
                400,
                json!({"code": 21211, "message": "The 'To' number is not valid.", "status": 400}),
            ),
            "21211",
        ),
        deduplicates: false,
    })
    .await;
}

fn notify_setting() -> ProviderSetting {
    serde_json::from_value(json!({"provider": "twilio", "account_sid": ACCOUNT,
        "from": "+15125550100", "owner": "+15125550190", "team": ["+15125550191", "+15125550192"]}))
    .unwrap()
}

fn alert(audience: NotifyAudience, text: &str) -> Request {
    Request::Notify(Notify {
        audience,
        text: text.into(),
    })
}

#[tokio::test]
async fn twilio_staff_alerts_meet_the_connector_contract() {
    conformance(Case {
        name: "twilio",
        make: |env| Arc::new(Twilio::new(env)),
        request: |_| alert(NotifyAudience::Owner, "Hot lead: Ana, +15125550111"),
        setting: notify_setting(),
        credentials: vec![("twilio_auth_token", TOKEN)],
        success: created(),
        client_error: (
            Answer::json(
                400,
                json!({"code": 21211, "message": "The 'To' number is not valid.", "status": 400}),
            ),
            "21211",
        ),
        deduplicates: false,
    })
    .await;
}

#[tokio::test]
async fn staff_alerts_text_the_owner_or_each_of_the_team() {
    let fake = Fake::start(created()).await;
    let twilio = Twilio::new(env(
        "twilio",
        &fake.base,
        MapVault::with("t1", &[("twilio_auth_token", TOKEN)]),
    ));
    let cx = CallCx::bare("t1", "r", "s");
    let options = &notify_setting().options;
    let long = "x".repeat(2_000);
    let answer = twilio
        .call(&alert(NotifyAudience::Owner, &long), options, &cx)
        .await
        .unwrap();
    assert!(matches!(answer, Response::Notified(ref n) if n.channel == NotifyAudience::Owner));
    twilio
        .call(
            &alert(NotifyAudience::Team, "Detractor: Ben gave 3"),
            options,
            &cx,
        )
        .await
        .unwrap();
    let sent: Vec<(String, String)> = fake
        .seen()
        .iter()
        .map(|seen| {
            let form: BTreeMap<String, String> = form_urlencoded::parse(seen.body.as_bytes())
                .into_owned()
                .collect();
            (form["To"].clone(), form["Body"].clone())
        })
        .collect();
    let to: Vec<&str> = sent.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(to, ["+15125550190", "+15125550191", "+15125550192"]);
    assert_eq!(
        sent[0].1.chars().count(),
        1_600,
        "shortened to one SMS's most"
    );
    assert!(sent[0].1.ends_with('…'));
    assert_eq!(sent[2].1, "Detractor: Ben gave 3");

    // The settings check wants an owner, numbers in E.164, and refuses them for sms.
    let check = |v: serde_json::Value| {
        twilio.check(stepwise_core::Capability::Notify, v.as_object().unwrap())
    };
    assert!(check(json!({"account_sid": ACCOUNT, "owner": "+15125550190"})).is_ok());
    assert!(
        check(json!({"account_sid": ACCOUNT}))
            .unwrap_err()
            .contains("owner")
    );
    assert!(
        check(json!({"account_sid": ACCOUNT, "owner": "5125550190"}))
            .unwrap_err()
            .contains("E.164")
    );
    let sms_with_owner = json!({"account_sid": ACCOUNT, "owner": "+15125550190"});
    assert!(
        twilio
            .check(
                stepwise_core::Capability::Sms,
                sms_with_owner.as_object().unwrap()
            )
            .is_err()
    );
}

#[tokio::test]
async fn sends_the_form_twilio_documents_with_basic_auth_and_a_status_callback() {
    let fake = Fake::start(created()).await;
    let twilio = Twilio::new(env(
        "twilio",
        &fake.base,
        MapVault::with("t1", &[("twilio_auth_token", TOKEN)]),
    ));
    let cx = CallCx {
        hook_token: Some("tok123".into()),
        ..CallCx::bare("t1", "r", "s")
    };
    let sent = twilio
        .call(&sms(""), &setting().options, &cx)
        .await
        .unwrap();
    let Response::Sent(sent) = sent else {
        panic!("not a message")
    };
    assert_eq!(sent.message_id, "SM0123456789abcdef0123456789abcdef");
    assert_eq!(sent.status, DeliveryStatus::Queued);
    let seen = &fake.seen()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.path,
        format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    );
    assert_eq!(
        seen.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{ACCOUNT}:{TOKEN}"),
    );
    assert_eq!(seen.headers["authorization"], format!("Basic {basic}"));
    let form: BTreeMap<String, String> = form_urlencoded::parse(seen.body.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(form["To"], "+15125550111");
    assert_eq!(form["From"], "+15125550100");
    assert_eq!(form["Body"], "Hi Ana, thanks for reaching out!");
    assert_eq!(form["MediaUrl"], "https://example.com/a.png");
    assert_eq!(
        form["StatusCallback"],
        "https://stepwise.test/hooks/tok123/twilio"
    );
}

#[tokio::test]
async fn an_unsubscribed_recipient_is_rejected_and_a_missing_sender_is_permanent() {
    let fake = Fake::start(Answer::json(
        400,
        json!({"code": 21610, "message": "Attempt to send to unsubscribed recipient"}),
    ))
    .await;
    let twilio = Twilio::new(env(
        "twilio",
        &fake.base,
        MapVault::with("t1", &[("twilio_auth_token", TOKEN)]),
    ));
    let cx = CallCx::bare("t1", "r", "s");
    let err = twilio
        .call(&sms(""), &setting().options, &cx)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Rejected { ref code, .. } if code == "21610"),
        "{err:?}"
    );

    let no_from: ProviderSetting =
        serde_json::from_value(json!({"provider": "twilio", "account_sid": ACCOUNT})).unwrap();
    let err = twilio
        .call(&sms(""), &no_from.options, &cx)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("no_sender"));
    assert_eq!(fake.seen().len(), 1, "nothing sent without a sender");
}

#[test]
fn settings_are_checked() {
    let twilio = Twilio::new(env("twilio", "http://127.0.0.1:1", MapVault::default()));
    let check =
        |v: serde_json::Value| twilio.check(stepwise_core::Capability::Sms, v.as_object().unwrap());
    assert!(check(json!({"account_sid": ACCOUNT, "from": "+15125550100"})).is_ok());
    assert!(
        check(json!({"account_sid": "AC123"}))
            .unwrap_err()
            .contains("account_sid")
    );
    assert!(
        check(json!({"account_sid": ACCOUNT, "from": "5125550100"}))
            .unwrap_err()
            .contains("E.164")
    );
    assert!(
        check(json!({"account_sid": ACCOUNT, "auth_token": "x"}))
            .unwrap_err()
            .contains("unknown field")
    );
}

fn hook(
    url: &str,
    params: &[(&str, &str)],
    signed_with: &str,
) -> (BTreeMap<String, String>, Vec<u8>) {
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let headers = BTreeMap::from([
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        (
            "x-twilio-signature".to_owned(),
            signature::sign(signed_with, url, &pairs),
        ),
    ]);
    (headers, body.into_bytes())
}

fn receive(
    url: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> Result<Vec<InboundFact>, HookError> {
    let request = HookRequest {
        method: "POST",
        url,
        headers,
        body,
        now: 0,
    };
    TwilioHooks
        .receive(&request, None, Some(&Secret::new(TOKEN)))
        .map(|v| v.facts)
}

#[test]
fn inbound_messages_and_status_callbacks_become_facts_and_bad_signatures_are_refused() {
    let url = "https://stepwise.test/hooks/tok123/twilio";
    let inbound = [
        ("MessageSid", "SM1"),
        ("AccountSid", ACCOUNT),
        ("From", "+15125550111"),
        ("To", "+15125550100"),
        ("Body", "yes please"),
        ("NumMedia", "1"),
        ("MediaUrl0", "https://api.twilio.com/m/1"),
    ];
    let (headers, body) = hook(url, &inbound, TOKEN);
    let facts = receive(url, &headers, &body).unwrap();
    let [InboundFact::Message(m)] = facts.as_slice() else {
        panic!("{facts:?}")
    };
    assert_eq!(
        (m.from.as_str(), m.body.as_str(), m.provider_id.as_str()),
        ("+15125550111", "yes please", "SM1")
    );
    assert_eq!(m.media, ["https://api.twilio.com/m/1"]);

    let status = [
        ("MessageSid", "SM2"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30003"),
        ("To", "+15125550111"),
    ];
    let (headers, body) = hook(url, &status, TOKEN);
    let facts = receive(url, &headers, &body).unwrap();
    let [InboundFact::Status(s)] = facts.as_slice() else {
        panic!("{facts:?}")
    };
    assert_eq!(
        (s.status, s.error_code.as_deref()),
        (DeliveryStatus::Undelivered, Some("30003"))
    );

    // Another tenant's token, another URL, a changed body, no signature: all refused.
    let (headers, body) = hook(url, &inbound, "another-tenants-token");
    assert_eq!(receive(url, &headers, &body), Err(HookError::BadSignature));
    let (headers, body) = hook("https://stepwise.test/hooks/other/twilio", &inbound, TOKEN);
    assert_eq!(receive(url, &headers, &body), Err(HookError::BadSignature));
    let (headers, mut body) = hook(url, &inbound, TOKEN);
    body.extend_from_slice(b"&Extra=1");
    assert_eq!(receive(url, &headers, &body), Err(HookError::BadSignature));
    let (mut headers, body) = hook(url, &inbound, TOKEN);
    headers.remove("x-twilio-signature");
    assert_eq!(receive(url, &headers, &body), Err(HookError::BadSignature));
}
