//! What providers tell us, acted on: the one place a verified webhook's facts become events,
//! delivery reports, opt-outs and opt-ins. Sources (in `connectors`) only verify and read;
//! compliance is decided here.
//!
//! - A delivery report moves the message's status forward (never back).
//! - A bounce report about an email the tenant sent to that recipient makes it `undelivered`
//!   and, when the address itself is dead (5.1.x, 5.2.1), suppresses it, then becomes
//!   `email.bounced` for the contact; a report about any other email (or none) changes
//!   nothing.
//! - An inbound message finds its contact by phone, or creates it, and becomes an event of the
//!   contact, de-duplicated by the provider's message id (`source` + `external_id`): a carrier
//!   keyword becomes `contact.opted_out` (the number is suppressed in the event's own commit)
//!   or, for an opted-out number, `contact.opted_in` (the suppression is lifted first: START,
//!   YES and UNSTOP from anyone else are ordinary answers); HELP is answered with the
//!   tenant's help text (and, when HELP is one of the tenant's takeover keywords, also kept
//!   as a message that asks for a person); anything else is `message.received`, which starts
//!   and resumes flows (`wait_for: message.received`).

pub mod contacts;
pub mod identity;
pub mod keywords;

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};
use stepwise_core::{Bounce, InboundFact, InboundMessage};

use crate::error::EngineError;
use crate::model::{Contact, Event};
use crate::ports::{AuditEntry, Channel, Delivery, EdgeStore, Listings};
use crate::runtime::{Engine, IngestOutcome};
use keywords::Keyword;

/// The inbound service.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub engine: Arc<Engine>,
    pub edge: Arc<dyn EdgeStore>,
    pub listings: Arc<dyn Listings>,
}

/// What one webhook's facts did.
#[derive(Debug, Default, Serialize)]
pub struct Received {
    /// The events stored (or found stored: `duplicate`) and the runs they moved.
    pub events: Vec<IngestOutcome>,
    /// Delivery reports that moved a message forward.
    pub statuses: usize,
    /// Bounce reports about an email the tenant sent to that recipient.
    pub bounces: usize,
    /// Text to answer the sender with (HELP), if the provider can reply in its answer.
    #[serde(skip)]
    pub reply: Option<String>,
}

/// The help text when the tenant set none.
fn default_help(business: &str) -> String {
    format!("{business}: reply STOP to stop messages, START to get them again.")
}

impl Inbound {
    /// Acts on the facts of one verified webhook from `source` for the tenant.
    pub async fn receive(
        &self,
        tenant_id: &str,
        source: &str,
        facts: Vec<InboundFact>,
    ) -> Result<Received, EngineError> {
        let mut received = Received::default();
        for fact in facts {
            match fact {
                InboundFact::Status(update) => {
                    let report = Delivery {
                        provider_id: update.provider_id,
                        status: update.status,
                        error_code: update.error_code,
                        at: self.engine.clock.now(),
                    };
                    if self.edge.record_delivery(tenant_id, &report).await? {
                        received.statuses += 1;
                    }
                }
                InboundFact::Bounce(bounce) => {
                    self.bounce(tenant_id, source, bounce, &mut received)
                        .await?;
                }
                InboundFact::Message(message) => {
                    self.message(tenant_id, source, message, &mut received)
                        .await?;
                }
                InboundFact::Event {
                    id,
                    event_type,
                    contact,
                    data,
                } => {
                    let given = contacts::given_contact(contact)?;
                    let mut event = Event::new(event_type, data);
                    event.source = source.to_owned();
                    event.external_id = Some(id);
                    let (_, outcome) = self.ingest_resolved(tenant_id, given, |c| c, event).await?;
                    received.events.push(outcome);
                }
            }
        }
        Ok(received)
    }

