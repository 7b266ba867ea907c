//! Human takeover: a contact who asks for a person (a message that is one of the tenant's
//! takeover keywords), or a staff member's action, puts the conversation in `needs_human`.
//! While any conversation of a contact needs a human, automated messages to that contact are
//! held where they stand (or their runs end, as the tenant chooses); replies by hand still
//! go, and STOP is handled as always. A member's release lets the held runs go on at once.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::EngineError;
use crate::model::{Event, RunStatus};
use crate::runtime::{Engine, Happening, StepRecord};

/// Why a run sleeps while a person handles its contact (`run.hold`).
pub const TAKEOVER_HOLD: &str = "human takeover";
/// How long a held run sleeps before it looks again, should a release not wake it (a
/// release wakes the held runs at once; this bounds what a lost wake-up costs).
pub const RECHECK: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);
/// The most takeover keywords a tenant keeps, and the longest one.
pub const MAX_KEYWORDS: usize = 20;
pub const MAX_KEYWORD_CHARS: usize = 40;

/// `settings.takeover`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Takeover {
    /// A message from the contact that is one of these (any case, surrounding spaces and
    /// punctuation ignored) asks for a person. At most 20, of at most 40 characters.
    #[serde(default = "default_keywords")]
    pub keywords: Vec<String>,
    /// What automated runs of the contact do meanwhile.
    #[serde(default)]
    pub automation: Automation,
}

impl Default for Takeover {
    fn default() -> Self {
        Self {
            keywords: default_keywords(),
            automation: Automation::default(),
        }
    }
}

fn default_keywords() -> Vec<String> {
    ["human", "agent", "person", "someone", "help"]
        .map(str::to_owned)
        .to_vec()
}

/// What automated runs do while a person handles their contact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Automation {
    /// Hold each run at its next message to the contact; it goes on when released.
    #[default]
    Pause,
    /// End each run (cancelled) at its next message to the contact.
    End,
}

impl Takeover {
    /// Whether the contact's message `body` asks for a person.
    pub fn asks_for_a_person(&self, body: &str) -> bool {
        let word = body
            .trim()
            .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace());
        !word.is_empty() && self.keywords.iter().any(|k| k.eq_ignore_ascii_case(word))
    }

    /// The bounds settings are checked against.
    pub fn check(&self) -> Result<(), String> {
        if self.keywords.len() > MAX_KEYWORDS {
            return Err(format!("takeover.keywords: at most {MAX_KEYWORDS}"));
        }
        for keyword in &self.keywords {
            let chars = keyword.trim().chars().count();
            if chars == 0 || chars > MAX_KEYWORD_CHARS {
                return Err(format!(
                    "takeover.keywords: \"{keyword}\" must have 1 to {MAX_KEYWORD_CHARS} characters"
                ));
            }
        }
        Ok(())
    }
}

/// Marks a `message.received` event whose body asks for a person (`data.takeover: true`):
/// the store puts its conversation in `needs_human` in the event's own commit, and flows see
/// it (`when: event.data.takeover` notifies the team).
pub fn mark(takeover: &Takeover, event: &mut Event) {
    if event.event_type != "message.received" {
        return;
    }
    let asks = event.data["body"]
        .as_str()
        .is_some_and(|body| takeover.asks_for_a_person(body));
    if asks && let Value::Object(data) = &mut event.data {
        data.insert("takeover".into(), Value::Bool(true));
    }
}

