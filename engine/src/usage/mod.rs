//! Usage and plans: what a business used (messages and SMS segments by channel, per day and
//! month of its own time zone; contacts; active runs) and the limits of its plan, which the
//! operator defines.
//!
//! A plan caps SMS segments and emails a month, contacts and active runs. Crossing 80 % and
//! 100 % of any cap gives the tenant a notice once a month (an audit entry and an alert to the
//! owner). At 100 % of a message cap, automated sends on that channel are refused, each one
//! recorded as suppressed with the code `quota_exceeded`; replies by hand and transactional
//! flows go on while the plan exempts them (`exempt_transactional`, the default), and opt-out
//! handling never stops. Contacts and active runs are reported and noticed, not refused.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// What a plan caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// SMS segments sent this month (a long text is several).
    SmsSegments,
    /// Emails sent this month.
    Emails,
    /// Contacts kept now.
    Contacts,
    /// Runs not yet ended now.
    ActiveRuns,
    /// Language-model tokens this month (prompt and answer).
    AiTokens,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::SmsSegments,
        Metric::Emails,
        Metric::Contacts,
        Metric::ActiveRuns,
        Metric::AiTokens,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::SmsSegments => "sms_segments",
            Metric::Emails => "emails",
            Metric::Contacts => "contacts",
            Metric::ActiveRuns => "active_runs",
            Metric::AiTokens => "ai_tokens",
        }
    }

    /// What the notice calls it.
    fn describe(self) -> &'static str {
        match self {
            Metric::SmsSegments => "SMS segments this month",
            Metric::Emails => "emails this month",
            Metric::Contacts => "contacts",
            Metric::ActiveRuns => "active runs",
            Metric::AiTokens => "AI tokens this month",
        }
    }
}

/// A plan's caps (`None`: no cap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    #[serde(default)]
    pub sms_segments: Option<u64>,
    #[serde(default)]
    pub emails: Option<u64>,
    #[serde(default)]
    pub contacts: Option<u64>,
    #[serde(default)]
    pub active_runs: Option<u64>,
    #[serde(default)]
    pub ai_tokens: Option<u64>,
    /// Transactional flows and replies by hand still send at 100 %.
    #[serde(default = "yes")]
    pub exempt_transactional: bool,
}

fn yes() -> bool {
    true
}

impl Plan {
    pub fn limit(&self, metric: Metric) -> Option<u64> {
        match metric {
            Metric::SmsSegments => self.sms_segments,
            Metric::Emails => self.emails,
            Metric::Contacts => self.contacts,
            Metric::ActiveRuns => self.active_runs,
            Metric::AiTokens => self.ai_tokens,
        }
    }

    pub fn is_limited(&self) -> bool {
        Metric::ALL.iter().any(|m| self.limit(*m).is_some())
    }
}

/// The operator's plans: `--plans plans.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plans {
    /// The plan of a tenant that names none.
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub plans: BTreeMap<String, Plan>,
}

impl Plans {
    /// Reads and checks a plans file (YAML or JSON).
    pub fn parse(text: &str) -> Result<Plans, String> {
        let plans: Plans = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        if let Some(default) = &plans.default
            && !plans.plans.contains_key(default)
        {
            return Err(format!(
                "the default plan \"{default}\" is not among the plans"
            ));
        }
        Ok(plans)
    }

    /// The plan a tenant is on: its own, else the default; `None`: no limits.
    pub fn of(&self, plan: Option<&str>) -> Option<(&str, &Plan)> {
        let name = plan.or(self.default.as_deref())?;
        self.plans.get_key_value(name).map(|(k, v)| (k.as_str(), v))
    }

    /// Checks that a tenant may be put on `plan`.
    pub fn check(&self, plan: &str) -> Result<(), String> {
        if self.plans.contains_key(plan) {
            Ok(())
        } else {
            let known: Vec<&str> = self.plans.keys().map(String::as_str).collect();
            Err(format!(
                "no plan \"{plan}\" (the operator's plans: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ))
        }
    }
}

/// What a tenant used, at `at`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Used {
    pub values: BTreeMap<Metric, u64>,
}

impl Used {
    pub fn get(&self, metric: Metric) -> u64 {
        self.values.get(&metric).copied().unwrap_or(0)
    }
}

/// The notice levels, in percent of a cap.
pub const LEVELS: [u8; 2] = [80, 100];

/// A crossing to tell the tenant about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// `2026-12`: the month it is about.
    pub period: String,
    pub metric: Metric,
    pub level: u8,
    pub used: u64,
    pub quota: u64,
}

impl Notice {
    pub fn text(&self, tenant_name: &str) -> String {
        let state = if self.level >= 100 {
            match self.metric {
                Metric::SmsSegments | Metric::Emails => {
                    "; automated sends on this channel are refused until next month or a larger plan"
                }
                Metric::AiTokens => {
                    "; AI steps fail (and flows take their fallback) until next month or a larger plan"
                }
                _ => "",
            }
        } else {
            ""
        };
        format!(
            "{tenant_name}: {}% of the plan's {} {} used ({}){state}.",
            self.level,
            self.quota,
            self.metric.describe(),
            self.used
        )
    }
}

/// `2026-12` for `at` in `zone` (the business's).
pub fn month_of(at: Timestamp, zone: &TimeZone) -> String {
    let date = at.to_zoned(zone.clone()).date();
    format!("{:04}-{:02}", date.year(), date.month())
}

