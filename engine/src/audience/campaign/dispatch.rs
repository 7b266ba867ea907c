//! The campaign dispatcher every worker process runs. A turn: claim a campaign whose turn has
//! come (a lease, so one process at a time paces it), start as many of its contacts as its
//! rate allows since its pacing window opened, and store the cursor, the window and the
//! counts. Contacts in their quiet hours (or on a closed day) are passed over and reached by a
//! later pass when their morning comes, so an audience across four time zones goes out in
//! four waves; opted-out contacts are not started; each contact is started once (its run id
//! is made from the campaign and the contact). From a pool, each contact keeps one number, and
//! no number starts contacts faster than its own rate, across campaigns and processes.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tracing::Instrument;

use super::senders::usable_numbers;
use super::{Audience, Campaign, CampaignStatus, Progress};
use crate::audience::members;
use crate::audience::segment::Filter;
use crate::model::{Contact, Tenant};
use crate::ports::{AudienceStore, CampaignStore, ClaimedCampaign, StoreError};
use crate::runtime::compliance::zone_of;
use crate::runtime::quiet_hours::next_open;
use crate::runtime::{Engine, Enrolment};

/// How long a dispatcher holds a campaign before another may take it over.
pub const LEASE: SignedDuration = SignedDuration::from_secs(15);
/// The longest a turn waits before its next; a pass that held contacts looks again after this.
const IDLE: Duration = Duration::from_millis(200);
const HELD_RETRY: SignedDuration = SignedDuration::from_secs(60);
/// The most contacts one turn reads (a narrow segment of a large list takes several turns).
const READ_PER_TURN: usize = 2_000;

/// Runs campaign turns until the process ends.
pub async fn run_campaigns(
    engine: Arc<Engine>,
    audiences: Arc<dyn AudienceStore>,
    campaigns: Arc<dyn CampaignStore>,
) {
    loop {
        match campaigns.claim_campaign(Timestamp::now(), LEASE).await {
            Ok(Some(claimed)) => {
                let span = tracing::info_span!("campaign", tenant_id = %claimed.tenant_id, campaign_id = %claimed.campaign.id);
                let turn = Turn {
                    engine: &engine,
                    audiences: audiences.as_ref(),
                    campaigns: campaigns.as_ref(),
                };
                if let Err(e) = turn.take(claimed).instrument(span).await {
                    tracing::warn!(error = %e, "campaign turn failed; it is taken up again when its lease lapses");
                }
            }
            Ok(None) => tokio::time::sleep(IDLE).await,
            Err(e) => {
                tracing::warn!(error = %e, "campaigns cannot be claimed");
                tokio::time::sleep(IDLE).await;
            }
        }
    }
}

pub(super) struct Turn<'a> {
    pub(super) engine: &'a Engine,
    pub(super) audiences: &'a dyn AudienceStore,
    pub(super) campaigns: &'a dyn CampaignStore,
}

/// Contacts started at once within a turn.
const AT_ONCE: usize = 16;

/// What the cheap checks decided for a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// No phone, or opted out.
    Suppressed,
    /// Started by an earlier pass.
    Reached,
    /// In its quiet hours or on a closed day.
    Held,
    Start,
}

/// What starting a chosen contact did.
#[derive(Debug)]
enum Outcome {
    Started,
    Skipped,
    NotStarted,
    /// Its pool number is at its rate.
    Wait,
    Failed(StoreError),
}

/// The run a campaign starts for a contact: the same whichever pass or process starts it.
fn run_id_of(tenant: &Tenant, campaign: &Campaign, contact: &Contact) -> crate::model::RunId {
    crate::runtime::run_id_for(
        &tenant.id,
        "enroll",
        &format!("{}/{}", campaign.id, contact.id),
        &campaign.flow_id,
    )
}

/// What a turn changed.
#[derive(Debug, Default)]
struct Done {
    enrolled: u64,
    suppressed: u64,
    not_started: u64,
    held: u64,
    /// The pass reached the audience's end.
    pass_over: bool,
}

