//! Twilio's webhooks at `/hooks/{token}/twilio`: an inbound message (`MessageSid`, `From`,
//! `To`, `Body`, `NumMedia` + `MediaUrl{N}`, `OptOutType`) or a status callback (the same plus
//! `MessageStatus` and `ErrorCode`), form-encoded (or JSON with `bodySHA256` in the URL), signed
//! with the tenant's Auth Token. Twilio adds parameters without notice, so every received
//! parameter is part of the signature.

use serde_json::Value;
use stepwise_core::{
    HookError, HookReply, HookRequest, HookVerdict, InboundFact, InboundMessage, ProviderSetting,
    Secret, StatusUpdate, WebhookSource,
};

use super::{Options, delivery_status, signature};

/// Empty TwiML: "received, nothing to say".
const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

/// The source of `/hooks/{token}/twilio`.
#[derive(Debug, Clone, Copy)]
pub struct TwilioHooks;

impl TwilioHooks {
    /// A TwiML answer that texts `text` back to the sender (free, and logged by Twilio).
    fn message_reply(text: &str) -> HookReply {
        let escaped = text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;");
        HookReply::Body {
            content_type: "text/xml",
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{escaped}</Message></Response>"
            ),
        }
    }
}

fn params_of(request: &HookRequest<'_>, token: &str) -> Result<Vec<(String, String)>, HookError> {
    let signature = request
        .header("x-twilio-signature")
        .ok_or(HookError::BadSignature)?;
    let content_type = request.header("content-type").unwrap_or_default();
    if content_type.starts_with("application/json") {
        if !signature::verify_json(token, request.url, request.body, signature) {
            return Err(HookError::BadSignature);
        }
        let body: Value = serde_json::from_slice(request.body)
            .map_err(|e| HookError::Malformed(e.to_string()))?;
        let object = body
            .as_object()
            .ok_or_else(|| HookError::Malformed("the body is not a JSON object".into()))?;
        return Ok(object
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                )
            })
            .collect());
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(HookError::Unsupported(format!(
            "Twilio posts application/x-www-form-urlencoded or application/json, not \"{content_type}\""
        )));
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(request.body).into_owned().collect();
    if !signature::verify_form(token, request.url, &params, signature) {
        return Err(HookError::BadSignature);
    }
    Ok(params)
}

impl WebhookSource for TwilioHooks {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn reply_with(&self, text: &str) -> Option<HookReply> {
        Some(Self::message_reply(text))
    }

    fn signing_credential(&self, setting: Option<&ProviderSetting>) -> Option<String> {
        let options = setting.and_then(|s| crate::provider::options::<Options>(&s.options).ok());
        Some(
            options.map_or_else(super::default_auth_token_credential, |o| {
                o.auth_token_credential
            }),
        )
    }

    fn receive(
        &self,
        request: &HookRequest<'_>,
        _: Option<&ProviderSetting>,
        secret: Option<&Secret>,
    ) -> Result<HookVerdict, HookError> {
        let token = crate::hooks::signed_post(request, secret, "Twilio", "Auth Token")?;
        let params = params_of(request, token.expose())?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let sid = get("MessageSid")
            .or_else(|| get("SmsSid"))
            .ok_or_else(|| HookError::Malformed("no MessageSid".into()))?;
        if let Some(status) = get("MessageStatus")
            .or_else(|| get("SmsStatus"))
            .filter(|_| get("Body").is_none())
        {
            let facts = delivery_status(&status)
                .map(|status| {
                    InboundFact::Status(StatusUpdate {
                        provider_id: sid.clone(),
                        status,
                        error_code: get("ErrorCode").filter(|c| !c.is_empty()),
                    })
                })
                .into_iter()
                .collect();
            return Ok(HookVerdict {
                facts,
                reply: HookReply::Empty,
            });
        }
        let from = get("From").ok_or_else(|| HookError::Malformed("no From".into()))?;
        let media_count: usize = get("NumMedia").and_then(|n| n.parse().ok()).unwrap_or(0);
        let media = (0..media_count.min(10))
            .filter_map(|i| get(&format!("MediaUrl{i}")))
            .collect();
        Ok(HookVerdict {
            facts: vec![InboundFact::Message(InboundMessage {
                channel: "sms",
                provider_id: sid,
                from,
                to: get("To").unwrap_or_default(),
                body: get("Body").unwrap_or_default(),
                media,
                opt_out_type: get("OptOutType"),
            })],
            reply: HookReply::Body {
                content_type: "text/xml",
                body: EMPTY_TWIML.into(),
            },
        })
    }
}