    /// A bounce report: the email marked, a dead address suppressed, and `email.bounced` for
    /// the contact; nothing when the tenant sent no such email to that recipient.
    async fn bounce(
        &self,
        tenant_id: &str,
        source: &str,
        bounce: Bounce,
        received: &mut Received,
    ) -> Result<(), EngineError> {
        let audit = AuditEntry::now(
            "bounce report",
            None,
            "suppression.add",
            &format!("suppression:email:{}", bounce.recipient),
            json!({ "reason": "bounce", "status": bounce.status,
                    "message_id": bounce.provider_id }),
        );
        let dead = bounce.address_is_dead();
        let at = self.engine.clock.now();
        let Some(contact_id) = self
            .edge
            .record_bounce(tenant_id, &bounce, dead.then_some(&audit), at)
            .await?
        else {
            return Ok(());
        };
        received.bounces += 1;
        // Flows may act on it (tell the team, text instead); once per email and recipient,
        // however often the report is posted.
        let data = json!({ "address": bounce.recipient, "status": bounce.status,
            "message_id": bounce.provider_id, "suppressed": dead });
        let mut event = Event::new("email.bounced", data);
        event.source = source.to_owned();
        event.external_id = Some(format!("{}:{}", bounce.provider_id, bounce.recipient));
        let outcome = self.engine.ingest(tenant_id, &contact_id, event).await?;
        received.events.push(outcome);
        Ok(())
    }

    async fn message(
        &self,
        tenant_id: &str,
        source: &str,
        message: InboundMessage,
        received: &mut Received,
    ) -> Result<(), EngineError> {
        let tenant = self.engine.tenant(tenant_id).await?;
        let keyword = keywords::classify(&message.body, message.opt_out_type.as_deref());
        let channel = Channel::parse(message.channel).unwrap_or(Channel::Sms);
        let mut from = Contact {
            phone: Some(message.from.clone()),
            ..Contact::default()
        };
        from.normalise(&tenant.country)
            .map_err(EngineError::InvalidInput)?;
        let address = from.phone.clone().unwrap_or_default();
        let mut data = json!({
            "channel": channel.as_str(), "from": address, "to": message.to, "body": message.body,
            "media": message.media, "message_id": message.provider_id,
        });
        let (event_type, opt_out) = match keyword {
            Some(Keyword::OptOut) => ("contact.opted_out", Some(true)),
            Some(Keyword::OptIn) => {
                let audit = AuditEntry::now(
                    "contact",
                    None,
                    "suppression.lift",
                    &format!("{}:{address}", channel.as_str()),
                    json!({ "by": "the contact's own message", "message_id": message.provider_id }),
                );
                // "Yes" to a question is an answer, unless the number was opted out.
                if self
                    .edge
                    .lift_suppression(tenant_id, channel, &address, &audit)
                    .await?
                {
                    ("contact.opted_in", Some(false))
                } else {
                    ("message.received", None)
                }
            }
            Some(Keyword::Help) => {
                let advanced = tenant
                    .providers
                    .get("sms")
                    .and_then(|p| p.options.get("advanced_opt_out"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if !advanced {
                    received.reply = Some(
                        tenant
                            .help_text
                            .clone()
                            .unwrap_or_else(|| default_help(&tenant.name)),
                    );
                }
                // HELP is answered as carriers require; where it is also a takeover keyword
                // it asks for a person too, and is kept as the contact's message. Otherwise
                // it is recorded as `help.requested`, which no reply wait takes for an answer.
                // Either way the event keeps the answer (none where the provider answers
                // itself), which the conversation's thread shows.
                if let Some(answer) = &received.reply {
                    data["answer"] = json!(answer);
                }
                if tenant.takeover.asks_for_a_person(&message.body) {
                    ("message.received", None)
                } else {
                    ("help.requested", None)
                }
            }
            None => ("message.received", None),
        };
        let mut event = Event::new(event_type, data);
        event.source = source.to_owned();
        event.external_id = Some(message.provider_id);
        let (_, outcome) = self
            .ingest_resolved(
                tenant_id,
                from,
                |mut c| {
                    if let Some(out) = opt_out {
                        c.sms_opt_out = out;
                    }
                    c
                },
                event,
            )
            .await?;
        received.events.push(outcome);
        Ok(())
    }
}