impl Turn<'_> {
    async fn take(&self, claimed: ClaimedCampaign) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let mut progress = claimed.progress.clone();
        let tenant = self.engine.store.tenant(&claimed.tenant_id).await?;
        let newly_out = self
            .failing_numbers(&tenant, &claimed.campaign, &mut progress, now)
            .await?;
        let mut campaign = claimed.campaign.clone();
        campaign.numbers_out.extend(newly_out.iter().cloned());
        let pool_exhausted = usable_numbers(&tenant, &campaign).is_some_and(|n| n.is_empty());
        let campaign = &campaign;
        let window_start = *progress.window_start.get_or_insert(now);
        let rate = campaign.per_second;
        // Time the dispatcher did not use (no process ran) is not spent later in a burst.
        let elapsed = now.duration_since(window_start).as_secs_f64();
        let mut allowed = (rate * elapsed).floor() as i64 - progress.window_started as i64;
        if allowed > rate.ceil() as i64 {
            progress.window_start = Some(now - SignedDuration::from_secs(1));
            progress.window_started = 0;
            allowed = rate.ceil() as i64;
        }
        let mut done = Done::default();
        if allowed > 0 && !pool_exhausted {
            done = self
                .reach(&tenant, campaign, &mut progress, allowed as u64, now)
                .await?;
        }
        tracing::debug!(
            allowed,
            enrolled = done.enrolled,
            took_ms = Timestamp::now().duration_since(now).as_millis(),
            "campaign turn"
        );
        let next_at = if done.pass_over && done.held > 0 {
            now + HELD_RETRY
        } else {
            // The next contact's slot.
            let start = progress.window_start.unwrap_or(now);
            let slot =
                start + SignedDuration::from_secs_f64((progress.window_started + 1) as f64 / rate);
            slot.max(now + SignedDuration::from_millis(20))
        };
        for (result, n) in [
            ("enrolled", done.enrolled),
            ("suppressed", done.suppressed),
            ("not_started", done.not_started),
        ] {
            metrics::counter!("stepwise_campaign_contacts_total", "result" => result).increment(n);
        }
        let change = move |mut c: Campaign, stored: Progress| {
            let mut p = progress.clone();
            // An admin's new rate or resume since the claim reset the window: keep theirs.
            if stored.window_start != claimed.progress.window_start {
                p.window_start = stored.window_start;
                p.window_started = stored.window_started;
            }
            c.counts.suppressed += done.suppressed;
            c.counts.not_started += done.not_started;
            // An admin's resume since the claim put the numbers back: this turn's reading
            // predates it.
            let resumed = stored.numbers_back_at != claimed.progress.numbers_back_at;
            p.numbers_back_at = stored.numbers_back_at;
            for out in newly_out.iter().filter(|_| !resumed) {
                if !c.numbers_out.iter().any(|o| o.number == out.number) {
                    c.numbers_out.push(out.clone());
                }
            }
            if pool_exhausted && !resumed && c.status == CampaignStatus::Running {
                tracing::warn!("every number of the campaign's pool keeps failing: it is paused");
                c.status = CampaignStatus::Paused;
            }
            if done.pass_over {
                c.counts.held = done.held;
                c.passes += 1;
                p.after = None;
                p.held_this_pass = 0;
                if done.held == 0 && c.status == CampaignStatus::Running {
                    c.status = CampaignStatus::Completed;
                    c.finished_at = Some(Timestamp::now());
                }
            }
            Some((c, p))
        };
        if !self
            .campaigns
            .release_campaign(&claimed, &change, next_at)
            .await?
        {
            tracing::warn!("the campaign was taken over during its turn");
        }
        Ok(())
    }

    /// Starts up to `allowed` contacts after the cursor. Contacts are decided in order
    /// (cheap checks), the chosen ones started [`AT_ONCE`] at a time, and then the cursor
    /// and the counts move past each decided contact in order, up to the first whose number
    /// is at its rate (it and those after it are decided again next turn).
    async fn reach(
        &self,
        tenant: &Tenant,
        campaign: &Campaign,
        progress: &mut Progress,
        allowed: u64,
        now: Timestamp,
    ) -> Result<Done, StoreError> {
        let first_pass = campaign.passes == 0;
        let (mut decided, mut chosen, mut read) = (Vec::new(), 0u64, 0usize);
        let mut after = progress.after.clone();
        let mut end_of_pass = false;
        'pages: loop {
            let page = self.audience_page(tenant, campaign, after.clone()).await?;
            read += page.contacts.len();
            for contact in page.contacts {
                if chosen >= allowed {
                    break 'pages;
                }
                let (zone, _) = zone_of(&contact, tenant);
                let decision = if contact.phone.is_none() || contact.sms_opt_out {
                    Decision::Suppressed
                } else if !first_pass && self.started_before(tenant, campaign, &contact).await? {
                    Decision::Reached
                } else if next_open(now, &zone, &tenant.quiet_hours, &tenant.holidays) > now {
                    Decision::Held
                } else {
                    chosen += 1;
                    Decision::Start
                };
                decided.push((contact, decision));
            }
            if page.resume_after.is_none() {
                end_of_pass = true;
                break;
            }
            after = page.resume_after;
            if read >= READ_PER_TURN {
                break;
            }
        }
        let rotation = progress.rotation;
        // Owned, so the futures borrow nothing of the loop (they run on a spawned task).
        let work: Vec<(u64, Contact, Decision)> = decided
            .iter()
            .enumerate()
            .map(|(i, (contact, decision))| (rotation + i as u64, contact.clone(), *decision))
            .collect();
        let outcomes: Vec<Outcome> = futures_util::stream::iter(work)
            .map(|(turn, contact, decision)| async move {
                match decision {
                    Decision::Start => self.start(tenant, campaign, turn, &contact).await,
                    _ => Outcome::Skipped,
                }
            })
            .buffered(AT_ONCE)
            .collect()
            .await;
        let mut done = Done::default();
        for ((contact, decision), outcome) in decided.into_iter().zip(outcomes) {
            match (decision, outcome) {
                (_, Outcome::Wait) => return Ok(done),
                (_, Outcome::Failed(e)) => return Err(e),
                (Decision::Suppressed, _) if first_pass => done.suppressed += 1,
                (Decision::Held, _) => progress.held_this_pass += 1,
                (_, Outcome::Started) => {
                    done.enrolled += 1;
                    progress.window_started += 1;
                }
                (_, Outcome::NotStarted) => done.not_started += 1,
                _ => {}
            }
            progress.rotation += 1;
            progress.after = Some(contact.id);
        }
        if !end_of_pass {
            // The turn read as far as it may; the rest of the page is the next turn's.
            if chosen < allowed {
                progress.after = after;
            }
            return Ok(done);
        }
        done.pass_over = true;
        done.held = progress.held_this_pass;
        Ok(done)
    }

    /// Whether an earlier pass started this contact; a run started by a turn that died
    /// before recording it is recorded now.
    async fn started_before(
        &self,
        tenant: &Tenant,
        campaign: &Campaign,
        contact: &Contact,
    ) -> Result<bool, StoreError> {
        let run_id = run_id_of(tenant, campaign, contact);
        if self.engine.store.run(&tenant.id, run_id).await.is_err() {
            return Ok(false);
        }
        // The turn that started it died before recording it (and which number it had).
        self.campaigns
            .add_campaign_run(
                &tenant.id,
                &campaign.id,
                &contact.id,
                &run_id.to_string(),
                None,
                Timestamp::now(),
            )
            .await?;
        Ok(true)
    }

    /// Starts one chosen contact: its pool number's slot, then its run, recorded.
    async fn start(
        &self,
        tenant: &Tenant,
        campaign: &Campaign,
        turn: u64,
        contact: &Contact,
    ) -> Outcome {
        let pool = campaign.pool.as_ref().zip(usable_numbers(tenant, campaign));
        let (sender, not_before) = match pool {
            Some((name, numbers)) => {
                match self.sender(tenant, name, &numbers, turn, contact).await {
                    // A slot a moment ahead: the run sleeps until it (durably), then texts.
                    Ok(Some((number, slot))) => {
                        (Some(number), Some(slot).filter(|s| *s > Timestamp::now()))
                    }
                    Ok(None) => return Outcome::Wait,
                    Err(e) => return Outcome::Failed(e),
                }
            }
            None => (None, None),
        };
        let data =
            json!({"campaign": {"id": campaign.id, "name": campaign.name, "sender": sender}});
        let started = self
            .engine
            .enroll_with(
                &tenant.id,
                &campaign.flow_id,
                &contact.id,
                &campaign.id,
                not_before,
                data,
            )
            .await;
        match started {
            Ok(Enrolment::Started { run_id } | Enrolment::AlreadyEnrolled { run_id }) => {
                let recorded = self
                    .campaigns
                    .add_campaign_run(
                        &tenant.id,
                        &campaign.id,
                        &contact.id,
                        &run_id.to_string(),
                        sender.as_deref(),
                        Timestamp::now(),
                    )
                    .await;
                match recorded {
                    Ok(()) if matches!(started, Ok(Enrolment::Started { .. })) => Outcome::Started,
                    Ok(()) => Outcome::Skipped,
                    Err(e) => Outcome::Failed(e),
                }
            }
            Ok(Enrolment::NotStarted) => Outcome::NotStarted,
            Err(e) => {
                tracing::warn!(contact_id = %contact.id, error = %e, "a campaign contact could not be started");
                Outcome::NotStarted
            }
        }
    }

    /// A page of the audience after `after`.
    async fn audience_page(
        &self,
        tenant: &Tenant,
        campaign: &Campaign,
        after: Option<String>,
    ) -> Result<members::Members, StoreError> {
        const PAGE: usize = 200;
        let filter = match &campaign.audience {
            Audience::Segment(name) => self.audiences.segment(&tenant.id, name).await?.filter,
            Audience::Tag(tag) => Filter {
                tags_all: vec![tag.clone()],
                ..Filter::default()
            },
            Audience::Contacts(ids) => {
                let start = after
                    .as_ref()
                    .and_then(|a| ids.iter().position(|id| id == a))
                    .map_or(0, |i| i + 1);
                let mut contacts = Vec::new();
                for id in ids.iter().skip(start).take(PAGE) {
                    match self.engine.store.contact(&tenant.id, id).await {
                        Ok(c) => contacts.push(c),
                        Err(StoreError::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                let end = start + PAGE >= ids.len();
                let resume_after = (!end).then(|| ids[start + PAGE - 1].clone());
                return Ok(members::Members {
                    contacts,
                    resume_after,
                });
            }
        };
        members::members(
            self.engine.store.as_ref(),
            self.audiences,
            tenant,
            &filter,
            after,
            PAGE,
        )
        .await
    }
}