/// The team's alert for a message `mark` marked: who asked, on which channel, in their words.
pub fn asked_alert(event: &Event) -> Option<String> {
    if event.data["takeover"] != Value::Bool(true) {
        return None;
    }
    let text = |key: &str| {
        event.data[key]
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let words: String = text("body").chars().take(160).collect();
    Some(format!(
        "{} asked for a person by {}: \"{words}\". Their conversation needs a human \
         (GET /v1/conversations?status=needs_human); automated messages to them wait until \
         it is released.",
        text("from"),
        text("channel"),
    ))
}

/// The team's alert when a member, or a flow's `hand_over` step, hands a conversation to people.
pub fn handed_alert(who: &str, contact: &str, reason: Option<&str>) -> String {
    let why = reason
        .filter(|r| !r.trim().is_empty())
        .map(|r| format!(": {}", r.chars().take(200).collect::<String>()))
        .unwrap_or_default();
    format!(
        "{who} handed the conversation with {contact} to the team{why}. It needs a human \
         (GET /v1/conversations?status=needs_human); automated messages wait until it is released."
    )
}

impl Engine {
    /// Lets the runs held for a person go on at once, now that their contact's conversation
    /// was released (a run whose contact still has a conversation needing a human holds
    /// again at its next message). Answers how many it woke.
    pub async fn release_held_runs(
        &self,
        tenant_id: &str,
        contact_id: &str,
    ) -> Result<usize, EngineError> {
        let mut woken = 0;
        for run in self.store.active_runs(tenant_id, contact_id).await? {
            if run.status != RunStatus::Sleeping || run.hold.as_deref() != Some(TAKEOVER_HOLD) {
                continue;
            }
            let woke = StepRecord {
                at: self.clock.now(),
                step: None,
                attempt: 0,
                what: Happening::Woke {
                    by: "release".into(),
                },
            };
            match self.make_ready(tenant_id, run, vec![woke], None).await {
                Ok(()) => woken += 1,
                // A worker moved it meanwhile (its recheck): it reads the release itself.
                Err(EngineError::Store(crate::ports::StoreError::Conflict { .. })) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(woken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyword_is_the_whole_message_in_any_case() {
        let t = Takeover::default();
        for yes in ["agent", " AGENT ", "Human!", "someone?", "help.", "Person"] {
            assert!(t.asks_for_a_person(yes), "{yes:?}");
        }
        for no in ["an agent please", "", "?!", "agents", "humane"] {
            assert!(!t.asks_for_a_person(no), "{no:?}");
        }
    }

    #[test]
    fn only_a_received_message_is_marked() {
        let t = Takeover::default();
        let mut asks = Event::new("message.received", serde_json::json!({"body": "Agent"}));
        mark(&t, &mut asks);
        assert_eq!(asks.data["takeover"], true);
        let mut other = Event::new("lead.created", serde_json::json!({"body": "agent"}));
        mark(&t, &mut other);
        assert!(other.data.get("takeover").is_none());
        let mut answer = Event::new("message.received", serde_json::json!({"body": "yes"}));
        mark(&t, &mut answer);
        assert!(answer.data.get("takeover").is_none());
    }

    #[tokio::test]
    async fn a_flow_that_hands_over_holds_its_own_next_message() {
        use crate::runtime::{SimulationInput, simulate};
        let source = "id: f\ntrigger: {event: lead.created}\nsteps:\n\
                      \x20 - hand_over: {reason: urgent}\n\
                      \x20 - send_sms: {body: hi}\n";
        let connector = std::sync::Arc::new(crate::testing::RecordingConnector::default());
        let input = SimulationInput {
            source: source.into(),
            event: Event::new("lead.created", serde_json::json!({})),
            contact: crate::testing::ana(),
            tenant: crate::model::Tenant::default(),
            config: serde_json::json!({}),
            templates: serde_json::json!({}),
            start: "2026-06-01T15:00:00Z".parse().unwrap(),
            injections: Vec::new(),
            horizon: jiff::SignedDuration::from_hours(36),
        };
        let sim = simulate(input, connector.clone()).await.unwrap();
        let kinds: Vec<String> = sim
            .entries
            .iter()
            .map(|e| {
                e.to_json(sim.start, &sim.zone)["kind"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned()
            })
            .collect();
        assert_eq!(
            kinds[..4],
            ["started", "handed_over", "takeover_hold", "woke"],
            "{kinds:?}"
        );
        assert_eq!(
            kinds[4], "takeover_hold",
            "still held after a day: {kinds:?}"
        );
        assert!(connector.calls().is_empty(), "nothing was sent");
    }

    #[test]
    fn alerts_quote_a_bounded_part_of_what_the_contact_wrote() {
        let mut asked = Event::new(
            "message.received",
            serde_json::json!({"body": format!("agent {}", "x".repeat(50_000)),
                "from": "+15125550142", "channel": "sms", "takeover": true}),
        );
        let alert = asked_alert(&asked).unwrap();
        assert!(alert.len() < 600, "{} characters", alert.len());
        assert!(
            alert.starts_with("+15125550142 asked for a person by sms"),
            "{alert}"
        );
        asked.data["takeover"] = serde_json::json!(false);
        assert_eq!(asked_alert(&asked), None, "only a marked message alerts");
        let handed = handed_alert("The flow f", "Ana", Some(&"y".repeat(10_000)));
        assert!(handed.len() < 600, "{} characters", handed.len());
    }

    #[test]
    fn settings_are_bounded() {
        let mut t = Takeover::default();
        assert_eq!(t.check(), Ok(()));
        t.keywords = vec!["x".repeat(41)];
        assert!(t.check().is_err());
        t.keywords = vec![" ".into()];
        assert!(t.check().is_err());
        t.keywords = (0..21).map(|i| format!("k{i}")).collect();
        assert!(t.check().is_err());
    }
}
