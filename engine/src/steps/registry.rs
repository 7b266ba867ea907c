//! Every step kind, one line each. Adding a kind: a folder beside this file and a line here.

use super::erased::{ErasedKind, Kind};
use super::{
    calendar, crm, hand_over, http, llm, notify, payments, send_email, send_sms, set, stop, tag,
    update_contact, wait, wait_for,
};

static KINDS: [&dyn ErasedKind; 15] = [
    &Kind::<send_sms::SendSms>::NEW,
    &Kind::<send_email::SendEmail>::NEW,
    &Kind::<notify::Notify>::NEW,
    &Kind::<http::Http>::NEW,
    &Kind::<crm::Crm>::NEW,
    &Kind::<calendar::Calendar>::NEW,
    &Kind::<llm::Llm>::NEW,
    &Kind::<payments::Payments>::NEW,
    &Kind::<wait::Wait>::NEW,
    &Kind::<wait_for::WaitFor>::NEW,
    &Kind::<set::Set>::NEW,
    &Kind::<tag::Tag>::NEW,
    &Kind::<update_contact::UpdateContact>::NEW,
    &Kind::<stop::Stop>::NEW,
    &Kind::<hand_over::HandOver>::NEW,
];

/// All registered kinds (the `if` branch is structural and not among them).
pub fn kinds() -> &'static [&'static dyn ErasedKind] {
    &KINDS
}

/// The kind registered under `key`.
pub fn find(key: &str) -> Option<&'static dyn ErasedKind> {
    KINDS.iter().copied().find(|k| k.key() == key)
}

#[cfg(test)]
mod tests {
    //! Each kind's declared outputs cover what its outcomes write, so a reference the
    //! validator accepts is one the runtime can answer.

    use serde_json::{Value, json};

    use crate::steps::{FAILED_OUTPUTS, StepOutcome};
    use crate::testing::plan_step;
    use stepwise_core::{
        CalendarAnswer, CrmRecord, DeliveryStatus, HttpResponse, LlmAnswer, Notified,
        PaymentAnswer, Request, Response, Sent,
    };

    /// The fullest answer a provider gives to `request`: every optional field present.
    fn fullest_answer(request: &Request) -> Response {
        let sent = |segments| {
            Response::Sent(Sent {
                status: DeliveryStatus::Sent,
                message_id: "m".into(),
                to: "+15125550100".into(),
                segments,
                sandbox: true,
            })
        };
        match request {
            Request::Sms(_) => sent(Some(1)),
            Request::Email(_) => sent(None),
            Request::Notify(n) => Response::Notified(Notified {
                status: DeliveryStatus::Sent,
                channel: n.audience,
                sandbox: true,
            }),
            Request::Http(_) => Response::Http(HttpResponse {
                status: 200,
                body: json!({}),
                sandbox: true,
            }),
            Request::Crm(c) => Response::Crm(CrmRecord {
                status: "ok",
                action: c.action,
                id: "r".into(),
                sandbox: true,
            }),
            Request::Calendar(c) => Response::Calendar(CalendarAnswer {
                status: "ok",
                action: c.action,
                slots: Some(vec![]),
                booking_id: Some("b".into()),
                sandbox: true,
            }),
            Request::Llm(_) => Response::Llm(LlmAnswer {
                text: "t".into(),
                json: json!({}),
                tokens: 1,
                withheld: None,
                sandbox: true,
            }),
            Request::Payments(p) => Response::Payment(PaymentAnswer {
                status: "ok",
                action: p.action,
                invoice_id: "in_1".into(),
                url: Some("https://pay.example/in_1".into()),
                sandbox: true,
            }),
        }
    }

    /// One configuration of each kind, as a flow would write it.
    fn examples() -> Vec<Value> {
        vec![
            json!({"send_sms": {"body": "hi"}}),
            json!({"send_email": {"subject": "s", "body": "b"}}),
            json!({"notify": {"text": "t"}}),
            json!({"http": {"url": "https://example.com"}}),
            json!({"crm": {"action": "upsert_contact", "fields": {"email": "a@example.com"}}}),
            json!({"calendar": {"action": "cancel", "fields": {"booking_id": "b"}}}),
            json!({"llm": {"prompt": "p"}}),
            json!({"payments": {"action": "create_invoice", "fields": {"amount": 100, "currency": "usd", "description": "d"}}}),
            json!({"wait": {"for": "1m"}}),
            json!({"wait": {"until": "now - hours(1)"}}),
            json!({"wait_for": {"event": "message.received", "timeout": "1h"}}),
            json!({"set": {"score": "1 + 1"}}),
            json!({"tag": {"add": ["hot"]}}),
            json!({"update_contact": {"first_name": "Ana"}}),
            json!({"stop": "done"}),
            json!({"hand_over": {"reason": "angry", "channel": "sms"}}),
        ]
    }

    fn keys(output: &Value) -> Vec<String> {
        output
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn declared_outputs_cover_every_outcome() {
        let mut covered: Vec<&str> = Vec::new();
        for step in examples() {
            let key = step.as_object().and_then(|o| o.keys().next()).cloned();
            let key = key.unwrap_or_default();
            let kind = super::find(&key).unwrap_or_else(|| panic!("no kind {key}"));
            covered.push(kind.key());
            let config = kind.parse(&step[&key]).unwrap();
            let declared = config.outputs();
            let written = match plan_step(step.clone()).unwrap() {
                StepOutcome::Next(output) | StepOutcome::Sleep { output, .. } => keys(&output),
                StepOutcome::Call(draft) => {
                    let mut written = keys(&fullest_answer(&draft.request).output());
                    if draft.message.is_some() {
                        // A send the runtime suppresses: `{ status: suppressed, reason }`.
                        written.extend(["status".into(), "reason".into()]);
                    }
                    written
                }
                StepOutcome::WaitFor { .. } => ["received", "timed_out", "event"]
                    .map(String::from)
                    .to_vec(),
                StepOutcome::Stop(_) => Vec::new(),
                StepOutcome::HandOver { .. } => ["channel", "reason"].map(String::from).to_vec(),
            };
            for field in written {
                assert!(
                    declared.contains(&field) || FAILED_OUTPUTS.contains(&field.as_str()),
                    "{key} writes `{field}` but declares only {declared:?}"
                );
            }
        }
        for kind in super::kinds() {
            assert!(
                covered.contains(&kind.key()),
                "no example of {}",
                kind.key()
            );
        }
    }
}
