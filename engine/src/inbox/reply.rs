//! A staff member's reply from the inbox, sent through the same path as a flow's message: a
//! run of a built-in flow ([`crate::runtime::builtin`]) for the contact, so consent, quiet
//! hours, retries, the outbox, delivery reports and crash safety are the same. The text is a
//! template (`{{contact.first_name}}`, the tenant's snippets), rendered when the reply is
//! asked for, so a mistake is answered at once; the run sends what was rendered.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;

use crate::error::EngineError;
use crate::model::{Contact, Event, Purpose, RunId, Tenant};
use crate::ports::{Channel, OutboundMessage};
use crate::runtime::builtin::{self, INBOX_REPLY, INBOX_REPLY_ANYTIME};
use crate::runtime::compliance::{self, Verdict};
use crate::runtime::{Engine, IngestOutcome, run_id_for};
use crate::template::{Templates, limits};

/// The type of the event a reply's run starts on.
pub const REPLY_EVENT: &str = "inbox.reply";

/// A reply to send.
#[derive(Debug, Clone)]
pub struct Reply {
    pub contact_id: String,
    pub conversation_id: String,
    pub channel: Channel,
    /// A template.
    pub text: String,
    /// An email's subject (a template); default "A message from <business>".
    pub subject: Option<String>,
    /// The member who replies, if the key is a member's.
    pub member_id: Option<String>,
    /// Send during quiet hours (a transactional answer the member vouches for).
    pub anytime: bool,
    /// The number the contact knows (their conversation's); `None`: the tenant's sender.
    pub sender: Option<String>,
    /// Makes a repeated request harmless: the same key names the same run.
    pub key: String,
}

/// Where a reply stands when it is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReplyStatus {
    /// Going out now.
    Sending,
    /// Held by quiet hours until `held_until`.
    Held,
}

/// An accepted reply.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Replied {
    /// The run that sends it (its timeline and outbox entry tell the rest).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub run_id: RunId,
    /// The text as it is sent.
    pub text: String,
    pub status: ReplyStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub held_until: Option<Timestamp>,
    /// Why it is held.
    pub reason: Option<String>,
    /// The same key was used before: nothing new was sent.
    pub duplicate: bool,
}

/// Renders `source` (field `field`, at most `limit`) for the contact, with the snippets.
fn render(
    tenant: &Tenant,
    contact: &Contact,
    field: &str,
    source: &str,
    limit: limits::Limit,
) -> Result<String, EngineError> {
    let contact = serde_json::to_value(contact).unwrap_or_default();
    render_for(tenant, &contact, field, source, limit)
}

/// [`render`] with the contact's values as JSON.
pub(super) fn render_for(
    tenant: &Tenant,
    contact: &serde_json::Value,
    field: &str,
    source: &str,
    limit: limits::Limit,
) -> Result<String, EngineError> {
    let bad = |e: crate::template::TemplateError| {
        let at = e
            .position
            .map(|(line, col)| format!(" (line {line}, column {col})"))
            .unwrap_or_default();
        EngineError::InvalidInput(format!("{field}: {}{at}", e.message))
    };
    let mut templates = Templates::new(&tenant.snippets)
        .map_err(|(snippet, e)| EngineError::InvalidInput(format!("snippet {snippet}: {e}")))?;
    templates.add_limited(field, source, limit).map_err(bad)?;
    let data = json!({
        "contact": contact,
        "tenant": { "id": tenant.id, "name": tenant.name, "timezone": tenant.timezone },
    });
    let text = templates.render(field, &data).map_err(bad)?;
    if text.trim().is_empty() {
        return Err(EngineError::InvalidInput(format!(
            "{field}: it renders empty"
        )));
    }
    Ok(text)
}

