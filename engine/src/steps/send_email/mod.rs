//! `send_email`: an email to the contact (or another address).

use schemars::JsonSchema;
use serde::Deserialize;
use stepwise_core::EmailSend;

use crate::ports::{Channel, OutboundMessage, Request};
use crate::steps::{ActionDraft, CheckCx, StepCx, StepError, StepKind, StepOutcome};
use crate::template::limits;

/// Send an email. Contacts who unsubscribed get no marketing email.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "SendEmailConfig")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Recipient address (template); defaults to `{{contact.email}}`.
    #[serde(default)]
    #[schemars(with = "String")]
    pub to: Option<String>,
    /// Subject line (template).
    #[schemars(length(min = 1))]
    pub subject: String,
    /// Plain-text body (template).
    #[schemars(length(min = 1))]
    pub body: String,
    /// Reply-To address (template).
    #[serde(default)]
    #[schemars(with = "String")]
    pub reply_to: Option<String>,
    /// An HTML body (template), sent beside `body` (multipart/alternative) for mail readers
    /// that show HTML. Every value it shows is HTML-escaped; its own markup is kept.
    #[serde(default)]
    #[schemars(with = "String", length(min = 1))]
    pub html: Option<String>,
}

pub struct SendEmail;

impl StepKind for SendEmail {
    const KEY: &'static str = "send_email";
    const SUMMARY: &'static str = "Send an email to the contact.";
    const OUTPUTS: &'static [&'static str] = &["status", "message_id", "to", "sandbox", "reason"];
    type Config = Config;

    fn check(config: &Config, cx: &mut CheckCx<'_>) {
        cx.template("to", config.to.as_deref().unwrap_or("{{contact.email}}"));
        cx.template_limited("subject", &config.subject, limits::EMAIL_SUBJECT);
        cx.template_limited("body", &config.body, limits::EMAIL_BODY);
        if let Some(reply_to) = &config.reply_to {
            cx.template("reply_to", reply_to);
        }
        if let Some(html) = &config.html {
            cx.template_limited("html", html, limits::EMAIL_BODY);
        }
    }

    fn plan(config: &Config, cx: &mut StepCx<'_>) -> Result<StepOutcome, StepError> {
        let to = cx.render("to")?;
        if !to.contains('@') {
            return Err(StepError {
                field: "to".into(),
                message: format!("\"{to}\" is not an email address"),
            });
        }
        let subject = cx.render("subject")?;
        let text = cx.render("body")?;
        let reply_to = config
            .reply_to
            .as_ref()
            .map(|_| cx.render("reply_to"))
            .transpose()?;
        let html = config
            .html
            .as_ref()
            .map(|_| cx.render_html("html"))
            .transpose()?;
        Ok(StepOutcome::Call(Box::new(ActionDraft {
            request: Request::Email(EmailSend {
                to: to.clone(),
                from: None,
                reply_to,
                subject: subject.clone(),
                body: text.clone(),
                html,
                // Set by the runtime, which knows the step's purpose.
                marketing: false,
                postal_address: None,
            }),
            message: Some(OutboundMessage {
                channel: Channel::Email,
                to,
                subject: Some(subject),
                text,
                segments: None,
            }),
            idempotent: false,
            sender_pool: None,
        })))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::ports::Request;
    use crate::steps::StepOutcome;
    use crate::testing::{ana, plan_step_for};

    #[test]
    fn the_html_body_escapes_values_and_the_text_body_does_not() {
        let mut contact = ana();
        contact.first_name = Some("<b>Ana</b> & co".into());
        let step = json!({"send_email": {"subject": "Hi", "body": "Hi {{contact.first_name}}",
            "html": "<p>Hi <em>{{contact.first_name}}</em></p>"}});
        let Ok(StepOutcome::Call(draft)) = plan_step_for(step, contact) else {
            panic!("not a call")
        };
        let Request::Email(email) = draft.request else {
            panic!("not an email")
        };
        assert_eq!(email.body, "Hi <b>Ana</b> & co");
        assert_eq!(
            email.html.as_deref(),
            Some("<p>Hi <em>&lt;b&gt;Ana&lt;/b&gt; &amp; co</em></p>")
        );
    }
}
