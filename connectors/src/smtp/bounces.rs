//! Bounces that come back later, at `/hooks/{token}/bounce`. Most SMTP relays accept an email
//! and only then find the mailbox missing: the news comes back as a delivery status
//! notification (RFC 3464, `multipart/report; report-type=delivery-status`) to the sender's
//! bounce mailbox. The operator (or the business) pipes that mailbox here, one raw message per
//! POST (e.g. a Postfix alias `| curl --data-binary @- URL`); each recipient the report marks
//! `Action: failed` becomes a [`Bounce`] for the email it names by `Message-ID` (from the
//! returned message or its headers). Exim's and qmail's plain-text bounces are read too
//! (`bounce_text.rs`).
//!
//! The source is not signed (mail servers do not sign their pipes): the token keeps strangers
//! out, and the engine acts only on a report that names an email this tenant sent to that very
//! recipient, whose `Message-ID` only the recipient's side has seen. Anything else that lands
//! in a bounce mailbox (an out-of-office answer, a delay warning, a report without the
//! original's id) is acknowledged and ignored, so the pipe never bounces the bounce.

use mail_parser::{MessageParser, MimeHeaders, PartType};

use super::bounce_text::text_bounce;
use stepwise_core::{
    Bounce, HookError, HookReply, HookRequest, HookVerdict, InboundFact, ProviderSetting, Secret,
    WebhookSource,
};

/// The most recipients one report is read for: a report of ours names one.
const MAX_RECIPIENTS: usize = 50;

/// The source of `/hooks/{token}/bounce`.
#[derive(Debug, Clone, Copy)]
pub struct BounceHooks;

impl WebhookSource for BounceHooks {
    fn name(&self) -> &'static str {
        "bounce"
    }

    fn signing_credential(&self, _setting: Option<&ProviderSetting>) -> Option<String> {
        None
    }

    fn receive(
        &self,
        request: &HookRequest<'_>,
        _setting: Option<&ProviderSetting>,
        _secret: Option<&Secret>,
    ) -> Result<HookVerdict, HookError> {
        if request.method != "POST" {
            return Err(HookError::Unsupported(
                "post the bounce message, raw, as the mail server received it".into(),
            ));
        }
        if request.body.iter().all(u8::is_ascii_whitespace) {
            return Err(HookError::Malformed(
                "the body is empty: post the raw message".into(),
            ));
        }
        let facts = bounces(request.body)
            .into_iter()
            .map(InboundFact::Bounce)
            .collect();
        Ok(HookVerdict {
            facts,
            reply: HookReply::Empty,
        })
    }
}

/// The failed recipients of a delivery status notification; none for any other message.
pub fn bounces(raw: &[u8]) -> Vec<Bounce> {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    let mut report = None;
    let mut provider_id = None;
    for part in &message.parts {
        let Some(kind) = part.content_type() else {
            continue;
        };
        let subtype = kind.subtype().unwrap_or_default().to_ascii_lowercase();
        match (kind.ctype().to_ascii_lowercase().as_str(), subtype.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                report = Some(String::from_utf8_lossy(part.contents()).into_owned());
            }
            ("message", "rfc822" | "global") => {
                if let PartType::Message(original) = &part.body {
                    provider_id = provider_id.or_else(|| original.message_id().map(bracketed));
                }
            }
            ("text", "rfc822-headers" | "global-headers") => {
                let headers = MessageParser::default().parse_headers(part.contents());
                provider_id = provider_id.or_else(|| headers?.message_id().map(bracketed));
            }
            _ => {}
        }
    }
    let (failures, provider_id) = match (report, provider_id) {
        (Some(report), Some(provider_id)) => (failed_recipients(&report), provider_id),
        // No report at all: perhaps a bounce written as plain text (Exim, qmail).
        (None, _) => match message
            .body_text(0)
            .and_then(|text| text_bounce(&text, MAX_RECIPIENTS))
        {
            Some(found) => found,
            None => return Vec::new(),
        },
        (Some(_), None) => return Vec::new(),
    };
    failures
        .into_iter()
        .map(|(recipient, status)| Bounce {
            provider_id: provider_id.clone(),
            recipient,
            status,
        })
        .collect()
}

/// `<id>`, as the id was written when the email was sent.
fn bracketed(id: &str) -> String {
    format!("<{id}>")
}

/// `(address, status)` of each per-recipient block whose action is `failed` with a 5.x.x
/// status. The report is blocks of header-like fields separated by blank lines: the first is
/// about the message, each other about one recipient.
fn failed_recipients(report: &str) -> Vec<(String, String)> {
    let report = report.replace("\r\n", "\n");
    report
        .split("\n\n")
        .skip(1)
        .filter_map(|block| {
            let fields = fields(block);
            let get = |name: &str| {
                fields
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            };
            if !get("action")?.eq_ignore_ascii_case("failed") {
                return None;
            }
            // `5.1.1 (bad destination mailbox)`: the code is the first word.
            let status = get("status")?.split_whitespace().next()?.to_owned();
            if !status.starts_with("5.") {
                return None;
            }
            // `rfc822; ana@example.com`
            let recipient = get("final-recipient")?;
            let address = recipient.split_once(';').map_or(recipient, |(_, a)| a);
            let address = address.trim().trim_matches(['<', '>']).to_lowercase();
            address.contains('@').then_some((address, status))
        })
        .take(MAX_RECIPIENTS)
        .collect()
}

/// The fields of one block, folded lines joined.
fn fields(block: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    fields
}

#[cfg(test)]
#[path = "bounces_tests.rs"]
mod tests;
