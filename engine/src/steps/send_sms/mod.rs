//! `send_sms`: a text message to the contact (or another number).

use schemars::JsonSchema;
use serde::Deserialize;
use stepwise_core::SmsSend;

use crate::ports::{Channel, OutboundMessage, Request};
use crate::steps::{ActionDraft, CheckCx, StepCx, StepError, StepKind, StepOutcome};
use crate::template::limits;

/// Send a text message. Opted-out contacts are suppressed and quiet hours apply (see `purpose`).
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "SendSmsConfig")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Recipient in E.164 (template); defaults to `{{contact.phone}}`.
    #[serde(default)]
    #[schemars(with = "String")]
    pub to: Option<String>,
    /// The message text (template). Its SMS segment count is reported when it is sent.
    #[schemars(length(min = 1))]
    pub body: String,
    /// Sender number or messaging service (template); defaults to the tenant's sender.
    #[serde(default)]
    #[schemars(with = "String")]
    pub from: Option<String>,
    /// Or one of the business's sender pools (`settings.sender_pools`) by name: the contact
    /// hears from the same number of it every time (replies thread), and each number keeps
    /// its carrier's rate across every run and campaign.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,63}$"))]
    pub pool: Option<String>,
    /// Pictures or files to send as an MMS: public https URLs (templates), at most 10.
    #[serde(default)]
    #[schemars(length(max = 10))]
    pub media: Vec<String>,
}

/// The most media one MMS carries.
const MAX_MEDIA: usize = 10;

pub struct SendSms;

impl StepKind for SendSms {
    const KEY: &'static str = "send_sms";
    const SUMMARY: &'static str = "Send a text message to the contact.";
    const OUTPUTS: &'static [&'static str] = &[
        "status",
        "message_id",
        "to",
        "segments",
        "sandbox",
        "reason",
    ];
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        cx.template("to", config.to.as_deref().unwrap_or("{{contact.phone}}"));
        cx.template_limited("body", &config.body, limits::SMS_BODY);
        if config.from.is_some() && config.pool.is_some() {
            cx.error("pool", "give `from` or `pool`, not both".to_owned());
        }
        if let Some(pool) = &config.pool
            && !crate::audience::fields::is_field_name(pool)
        {
            cx.error(
                "pool",
                format!("\"{pool}\" is not a pool name (a lowercase letter, then lowercase letters, digits or '_')"),
            );
        }
        if let Some(from) = &config.from {
            cx.template("from", from);
        }
        if config.media.len() > MAX_MEDIA {
            cx.error(
                "media",
                format!("at most {MAX_MEDIA} media URLs (a carrier's limit for one MMS)"),
            );
        }
        for (i, url) in config.media.iter().enumerate() {
            if !url.contains("{{") && !url.starts_with("https://") {
                cx.error(
                    &format!("media/{i}"),
                    format!("\"{url}\" is not an https URL"),
                );
            }
            cx.template(&format!("media/{i}"), url);
        }
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let to = cx.render("to")?;
        if to.trim().is_empty() {
            return Err(StepError {
                field: "to".into(),
                message: "the recipient has no phone number".into(),
            });
        }
        let (text, segments) = cx.render_sms("body")?;
        // An empty `from` (a template with nothing to say) means the tenant's sender; a
        // campaign from a sender pool names the contact's number (before the step's `pool`,
        // which the runtime resolves).
        let from = match &config.from {
            Some(_) => Some(cx.render("from")?).filter(|from| !from.trim().is_empty()),
            None => None,
        }
        .or_else(|| cx.campaign_sender());
        let mut media_urls = Vec::new();
        for i in 0..config.media.len() {
            let url = cx.render(&format!("media/{i}"))?;
            if !url.starts_with("https://") {
                return Err(StepError {
                    field: format!("media/{i}"),
                    message: format!("\"{url}\" is not an https URL"),
                });
            }
            media_urls.push(url);
        }
        Ok(StepOutcome::Call(Box::new(ActionDraft {
            request: Request::Sms(SmsSend {
                to: to.clone(),
                from,
                body: text.clone(),
                media_urls,
            }),
            message: Some(OutboundMessage {
                channel: Channel::Sms,
                to,
                subject: None,
                text,
                segments: Some(segments),
            }),
            idempotent: false,
            sender_pool: config.pool.clone(),
        })))
    }
}

#[cfg(test)]
mod tests;
