//! Compliance the engine enforces on every message to a contact, whatever the flow says:
//! opted-out contacts are suppressed (recorded, not errors), and quiet hours hold messages
//! until the recipient's window opens (marketing always; transactional when the flow asks),
//! and a send the tenant's plan no longer allows is refused (`quota_exceeded`, see
//! [`crate::usage`]).

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::quiet_hours::next_open;
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
    match consent_and_hours(flow, tenant, contact, purpose, message, now) {
        // Last, so that a send held for the night is measured against the plan when it goes.
        Verdict::Send => {
            let transactional = purpose == Purpose::Transactional;
            match crate::usage::refused(&tenant.quota, message.channel, transactional) {
                Some(reason) => Verdict::Suppress(reason),
                None => Verdict::Send,
            }
        }
        other => other,
    }
}

fn consent_and_hours(
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
    // The business's closed days hold marketing only: a reminder or a receipt still goes.
    let closed: &[jiff::civil::Date] = if purpose == Purpose::Marketing {
        &tenant.holidays
    } else {
        &[]
    };
    let until = next_open(now, &zone, &window, closed);
    if until <= now {
        return Verdict::Send;
    }
    let today = now.to_zoned(zone.clone()).date();
    if closed.contains(&today) {
        return Verdict::Hold {
            until,
            reason: format!("{today} is a holiday of the business in {zone_name} (marketing send)"),
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ana;

    fn flow() -> CompiledFlow {
        let source = "id: f\ntrigger: {event: lead.created}\nsteps:\n  - send_sms: {body: hi}\n";
        crate::definition::load_flow("f.yaml", source, None)
            .unwrap()
            .0
    }

    #[test]
    fn a_holiday_holds_marketing_and_lets_transactional_go() {
        let tenant = Tenant {
            timezone: "America/Chicago".into(),
            holidays: vec!["2026-12-25".parse().unwrap()],
            ..Tenant::default()
        };
        let message = OutboundMessage {
            channel: Channel::Sms,
            to: "+15125550100".into(),
            subject: None,
            text: "hi".into(),
            segments: None,
        };
        let noon: Timestamp = "2026-12-25T18:00:00Z".parse().unwrap(); // 12:00 CST
        let flow = flow();
        let verdict = check(&flow, &tenant, &ana(), Purpose::Marketing, &message, noon);
        let Verdict::Hold { until, reason } = verdict else {
            panic!("{verdict:?}")
        };
        assert_eq!(until, "2026-12-26T14:00:00Z".parse::<Timestamp>().unwrap());
        assert!(reason.contains("2026-12-25 is a holiday"), "{reason}");
        let transactional = check(
            &flow,
            &tenant,
            &ana(),
            Purpose::Transactional,
            &message,
            noon,
        );
        assert_eq!(transactional, Verdict::Send);
    }
}
