//! Alerts to the business's own people by SMS or email: `providers.notify` set to a provider
//! that messages people (Twilio, SMTP) with the owner's and the team's addresses. Slack posts to
//! a channel instead and needs none of this.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use stepwise_core::{ConnectorError, NotifyAudience};

/// The most people one alert goes to: a small business's team, and a bound on what one step
/// can send.
pub const MAX_TEAM: usize = 10;

/// Who gets alerts, in a provider's `notify` options: `owner: "+15125550100"`,
/// `team: ["+15125550101", …]` (numbers for Twilio, addresses for SMTP).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Staff {
    /// Where `channel: owner` alerts go.
    #[serde(default)]
    pub owner: Option<String>,
    /// Where `channel: team` (and `slack`) alerts go; none: the owner.
    #[serde(default)]
    pub team: Vec<String>,
}

impl Staff {
    /// Takes `owner` and `team` out of a provider's `notify` options, leaving the provider's
    /// own (which it reads as for its other capability).
    pub fn split(options: &Map<String, Value>) -> Result<(Staff, Map<String, Value>), String> {
        let mut rest = options.clone();
        let mut own = Map::new();
        for key in ["owner", "team"] {
            if let Some(value) = rest.remove(key) {
                own.insert(key.to_owned(), value);
            }
        }
        let staff = serde_json::from_value(Value::Object(own)).map_err(|e| e.to_string())?;
        Ok((staff, rest))
    }

    /// Checks a `notify` setting (who gets alerts, with `valid`) and answers the provider's own
    /// options from the rest of it, for the settings check.
    pub fn checked_options<T: DeserializeOwned>(
        map: &Map<String, Value>,
        valid: impl Fn(&str) -> Result<(), String>,
    ) -> Result<T, String> {
        let (staff, rest) = Staff::split(map)?;
        staff.check(valid)?;
        crate::provider::options(&rest)
    }

    /// Who gets alerts and the provider's own options, from a `notify` setting, for a call:
    /// bad options fail the step permanently.
    pub fn call_options<T: DeserializeOwned>(
        provider: &str,
        map: &Map<String, Value>,
    ) -> Result<(Staff, T), ConnectorError> {
        let (staff, rest) = Staff::split(map)
            .map_err(|e| ConnectorError::permanent("provider_settings", format!("notify: {e}")))?;
        Ok((staff, crate::provider::call_options(provider, &rest)?))
    }

    /// Checks the options of a `notify` setting; `valid` checks one address, answering what is
    /// wrong with it.
    pub fn check(&self, valid: impl Fn(&str) -> Result<(), String>) -> Result<(), String> {
        let owner = self
            .owner
            .as_deref()
            .ok_or("for notify, set owner: where the owner's alerts go")?;
        valid(owner).map_err(|e| format!("owner: {e}"))?;
        if self.team.len() > MAX_TEAM {
            return Err(format!("team: at most {MAX_TEAM} people"));
        }
        for member in &self.team {
            valid(member).map_err(|e| format!("team: {e}"))?;
        }
        Ok(())
    }

    /// Who an alert for `audience` goes to.
    pub fn recipients(&self, audience: NotifyAudience) -> Result<Vec<&str>, ConnectorError> {
        let owner = self.owner.as_deref().ok_or_else(|| {
            ConnectorError::permanent(
                "provider_settings",
                "notify needs owner in providers.notify: where the owner's alerts go",
            )
        })?;
        Ok(match audience {
            NotifyAudience::Owner => vec![owner],
            NotifyAudience::Team | NotifyAudience::Slack if !self.team.is_empty() => {
                self.team.iter().map(String::as_str).collect()
            }
            NotifyAudience::Team | NotifyAudience::Slack => vec![owner],
        })
    }
}

/// `text` cut to at most `max` characters, ending with `…` when cut.
pub fn shortened(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(team: &[&str]) -> Staff {
        Staff {
            owner: Some("owner".into()),
            team: team.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    #[test]
    fn the_team_gets_team_alerts_and_the_owner_stands_in_for_a_missing_team() {
        let both = staff(&["a", "b"]);
        assert_eq!(both.recipients(NotifyAudience::Owner).unwrap(), ["owner"]);
        assert_eq!(both.recipients(NotifyAudience::Team).unwrap(), ["a", "b"]);
        assert_eq!(both.recipients(NotifyAudience::Slack).unwrap(), ["a", "b"]);
        assert_eq!(
            staff(&[]).recipients(NotifyAudience::Team).unwrap(),
            ["owner"]
        );
        assert!(Staff::default().recipients(NotifyAudience::Owner).is_err());
    }

    #[test]
    fn settings_need_an_owner_valid_addresses_and_a_small_team() {
        let ok = |_: &str| Ok(());
        assert!(staff(&["a"]).check(ok).is_ok());
        assert!(Staff::default().check(ok).unwrap_err().contains("owner"));
        let big: Vec<&str> = vec!["m"; MAX_TEAM + 1];
        assert!(staff(&big).check(ok).unwrap_err().contains("at most"));
        let refuse_b = |m: &str| if m == "b" { Err("bad".into()) } else { Ok(()) };
        assert_eq!(staff(&["a", "b"]).check(refuse_b).unwrap_err(), "team: bad");
    }

    #[test]
    fn long_alerts_are_shortened_with_an_ellipsis() {
        assert_eq!(shortened("hello", 5), "hello");
        assert_eq!(shortened("hello!", 5), "hell…");
    }
}
