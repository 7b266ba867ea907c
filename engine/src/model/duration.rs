//! Durations as flow authors write them: `30s`, `15m`, `24h`, `2d`.
//!
//! Seconds, minutes and hours are exact elapsed time. Days are calendar days in the
//! recipient's time zone, so `wait: { for: 1d }` started at 09:00 wakes at 09:00 the next day
//! even across a daylight-saving change (when that day has 23 or 25 hours).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The regular expression the JSON Schema uses for durations.
pub const DURATION_PATTERN: &str = "^[0-9]{1,6}[smhd]$";

/// The unit of a [`FlowDuration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DurationUnit {
    Seconds,
    Minutes,
    Hours,
    Days,
}

/// A duration in a flow document: an amount and a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowDuration {
    pub amount: u32,
    pub unit: DurationUnit,
}

impl FlowDuration {
    pub const fn seconds(amount: u32) -> Self {
        Self {
            amount,
            unit: DurationUnit::Seconds,
        }
    }
    pub const fn minutes(amount: u32) -> Self {
        Self {
            amount,
            unit: DurationUnit::Minutes,
        }
    }
    pub const fn hours(amount: u32) -> Self {
        Self {
            amount,
            unit: DurationUnit::Hours,
        }
    }
    pub const fn days(amount: u32) -> Self {
        Self {
            amount,
            unit: DurationUnit::Days,
        }
    }

    /// Elapsed seconds, counting a day as 24 hours (for ordering and backoff maths only;
    /// waits add days on the calendar, see the module doc).
    pub fn approx_seconds(&self) -> i64 {
        let amount = i64::from(self.amount);
        match self.unit {
            DurationUnit::Seconds => amount,
            DurationUnit::Minutes => amount * 60,
            DurationUnit::Hours => amount * 3_600,
            DurationUnit::Days => amount * 86_400,
        }
    }

    /// This duration as a jiff span: days stay calendar days.
    pub fn to_span(&self) -> jiff::Span {
        let amount = i64::from(self.amount);
        match self.unit {
            DurationUnit::Seconds => jiff::Span::new().seconds(amount),
            DurationUnit::Minutes => jiff::Span::new().minutes(amount),
            DurationUnit::Hours => jiff::Span::new().hours(amount),
            DurationUnit::Days => jiff::Span::new().days(amount),
        }
    }
}

/// Why a string is not a duration, with a suggestion when one can be guessed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{input}\" is not a duration{}", hint.as_ref().map(|h| format!(" (try \"{h}\")")).unwrap_or_else(|| " (write a number and one of s, m, h, d, e.g. \"15m\")".into()))]
pub struct DurationError {
    pub input: String,
    pub hint: Option<String>,
}

impl FromStr for FlowDuration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        // A hint is only given when it is a different, valid duration: never the rejected
        // value again (`1234567d`, too long, would otherwise be "suggested" as itself).
        let fail = || DurationError {
            input: input.to_owned(),
            hint: suggest(input).filter(|h| h != input && h.parse::<FlowDuration>().is_ok()),
        };
        let digits = input.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = input.split_at(digits);
        if number.is_empty() || number.len() > 6 {
            return Err(fail());
        }
        let amount: u32 = number.parse().map_err(|_| fail())?;
        let unit = match unit {
            "s" => DurationUnit::Seconds,
            "m" => DurationUnit::Minutes,
            "h" => DurationUnit::Hours,
            "d" => DurationUnit::Days,
            _ => return Err(fail()),
        };
        Ok(Self { amount, unit })
    }
}

/// Guesses what the author meant by `15 minutes`, `2 Days`, `1.5h` or `90 secs`.
fn suggest(input: &str) -> Option<String> {
    let trimmed = input.trim();
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (number, rest) = trimmed.split_at(digits);
    let word = rest.trim().to_ascii_lowercase();
    let unit = match word.as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "m" | "min" | "mins" | "minute" | "minutes" => "m",
        "h" | "hr" | "hrs" | "hour" | "hours" => "h",
        "d" | "day" | "days" => "d",
        "w" | "wk" | "week" | "weeks" => {
            let days = number.parse::<u32>().ok()?.checked_mul(7)?;
            return Some(format!("{days}d"));
        }
        _ => return None,
    };
    Some(format!("{number}{unit}"))
}

impl fmt::Display for FlowDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            DurationUnit::Seconds => "s",
            DurationUnit::Minutes => "m",
            DurationUnit::Hours => "h",
            DurationUnit::Days => "d",
        };
        write!(f, "{}{unit}", self.amount)
    }
}

impl Serialize for FlowDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FlowDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for FlowDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A number and a unit: s (seconds), m (minutes), h (hours) or d (calendar days), e.g. \"15m\".",
            "examples": ["30s", "15m", "24h", "2d"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!("30s".parse(), Ok(FlowDuration::seconds(30)));
        assert_eq!("15m".parse(), Ok(FlowDuration::minutes(15)));
        assert_eq!("24h".parse(), Ok(FlowDuration::hours(24)));
        assert_eq!("2d".parse(), Ok(FlowDuration::days(2)));
        assert_eq!(FlowDuration::hours(2).approx_seconds(), 7_200);
    }

    #[test]
    fn rejects_prose_with_a_hint() {
        let err = "15 minutes".parse::<FlowDuration>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#""15 minutes" is not a duration (try "15m")"#
        );
        assert_eq!(suggest("2 weeks").as_deref(), Some("14d"));
        let err = "soon".parse::<FlowDuration>().unwrap_err();
        assert!(err.hint.is_none());
        assert!(err.to_string().contains("e.g. \"15m\""));
    }

    #[test]
    fn rejects_out_of_range_and_empty() {
        assert!("".parse::<FlowDuration>().is_err());
        assert!("m".parse::<FlowDuration>().is_err());
        assert!("9999999s".parse::<FlowDuration>().is_err());
        assert!("-5m".parse::<FlowDuration>().is_err());
    }

    #[test]
    fn a_hint_never_repeats_the_rejected_value() {
        for input in ["1234567d", "9999999 s", "999999 weeks"] {
            let err = input.parse::<FlowDuration>().unwrap_err();
            assert!(err.hint.is_none(), "{input}: {:?}", err.hint);
        }
    }
}