impl Engine {
    /// Sends `reply` to its contact: starts its run and answers whether it goes now or is
    /// held by quiet hours. A contact who opted out of SMS gets no text (409), whoever asks.
    pub async fn reply(&self, tenant_id: &str, reply: Reply) -> Result<Replied, EngineError> {
        let tenant = self.tenant(tenant_id).await?;
        let contact = self.store.contact(tenant_id, &reply.contact_id).await?;
        let contact = self.store.with_suppressions(tenant_id, contact).await?;
        let to = match reply.channel {
            Channel::Sms => contact.phone.clone(),
            Channel::Email => contact.email.clone(),
        };
        let Some(to) = to else {
            return Err(EngineError::WrongState(format!(
                "the contact has no {} address",
                reply.channel.as_str()
            )));
        };
        if reply.channel == Channel::Sms && contact.sms_opt_out {
            return Err(EngineError::WrongState(
                "the contact opted out of SMS (they texted STOP): no text can be sent until they text START".into(),
            ));
        }
        // A reply is transactional: refused only on a plan that exempts nothing at its cap.
        if let Some(reason) = crate::usage::refused(&tenant.quota, reply.channel, true) {
            return Err(EngineError::QuotaExceeded(reason));
        }
        let (text, subject) = match reply.channel {
            Channel::Sms => (
                render(&tenant, &contact, "text", &reply.text, limits::SMS_BODY)?,
                None,
            ),
            Channel::Email => {
                let subject = reply
                    .subject
                    .clone()
                    .unwrap_or_else(|| format!("A message from {}", tenant.name));
                (
                    render(&tenant, &contact, "text", &reply.text, limits::EMAIL_BODY)?,
                    Some(render(
                        &tenant,
                        &contact,
                        "subject",
                        &subject,
                        limits::EMAIL_SUBJECT,
                    )?),
                )
            }
        };
        let flow_id = if reply.anytime {
            INBOX_REPLY_ANYTIME
        } else {
            INBOX_REPLY
        };
        let d = builtin::deployment(tenant_id, flow_id)
            .ok_or_else(|| EngineError::NotFound(format!("flow {flow_id}")))?;
        let run_id = run_id_for(tenant_id, "inbox", &reply.key, flow_id);
        let now = self.clock.now();
        let message = OutboundMessage {
            channel: reply.channel,
            to,
            subject: subject.clone(),
            text: text.clone(),
            segments: None,
        };
        let (held_until, reason) = match compliance::check(
            &d.flow,
            &tenant,
            &contact,
            Purpose::Transactional,
            &message,
            now,
        ) {
            Verdict::Hold { until, reason } => (Some(until), Some(reason)),
            Verdict::Send | Verdict::Suppress(_) => (None, None),
        };
        let status = if held_until.is_some() {
            ReplyStatus::Held
        } else {
            ReplyStatus::Sending
        };
        let replied = |duplicate| Replied {
            run_id,
            text: text.clone(),
            status,
            held_until,
            reason: reason.clone(),
            duplicate,
        };
        if self.store.run(tenant_id, run_id).await.is_ok() {
            return Ok(replied(true));
        }
        let data = json!({
            "channel": reply.channel.as_str(),
            "conversation_id": reply.conversation_id,
            "text": text,
            "subject": subject,
            "sender": reply.sender,
            "member_id": reply.member_id,
            "quiet_hours_override": reply.anytime,
        });
        let mut event = Event::new(REPLY_EVENT, data);
        event.source = "inbox".into();
        event.external_id = Some(reply.key.clone());
        let mut outcome = IngestOutcome::default();
        if let Some(task) = self
            .start_at(&d, &tenant, &contact, &event, run_id, None, &mut outcome)
            .await?
        {
            self.queue.schedule(task, now).await?;
        }
        tracing::info!(%tenant_id, run_id = %run_id, channel = reply.channel.as_str(),
            member_id = reply.member_id.as_deref().unwrap_or("-"), anytime = reply.anytime, "reply from the inbox");
        Ok(replied(false))
    }
}
