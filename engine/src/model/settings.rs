//! Settings shared by flows and steps: purpose, quiet hours, retry policy and error handling.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::FlowDuration;

/// Why a message is sent, which decides how quiet hours apply.
///
/// Marketing sends always honour quiet hours. Transactional sends (a direct reply to the
/// contact's own message, a booking confirmation) honour them only when the flow sets
/// `quiet_hours` explicitly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Promotional or unsolicited: always held to the recipient's quiet hours.
    #[default]
    Marketing,
    /// Expected by the recipient (a reply, a confirmation): held only if the flow asks.
    Transactional,
}

/// A wall-clock time of day, written `HH:MM` (24-hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockTime(pub jiff::civil::Time);

impl ClockTime {
    pub fn hm(hour: i8, minute: i8) -> Self {
        Self(jiff::civil::time(hour, minute, 0, 0))
    }
}

impl FromStr for ClockTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("\"{s}\" is not a time of day (write HH:MM, e.g. \"08:00\")");
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let hour: i8 = h.parse().map_err(|_| bad())?;
        let minute: i8 = m.parse().map_err(|_| bad())?;
        if !(0..24).contains(&hour) || !(0..60).contains(&minute) {
            return Err(bad());
        }
        Ok(Self::hm(hour, minute))
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for ClockTime {
    fn schema_name() -> Cow<'static, str> {
        "ClockTime".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
            "description": "A time of day, HH:MM (24-hour)."
        })
    }
}

/// The quiet period during which messages to a contact are held, in the contact's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuietWindow {
    /// When the quiet period starts, e.g. "21:00".
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub start: ClockTime,
    /// When it ends and sending may resume, e.g. "08:00".
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub end: ClockTime,
}

impl Default for QuietWindow {
    /// 21:00–08:00: sends only between 08:00 and 21:00 local time (the US TCPA calling hours).
    fn default() -> Self {
        Self {
            start: ClockTime::hm(21, 0),
            end: ClockTime::hm(8, 0),
        }
    }
}

/// `inherit` (the tenant's quiet hours) or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuietHoursKeyword {
    /// Use the tenant's quiet hours.
    Inherit,
    /// Do not hold transactional sends. Marketing sends are held regardless.
    Off,
}

/// A flow's `quiet_hours`: a keyword or an explicit window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum QuietHoursSetting {
    Keyword(QuietHoursKeyword),
    Window(QuietWindow),
}

/// How often and how patiently an action is retried after a retryable error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = never retry).
    #[schemars(range(max = 50))]
    pub max: u32,
    /// Delay before the first retry; each later retry doubles it, with jitter.
    #[serde(default = "default_backoff")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "30s"))]
    pub backoff: FlowDuration,
    /// The longest delay between two attempts.
    #[serde(default = "default_max_backoff")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1h"))]
    pub max_backoff: FlowDuration,
}

fn default_backoff() -> FlowDuration {
    FlowDuration::seconds(30)
}

fn default_max_backoff() -> FlowDuration {
    FlowDuration::hours(1)
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max: 3,
            backoff: default_backoff(),
            max_backoff: default_max_backoff(),
        }
    }
}

/// What a step does when its action fails for good (a permanent error, or retries exhausted).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OnError {
    /// End the run as failed (it is listed as a dead letter and can be retried).
    #[default]
    Fail,
    /// Record the error and go on with the next step.
    Continue,
    /// Record the error and jump to the named step.
    Goto(String),
}

impl FromStr for OnError {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fail" => Ok(Self::Fail),
            "continue" => Ok(Self::Continue),
            _ => match s.strip_prefix("goto ") {
                Some(target) if !target.trim().is_empty() => {
                    Ok(Self::Goto(target.trim().to_owned()))
                }
                _ => Err(format!(
                    "\"{s}\" is not an error policy (use fail, continue or \"goto <step id>\")"
                )),
            },
        }
    }
}

impl fmt::Display for OnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fail => f.write_str("fail"),
            Self::Continue => f.write_str("continue"),
            Self::Goto(step) => write!(f, "goto {step}"),
        }
    }
}

impl Serialize for OnError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OnError {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for OnError {
    fn schema_name() -> Cow<'static, str> {
        "OnError".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(fail|continue|goto [A-Za-z_][A-Za-z0-9_]*)$",
            "description": "fail (default): end the run as failed; continue: go on with the next step; \"goto <step id>\": jump to that step.",
            "examples": ["fail", "continue", "goto notify_owner"]
        })
    }
}

/// What to do with a send found started but not finished after a crash, when the provider
/// cannot de-duplicate it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnUncertain {
    /// Record the send as uncertain, surface it and go on without sending again.
    #[default]
    Flag,
    /// Send again: the contact may receive the message twice.
    Resend,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_time_round_trips_and_rejects_nonsense() {
        assert_eq!(
            "08:05".parse::<ClockTime>().map(|t| t.to_string()),
            Ok("08:05".into())
        );
        assert!("8:05".parse::<ClockTime>().is_err());
        assert!("24:00".parse::<ClockTime>().is_err());
        assert!("12:60".parse::<ClockTime>().is_err());
    }

    #[test]
    fn on_error_parses_goto() {
        assert_eq!("goto alert".parse(), Ok(OnError::Goto("alert".into())));
        assert_eq!("continue".parse(), Ok(OnError::Continue));
        assert!("retry".parse::<OnError>().is_err());
        assert!("goto ".parse::<OnError>().is_err());
    }
}
