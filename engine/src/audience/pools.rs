//! Sender pools (`settings.sender_pools`): a tenant's numbers grouped by name, each with its
//! kind and the rate its carrier allows. A campaign sends from a pool: each contact is given a
//! number in turn and keeps it (replies thread), and no number is sent from faster than its
//! own rate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stepwise_core::DeliveryStatus;

/// The most pools a tenant keeps, and numbers a pool holds.
pub const MAX_POOLS: usize = 20;
pub const MAX_NUMBERS: usize = 50;

/// What kind of number it is, which sets what carriers let it send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum NumberKind {
    /// A 10-digit number: about one message a second.
    LongCode,
    /// A toll-free number: three a second by default.
    TollFree,
    /// A short code: a hundred a second.
    ShortCode,
}

impl NumberKind {
    fn default_per_second(self) -> f64 {
        match self {
            Self::LongCode => 1.0,
            Self::TollFree => 3.0,
            Self::ShortCode => 100.0,
        }
    }
}

/// A number of a pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PoolNumber {
    /// E.164, e.g. `+15125550100`.
    pub number: String,
    pub kind: NumberKind,
    /// Messages a second it may send (default by kind: 1, 3 or 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_second: Option<f64>,
}

/// The share of a number's rate campaigns plan on: a text that waits a moment on a busy
/// worker then goes out beside the next one, and the headroom keeps such a second within the
/// carrier's rate (measured: 22 texts in a second at a planned 20, `stepwise bench campaign`).
pub const PLANNED_SHARE: f64 = 0.9;

/// The pool number `number` of the tenant's pools, if it is one: what paces its texts.
pub fn pool_number<'t>(
    pools: &'t std::collections::BTreeMap<String, Vec<PoolNumber>>,
    number: &str,
) -> Option<&'t PoolNumber> {
    pools.values().flatten().find(|n| n.number == number)
}

impl PoolNumber {
    /// The time between two of its texts a campaign plans on.
    pub fn planned_interval(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs_f64(1.0 / self.planned_per_second())
    }

    /// What the carrier lets it send a second.
    pub fn per_second(&self) -> f64 {
        self.per_second
            .unwrap_or_else(|| self.kind.default_per_second())
    }

    /// What campaigns send from it a second: [`PLANNED_SHARE`] of its rate.
    pub fn planned_per_second(&self) -> f64 {
        self.per_second() * PLANNED_SHARE
    }
}

/// How fast campaigns may send from a pool in all: the sum of its numbers' planned rates.
pub fn capacity(numbers: &[PoolNumber]) -> f64 {
    numbers.iter().map(PoolNumber::planned_per_second).sum()
}

/// Failed reports in a row (newest first) that take a number out of a campaign.
pub const FAIL_STREAK: usize = 5;

/// Error codes about the recipient, not the number (Twilio's unreachable handset, blocked by
/// the recipient, unknown destination, landline, unsubscribed): they say nothing of the
/// sender, so they neither count against it nor break its streak.
const RECIPIENT_CODES: &[&str] = &["30003", "30004", "30005", "30006", "21610"];

/// Whether a number keeps failing, from its latest delivery reports (newest first): the
/// last [`FAIL_STREAK`] final reports about the number were all undelivered or failed.
/// Answers the newest failure's error code (`"unknown"` without one).
pub fn keeps_failing(reports: &[(DeliveryStatus, Option<String>)]) -> Option<String> {
    let mut streak = Vec::new();
    for (status, code) in reports {
        match status {
            DeliveryStatus::Delivered => break,
            DeliveryStatus::Undelivered | DeliveryStatus::Failed => {
                if code
                    .as_deref()
                    .is_some_and(|c| RECIPIENT_CODES.contains(&c))
                {
                    continue;
                }
                streak.push(code.clone().unwrap_or_else(|| "unknown".into()));
                if streak.len() == FAIL_STREAK {
                    return streak.into_iter().next();
                }
            }
            DeliveryStatus::Queued | DeliveryStatus::Sent => {}
        }
    }
    None
}

