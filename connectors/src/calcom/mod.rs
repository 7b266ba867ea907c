//! Cal.com booking webhooks at `/hooks/{token}/calcom`: `X-Cal-Signature-256` is the lowercase
//! hex HMAC-SHA256 of the raw body under the webhook's secret (no prefix; Cal.com sends the
//! literal `no-secret-provided` when the webhook has none, which is refused). Bookings become
//! events of the attendee: BOOKING_CREATED → `appointment.booked`, BOOKING_RESCHEDULED →
//! `appointment.rescheduled`, BOOKING_CANCELLED → `appointment.cancelled`, each with the
//! booking's id and start time, so reminder flows wait on real bookings and speed-to-lead's
//! nudges stop when the lead books. Other triggers are acknowledged and ignored.
//!
//! Tenant setup: the credential `calcom_webhook_secret` (the secret typed into Cal.com).

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::Sha256;
use stepwise_core::{
    HookError, HookReply, HookRequest, HookVerdict, InboundFact, ProviderSetting, Secret,
    WebhookSource,
};

/// The source of `/hooks/{token}/calcom`.
#[derive(Debug, Clone, Copy)]
pub struct CalcomHooks;

/// Cal.com's envelope (the default one; custom payload templates are not read).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    trigger_event: String,
    #[serde(default)]
    created_at: Option<String>,
    payload: Booking,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Booking {
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
    #[serde(default, rename = "type")]
    event_type: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    attendees: Vec<Attendee>,
    #[serde(default)]
    responses: Map<String, Value>,
    #[serde(default)]
    sms_reminder_number: Option<String>,
    #[serde(default)]
    cancellation_reason: Option<String>,
    #[serde(default)]
    reschedule_uid: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Attendee {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
}

/// Checks `X-Cal-Signature-256` in constant time.
pub fn verify(secret: &str, body: &[u8], signature: &str) -> bool {
    let Ok(expected) = hex::decode(signature.trim()) else {
        return false;
    };
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The attendee's phone: the booking form's phone answer, else the SMS reminder number.
fn phone_of(booking: &Booking) -> Option<String> {
    let answer = ["attendeePhoneNumber", "phone", "phoneNumber"]
        .iter()
        .find_map(|k| {
            let v = booking.responses.get(*k)?;
            v.get("value").unwrap_or(v).as_str().map(str::to_owned)
        });
    answer
        .or_else(|| booking.sms_reminder_number.clone())
        .filter(|p| !p.trim().is_empty())
}

impl WebhookSource for CalcomHooks {
    fn name(&self) -> &'static str {
        "calcom"
    }

    fn signing_credential(&self, _: Option<&ProviderSetting>) -> Option<String> {
        Some("calcom_webhook_secret".into())
    }

    fn receive(
        &self,
        request: &HookRequest<'_>,
        _: Option<&ProviderSetting>,
        secret: Option<&Secret>,
    ) -> Result<HookVerdict, HookError> {
        let secret =
            crate::hooks::signed_post(request, secret, "Cal.com", "calcom_webhook_secret")?;
        let signature = request
            .header("x-cal-signature-256")
            .ok_or(HookError::BadSignature)?;
        if signature == "no-secret-provided" || !verify(secret.expose(), request.body, signature) {
            return Err(HookError::BadSignature);
        }
        let envelope: Envelope = serde_json::from_slice(request.body)
            .map_err(|e| HookError::Malformed(format!("not Cal.com's webhook body: {e}")))?;
        let event_type = match envelope.trigger_event.as_str() {
            "BOOKING_CREATED" => "appointment.booked",
            "BOOKING_RESCHEDULED" => "appointment.rescheduled",
            "BOOKING_CANCELLED" => "appointment.cancelled",
            _ => {
                return Ok(HookVerdict {
                    facts: Vec::new(),
                    reply: HookReply::Empty,
                });
            }
        };
        let booking = envelope.payload;
        let attendee = booking.attendees.first();
        let mut contact = Map::new();
        if let Some(email) = attendee.and_then(|a| a.email.clone()) {
            contact.insert("email".into(), json!(email));
        }
        if let Some(phone) = phone_of(&booking) {
            contact.insert("phone".into(), json!(phone));
        }
        if contact.is_empty() {
            return Err(HookError::Malformed(
                "the booking has no attendee email or phone".into(),
            ));
        }
        if let Some(name) = attendee.and_then(|a| a.name.as_deref()) {
            let mut parts = name.trim().splitn(2, ' ');
            contact.insert("first_name".into(), json!(parts.next().unwrap_or_default()));
            if let Some(last) = parts.next() {
                contact.insert("last_name".into(), json!(last.trim()));
            }
        }
        if let Some(zone) = attendee.and_then(|a| a.time_zone.clone()) {
            contact.insert("timezone".into(), json!(zone));
        }
        let uid = booking.uid.clone().unwrap_or_default();
        // One event per booking state: a retried delivery repeats it; a new time is a new one.
        let id = format!(
            "{}:{uid}:{}",
            envelope.trigger_event,
            booking
                .start_time
                .as_deref()
                .or(envelope.created_at.as_deref())
                .unwrap_or_default()
        );
        let data = json!({
            "booking_id": uid, "start_at": booking.start_time, "end_at": booking.end_time,
            "title": booking.title, "event_type": booking.event_type, "location": booking.location,
            "cancellation_reason": booking.cancellation_reason, "rescheduled_from": booking.reschedule_uid,
        });
        Ok(HookVerdict {
            facts: vec![InboundFact::Event {
                id,
                event_type: event_type.into(),
                contact,
                data,
            }],
            reply: HookReply::Empty,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};
    use stepwise_core::{HookError, HookRequest, InboundFact, Secret, WebhookSource};

    use super::{CalcomHooks, verify};

    fn vector() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/webhook-signature-vectors.json"
        );
        let all: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("JSON");
        all["calcom"].clone()
    }

    fn receive(
        body: &str,
        signature: Option<&str>,
        secret: &str,
    ) -> Result<Vec<InboundFact>, HookError> {
        let mut headers =
            BTreeMap::from([("content-type".to_owned(), "application/json".to_owned())]);
        if let Some(sig) = signature {
            headers.insert("x-cal-signature-256".into(), sig.into());
        }
        let request = HookRequest {
            method: "POST",
            url: "https://s.test/hooks/t/calcom",
            headers: &headers,
            body: body.as_bytes(),
            now: 0,
        };
        CalcomHooks
            .receive(&request, None, Some(&Secret::new(secret)))
            .map(|v| v.facts)
    }

    #[test]
    fn the_shared_vector_passes_and_tampering_fails() {
        let v = vector();
        let (secret, body, sig) = (
            v["secret"].as_str().unwrap(),
            v["payload"].as_str().unwrap(),
            v["expected"].as_str().unwrap(),
        );
        assert!(verify(secret, body.as_bytes(), sig));
        assert!(!verify("other", body.as_bytes(), sig));
        assert!(!verify(secret, body.replace("abc", "abd").as_bytes(), sig));
        assert!(!verify(secret, body.as_bytes(), &sig.to_uppercase()[..10]));
        // The vector's booking has no attendee: verified, then refused as unreadable.
        assert!(matches!(
            receive(body, Some(sig), secret),
            Err(HookError::Malformed(_))
        ));
        assert_eq!(
            receive(body, Some("no-secret-provided"), secret),
            Err(HookError::BadSignature)
        );
        assert_eq!(receive(body, None, secret), Err(HookError::BadSignature));
    }

    #[test]
    fn bookings_become_events_of_the_attendee() {
        let secret = "calsecret";
        let body = json!({"triggerEvent": "BOOKING_CANCELLED", "createdAt": "2026-12-01T10:00:00.000Z",
            "payload": {"uid": "bk_1", "title": "Cleaning", "startTime": "2026-12-03T15:00:00.000Z",
                "attendees": [{"email": "ana@example.com", "name": "Ana Díaz", "timeZone": "America/Chicago"}],
                "responses": {"attendeePhoneNumber": {"value": "+15125550177"}}, "cancellationReason": "sick"}})
        .to_string();
        let sig = {
            use hmac::{Hmac, KeyInit, Mac};
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(body.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        };
        let facts = receive(&body, Some(&sig), secret).unwrap();
        let [
            InboundFact::Event {
                id,
                event_type,
                contact,
                data,
            },
        ] = facts.as_slice()
        else {
            panic!("{facts:?}")
        };
        assert_eq!(event_type, "appointment.cancelled");
        assert_eq!(id, "BOOKING_CANCELLED:bk_1:2026-12-03T15:00:00.000Z");
        assert_eq!(contact["phone"], "+15125550177");
        assert_eq!(
            (
                contact["first_name"].as_str(),
                contact["last_name"].as_str()
            ),
            (Some("Ana"), Some("Díaz"))
        );
        assert_eq!(data["start_at"], "2026-12-03T15:00:00.000Z");
        assert_eq!(data["cancellation_reason"], "sick");
        let other = json!({"triggerEvent": "MEETING_ENDED", "payload": {}}).to_string();
        let sig = {
            use hmac::{Hmac, KeyInit, Mac};
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(other.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        };
        assert_eq!(
            receive(&other, Some(&sig), secret).unwrap(),
            vec![],
            "other triggers are ignored"
        );
    }
}
