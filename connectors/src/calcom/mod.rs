//! Cal.com booking webhooks at `/hooks/{token}/calcom`: `X-Cal-Signature-256` is the lowercase
//! hex HMAC-SHA256 of the raw body under the webhook's secret (no prefix; Cal.com sends the
//! literal `no-secret-provided` when the webhook has none, which is refused). Bookings become
//! events of the attendee: BOOKING_CREATED → `appointment.booked`, BOOKING_RESCHEDULED →
//! `appointment.rescheduled`, BOOKING_CANCELLED → `appointment.cancelled`, each with the
//! booking's id and start time, so reminder flows wait on real bookings and speed-to-lead's
//! nudges stop when the lead books. BOOKING_NO_SHOW_UPDATED (the host marks an attendee as a
//! no-show, or takes the mark back) becomes `appointment.no_show` (or
//! `appointment.no_show_cleared`) of each attendee it names, by email. Other triggers are
//! acknowledged and ignored.
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
    /// The booking a no-show update is about (that payload has no `uid`).
    #[serde(default)]
    booking_uid: Option<String>,
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
    #[serde(default)]
    no_show: Option<bool>,
}

/// The most attendees one no-show update is read for (a group booking's list, not a mailing).
const MAX_NO_SHOW_ATTENDEES: usize = 50;

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
            "BOOKING_NO_SHOW_UPDATED" => {
                return Ok(HookVerdict {
                    facts: no_show_facts(&envelope),
                    reply: HookReply::Empty,
                });
            }
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

/// One event per attendee a no-show update names by email: marked (`appointment.no_show`) or
/// unmarked (`appointment.no_show_cleared`). A host-only update (`noShowHost`) names none.
fn no_show_facts(envelope: &Envelope) -> Vec<InboundFact> {
    let booking = &envelope.payload;
    let uid = booking
        .booking_uid
        .as_deref()
        .or(booking.uid.as_deref())
        .unwrap_or_default();
    booking
        .attendees
        .iter()
        .take(MAX_NO_SHOW_ATTENDEES)
        .filter_map(|attendee| {
            let email = attendee.email.as_deref().filter(|e| !e.trim().is_empty())?;
            let marked = attendee.no_show.unwrap_or(true);
            let event_type = if marked {
                "appointment.no_show"
            } else {
                "appointment.no_show_cleared"
            };
            Some(InboundFact::Event {
                // A retried delivery repeats its creation time; marking again later is new.
                id: format!(
                    "{}:{uid}:{email}:{marked}:{}",
                    envelope.trigger_event,
                    envelope.created_at.as_deref().unwrap_or_default()
                ),
                event_type: event_type.into(),
                contact: Map::from_iter([("email".to_owned(), json!(email))]),
                data: json!({ "booking_id": uid }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
