//! Events no flow listens for: a warning in the event's answer, and a count per type that the
//! run list shows, so a misspelt `lead.craeted` (or a flow switched off) is noticed rather than
//! silently losing leads.

use jiff::{SignedDuration, Timestamp};

use super::engine::{Engine, IngestOutcome};
use crate::error::EngineError;
use crate::model::Event;
use crate::ports::UnheardType;

/// How far back the run list looks for unheard event types.
pub const UNHEARD_WINDOW: SignedDuration = SignedDuration::from_hours(7 * 24);

/// The most unheard types the run list shows.
const UNHEARD_SHOWN: u32 = 20;

/// An event type that arrived while no live flow listened for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unheard {
    pub event_type: String,
    /// How many arrived unheard since `first_at`.
    pub count: u64,
    pub first_at: Timestamp,
    pub last_at: Timestamp,
    /// The nearest type a live flow does listen for, when one is close (`lead.created`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub did_you_mean: Option<String>,
}

impl Engine {
    /// When the event did nothing, a warning if no live flow listens for its type at all
    /// (trigger, `cancel_on` or `wait_for`), naming the nearest type one does; the type is
    /// counted for the run list.
    pub(super) async fn unheard(
        &self,
        tenant_id: &str,
        event: &Event,
        outcome: &mut IngestOutcome,
    ) -> Result<(), EngineError> {
        let nothing = outcome.started.is_empty()
            && outcome.resumed.is_empty()
            && outcome.cancelled.is_empty()
            && outcome.skipped.is_empty()
            && outcome.failed.is_empty();
        // Ticks and clicks are the engine's own events, not something a sender misspelt.
        if !nothing || matches!(event.source.as_str(), "schedule" | "link") {
            return Ok(());
        }
        let heard = self.heard_types(tenant_id).await?;
        if heard.contains(&event.event_type) {
            return Ok(());
        }
        let nearest = nearest(&heard, &event.event_type)
            .map(|t| format!(" (did you mean {t}?)"))
            .unwrap_or_default();
        tracing::info!(%tenant_id, event_type = %event.event_type, "no live flow listens for this event type");
        outcome.warnings.push(format!(
            "no live flow listens for {}{nearest}: the event was stored and did nothing",
            event.event_type
        ));
        // The count is a diagnostic: the event itself is stored, so a failure here is logged
        // and does not refuse it.
        let now = self.clock.now();
        if let Err(e) = self
            .store
            .note_unheard(tenant_id, &event.event_type, now)
            .await
        {
            tracing::warn!(%tenant_id, error = %e, "could not count an unheard event");
        }
        Ok(())
    }

    /// The event types that arrived in the last [`UNHEARD_WINDOW`] while no live flow
    /// listened, and that still none does, the most recent first.
    pub async fn unheard_types(&self, tenant_id: &str) -> Result<Vec<Unheard>, EngineError> {
        let since = self.clock.now() - UNHEARD_WINDOW;
        let counted = self
            .store
            .unheard_types(tenant_id, since, UNHEARD_SHOWN)
            .await?;
        if counted.is_empty() {
            return Ok(Vec::new());
        }
        let heard = self.heard_types(tenant_id).await?;
        Ok(counted
            .into_iter()
            .filter(|u| !heard.contains(&u.event_type))
            .map(
                |UnheardType {
                     event_type,
                     count,
                     first_at,
                     last_at,
                 }| Unheard {
                    did_you_mean: nearest(&heard, &event_type).map(str::to_owned),
                    event_type,
                    count,
                    first_at,
                    last_at,
                },
            )
            .collect())
    }

    /// Every event type a live flow listens for (trigger, `cancel_on`, `wait_for`), sorted.
    async fn heard_types(&self, tenant_id: &str) -> Result<Vec<String>, EngineError> {
        let live = self.live(tenant_id).await?;
        let mut heard: Vec<String> = live
            .iter()
            .flat_map(|d| crate::model::event_types_of(&d.flow.flow))
            .map(str::to_owned)
            .collect();
        heard.sort_unstable();
        heard.dedup();
        Ok(heard)
    }
}

/// The type in `heard` nearest to `event_type`, within three edits.
fn nearest<'h>(heard: &'h [String], event_type: &str) -> Option<&'h str> {
    heard
        .iter()
        .map(|t| (strsim::levenshtein(t, event_type), t.as_str()))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, t)| t)
}