/// The first instant of `at`'s month in `zone`.
pub fn month_start(at: Timestamp, zone: &TimeZone) -> Timestamp {
    let date = at.to_zoned(zone.clone()).date();
    date.first_of_month()
        .to_zoned(zone.clone())
        .map_or(at, |z| z.timestamp())
}

/// The business's zone (its settings hold an IANA name; UTC if that ever fails to load).
pub fn zone_of(tenant: &crate::model::Tenant) -> TimeZone {
    TimeZone::get(&tenant.timezone).unwrap_or(TimeZone::UTC)
}

/// The levels of `plan` that `used` has reached, for `at`'s month.
pub fn reached(plan: &Plan, used: &Used, at: Timestamp, zone: &TimeZone) -> Vec<Notice> {
    let period = month_of(at, zone);
    let mut out = Vec::new();
    for metric in Metric::ALL {
        let Some(quota) = plan.limit(metric) else {
            continue;
        };
        let value = used.get(metric);
        for level in LEVELS {
            if value.saturating_mul(100) >= quota.saturating_mul(u64::from(level)) {
                out.push(Notice {
                    period: period.clone(),
                    metric,
                    level,
                    used: value,
                    quota,
                });
            }
        }
    }
    out
}

/// Which sends a tenant's plan refuses now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quota {
    pub sms_full: bool,
    pub email_full: bool,
    pub ai_full: bool,
    pub exempt_transactional: bool,
}

impl Quota {
    pub fn of(plan: &Plan, used: &Used) -> Quota {
        let full = |m: Metric| plan.limit(m).is_some_and(|cap| used.get(m) >= cap);
        Quota {
            sms_full: full(Metric::SmsSegments),
            email_full: full(Metric::Emails),
            ai_full: full(Metric::AiTokens),
            exempt_transactional: plan.exempt_transactional,
        }
    }
}

/// Why `quota` refuses a send on `channel` now (the reason starts with its code,
/// `quota_exceeded`); `None`: it goes.
pub fn refused(
    quota: &Quota,
    channel: crate::ports::Channel,
    transactional: bool,
) -> Option<String> {
    use crate::ports::Channel;
    let full = match channel {
        Channel::Sms => quota.sms_full,
        Channel::Email => quota.email_full,
    };
    if !full || (transactional && quota.exempt_transactional) {
        return None;
    }
    let what = match channel {
        Channel::Sms => "SMS segments",
        Channel::Email => "emails",
    };
    Some(format!(
        "quota_exceeded: the plan's {what} for this month are used (GET /v1/usage)"
    ))
}

/// Why `quota` refuses a language-model call now (`quota_exceeded`); `None`: it goes. Model
/// calls are not sends: the plan's transactional exemption does not cover them, and a step
/// refused fails, so the flow takes its fallback (a template instead of a drafted reply).
pub fn refused_llm(quota: &Quota) -> Option<String> {
    quota.ai_full.then(|| {
        "quota_exceeded: the plan's AI tokens for this month are used (GET /v1/usage)".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            sms_segments: Some(100),
            emails: None,
            contacts: Some(10),
            active_runs: None,
            ai_tokens: None,
            exempt_transactional: true,
        }
    }

    #[test]
    fn levels_are_reached_at_80_and_100_percent() {
        let at: Timestamp = "2026-12-31T23:59:00Z".parse().unwrap();
        let used = |sms, contacts| Used {
            values: BTreeMap::from([(Metric::SmsSegments, sms), (Metric::Contacts, contacts)]),
        };
        assert!(reached(&plan(), &used(79, 7), at, &TimeZone::UTC).is_empty());
        let found = reached(&plan(), &used(80, 10), at, &TimeZone::UTC);
        let levels: Vec<(Metric, u8)> = found.iter().map(|n| (n.metric, n.level)).collect();
        assert_eq!(
            levels,
            [
                (Metric::SmsSegments, 80),
                (Metric::Contacts, 80),
                (Metric::Contacts, 100)
            ]
        );
        assert_eq!(found[0].period, "2026-12");
        assert!(!Quota::of(&plan(), &used(99, 0)).sms_full);
        assert!(Quota::of(&plan(), &used(100, 0)).sms_full);
        assert!(
            !Quota::of(&plan(), &used(100, 0)).email_full,
            "no email cap"
        );
    }

    #[test]
    fn a_plans_file_names_its_default() {
        let plans =
            Plans::parse("default: starter\nplans:\n  starter: {sms_segments: 2000}\n").unwrap();
        assert_eq!(plans.of(None).map(|(n, _)| n), Some("starter"));
        assert!(plans.of(Some("starter")).unwrap().1.exempt_transactional);
        assert!(
            Plans::parse("default: pro\nplans: {}\n")
                .unwrap_err()
                .contains("pro")
        );
        assert!(
            Plans::parse("plans: {x: {sms: 1}}\n").is_err(),
            "unknown cap"
        );
        assert!(plans.check("gold").unwrap_err().contains("starter"));
        assert_eq!(
            month_start("2026-12-02T20:00:00Z".parse().unwrap(), &TimeZone::UTC),
            "2026-12-01T00:00:00Z".parse::<Timestamp>().unwrap()
        );
        // 02:00 UTC on December 1st is still November in Chicago.
        let chicago = TimeZone::get("America/Chicago").unwrap();
        let t: Timestamp = "2026-12-01T02:00:00Z".parse().unwrap();
        assert_eq!(month_of(t, &chicago), "2026-11");
        assert_eq!(
            month_start(t, &chicago),
            "2026-11-01T05:00:00Z".parse::<Timestamp>().unwrap()
        );
    }
}
