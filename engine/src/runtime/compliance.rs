//! Compliance the engine enforces on every message to a contact, whatever the flow says:
//! opted-out contacts are suppressed (recorded, not errors), and quiet hours hold messages
//! until the recipient's window opens (marketing always; transactional when the flow asks).

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::quiet_hours::next_allowed;
use crate::definition::{CompiledFlow, QuietPolicy};
use crate::model::{Contact, Purpose, Tenant};
use crate::ports::{Channel, OutboundMessage};

/// What may happen to a message now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Send,
    Suppress(String),
    Hold { until: Timestamp, reason: String },
}

/// The zone a contact lives in: their own when valid, else the tenant's, else UTC.
pub fn zone_of(contact: &Contact, tenant: &Tenant) -> (TimeZone, String) {
    if let Some(name) = &contact.timezone
        && let Ok(zone) = TimeZone::get(name)
    {
        return (zone, format!("{name}, the contact's zone"));
    }
    match TimeZone::get(&tenant.timezone) {
        Ok(zone) => (zone, format!("{}, the business's zone", tenant.timezone)),
        Err(_) => (TimeZone::UTC, "UTC".into()),
    }
}

pub fn check(
    flow: &CompiledFlow,
    tenant: &Tenant,
    contact: &Contact,
    purpose: Purpose,
    message: &OutboundMessage,
    now: Timestamp,
) -> Verdict {
    match message.channel {
        Channel::Sms if contact.sms_opt_out => {
            return Verdict::Suppress("the contact opted out of SMS (sms_opt_out)".into());
        }
        Channel::Email if contact.email_opt_out && purpose == Purpose::Marketing => {
            return Verdict::Suppress(
                "the contact unsubscribed from marketing email (email_opt_out)".into(),
            );
        }
        _ => {}
    }
    let window = match flow.quiet_policy(purpose) {
        QuietPolicy::Off => return Verdict::Send,
        QuietPolicy::Tenant => tenant.quiet_hours,
        QuietPolicy::Window(window) => window,
    };
    let (zone, zone_name) = zone_of(contact, tenant);
    let until = next_allowed(now, &zone, &window);
    if until <= now {
        return Verdict::Send;
    }
    let purpose = if purpose == Purpose::Marketing {
        "marketing"
    } else {
        "transactional"
    };
    let reason = format!(
        "quiet hours {}–{} in {zone_name} ({purpose} send)",
        window.start, window.end
    );
    Verdict::Hold { until, reason }
}