/// Checks a tenant's pools: named like identifiers, bounded, numbers in E.164 and once each,
/// rates positive.
pub fn check_pools(pools: &BTreeMap<String, Vec<PoolNumber>>) -> Result<(), String> {
    if pools.len() > MAX_POOLS {
        return Err(format!("sender_pools: at most {MAX_POOLS}"));
    }
    for (name, numbers) in pools {
        if !super::fields::is_field_name(name) {
            return Err(format!(
                "sender_pools: \"{name}\" is not a pool name (a lowercase letter, then lowercase letters, digits or '_')"
            ));
        }
        if numbers.is_empty() || numbers.len() > MAX_NUMBERS {
            return Err(format!("sender_pools.{name}: 1 to {MAX_NUMBERS} numbers"));
        }
        for (i, n) in numbers.iter().enumerate() {
            let at = format!("sender_pools.{name}[{i}]");
            let e164 =
                crate::model::e164(&n.number, "US").map_err(|e| format!("{at}.number: {e}"))?;
            if e164 != n.number {
                return Err(format!("{at}.number: write it in E.164 ({e164})"));
            }
            if numbers[..i].iter().any(|m| m.number == n.number) {
                return Err(format!("{at}.number: {} is in the pool twice", n.number));
            }
            if n.per_second
                .is_some_and(|r| !(r.is_finite() && r > 0.0 && r <= 1_000.0))
            {
                return Err(format!("{at}.per_second: above 0, at most 1000"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(n: &str, kind: NumberKind) -> PoolNumber {
        PoolNumber {
            number: n.into(),
            kind,
            per_second: None,
        }
    }

    #[test]
    fn pools_are_checked_and_their_capacity_summed() {
        let pool = vec![
            number("+15125550100", NumberKind::LongCode),
            number("+18005550101", NumberKind::TollFree),
            PoolNumber {
                per_second: Some(30.0),
                ..number("+15125550102", NumberKind::ShortCode)
            },
        ];
        assert!((capacity(&pool) - 34.0 * PLANNED_SHARE).abs() < 1e-9);
        let pools = BTreeMap::from([("main".to_owned(), pool.clone())]);
        assert_eq!(check_pools(&pools), Ok(()));
        let twice = BTreeMap::from([("main".to_owned(), vec![pool[0].clone(), pool[0].clone()])]);
        assert!(check_pools(&twice).unwrap_err().contains("twice"));
        let local = BTreeMap::from([(
            "main".to_owned(),
            vec![number("(512) 555-0100", NumberKind::LongCode)],
        )]);
        assert!(check_pools(&local).unwrap_err().contains("E.164"));
        let empty = BTreeMap::from([("main".to_owned(), vec![])]);
        assert!(check_pools(&empty).is_err());
    }

    #[test]
    fn a_number_keeps_failing_after_a_streak_about_itself() {
        let failed = |code: &str| (DeliveryStatus::Undelivered, Some(code.to_owned()));
        let delivered = (DeliveryStatus::Delivered, None);
        let sent = (DeliveryStatus::Sent, None);
        let streak: Vec<_> = (0..FAIL_STREAK).map(|_| failed("30007")).collect();
        assert_eq!(keeps_failing(&streak), Some("30007".into()));
        // One short of the streak, or a delivery among the newest, keeps it in.
        assert_eq!(keeps_failing(&streak[1..]), None);
        let mut broken = streak.clone();
        broken.insert(2, delivered.clone());
        assert_eq!(keeps_failing(&broken), None);
        // Reports still in flight and failures about the recipient are passed over.
        let mut mixed = vec![sent, failed("30006"), failed("30034")];
        mixed.extend(streak[1..].iter().cloned());
        assert_eq!(keeps_failing(&mixed), Some("30034".into()));
        let recipients: Vec<_> = (0..10).map(|_| failed("30003")).collect();
        assert_eq!(keeps_failing(&recipients), None);
        assert_eq!(
            keeps_failing(&vec![(DeliveryStatus::Failed, None); FAIL_STREAK]),
            Some("unknown".into())
        );
    }
}
