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

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tracing::Instrument;

use super::{Audience, Campaign, CampaignStatus, Progress};
use crate::audience::members;
use crate::audience::pools::PoolNumber;
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

struct Turn<'a> {
    engine: &'a Engine,
    audiences: &'a dyn AudienceStore,
    campaigns: &'a dyn CampaignStore,
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
        let (campaign, mut progress) = (&claimed.campaign, claimed.progress.clone());
        let tenant = self.engine.store.tenant(&claimed.tenant_id).await?;
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
        if allowed > 0 {
            done = self
                .reach(&tenant, campaign, &mut progress, allowed as u64, now)
                .await?;
        }
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
            c.counts.enrolled += done.enrolled;
            c.counts.suppressed += done.suppressed;
            c.counts.not_started += done.not_started;
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

    /// Starts up to `allowed` contacts after the cursor; moves the cursor past every contact
    /// it decided on.
    async fn reach(
        &self,
        tenant: &Tenant,
        campaign: &Campaign,
        progress: &mut Progress,
        allowed: u64,
        now: Timestamp,
    ) -> Result<Done, StoreError> {
        let mut done = Done::default();
        let first_pass = campaign.passes == 0;
        let pool = campaign
            .pool
            .as_ref()
            .and_then(|p| tenant.sender_pools.get(p).map(|n| (p, n)));
        let mut read = 0;
        loop {
            let page = self
                .audience_page(tenant, campaign, progress.after.clone())
                .await?;
            read += page.contacts.len();
            for contact in page.contacts {
                if done.enrolled >= allowed {
                    return Ok(done);
                }
                let reachable = contact.phone.is_some() && !contact.sms_opt_out;
                if !reachable {
                    if first_pass {
                        done.suppressed += 1;
                    }
                    progress.after = Some(contact.id);
                    continue;
                }
                let run_id = crate::runtime::run_id_for(
                    &tenant.id,
                    "enroll",
                    &format!("{}/{}", campaign.id, contact.id),
                    &campaign.flow_id,
                );
                if self.engine.store.run(&tenant.id, run_id).await.is_ok() {
                    progress.after = Some(contact.id);
                    continue;
                }
                let (zone, _) = zone_of(&contact, tenant);
                if next_open(now, &zone, &tenant.quiet_hours, &tenant.holidays) > now {
                    done.held += 1;
                    progress.held_this_pass += 1;
                    progress.after = Some(contact.id);
                    continue;
                }
                let sender = match pool {
                    Some((name, numbers)) => {
                        match self
                            .sender(tenant, name, numbers, progress, &contact)
                            .await?
                        {
                            Some(number) => Some(number),
                            // Its number is at its own rate: this contact waits for the next turn.
                            None => return Ok(done),
                        }
                    }
                    None => None,
                };
                let data = json!({"campaign": {"id": campaign.id, "name": campaign.name, "sender": sender}});
                let started = self
                    .engine
                    .enroll_with(
                        &tenant.id,
                        &campaign.flow_id,
                        &contact.id,
                        &campaign.id,
                        None,
                        data,
                    )
                    .await;
                match started {
                    Ok(Enrolment::Started { run_id }) => {
                        done.enrolled += 1;
                        progress.window_started += 1;
                        self.campaigns
                            .add_campaign_run(
                                &tenant.id,
                                &campaign.id,
                                &contact.id,
                                &run_id.to_string(),
                            )
                            .await?;
                    }
                    Ok(Enrolment::AlreadyEnrolled { .. }) => {}
                    Ok(Enrolment::NotStarted) => done.not_started += 1,
                    Err(e) => {
                        tracing::warn!(contact_id = %contact.id, error = %e, "a campaign contact could not be started");
                        done.not_started += 1;
                    }
                }
                progress.after = Some(contact.id);
            }
            if page.resume_after.is_none() {
                done.pass_over = true;
                done.held = progress.held_this_pass;
                return Ok(done);
            }
            progress.after = page.resume_after;
            if read >= READ_PER_TURN {
                return Ok(done);
            }
        }
    }

    /// The pool number the contact hears from, when that number may start one more contact
    /// now; `None` when it is at its rate.
    async fn sender(
        &self,
        tenant: &Tenant,
        pool: &str,
        numbers: &[PoolNumber],
        progress: &mut Progress,
        contact: &Contact,
    ) -> Result<Option<String>, StoreError> {
        let allowed: Vec<String> = numbers.iter().map(|n| n.number.clone()).collect();
        let turn = (progress.rotation as usize) % numbers.len();
        let candidate = &numbers[turn].number;
        let number = self
            .campaigns
            .sticky_sender(&tenant.id, pool, &contact.id, candidate, &allowed)
            .await?;
        if &number == candidate {
            progress.rotation += 1;
        }
        let Some(spec) = numbers.iter().find(|n| n.number == number) else {
            return Ok(None);
        };
        let interval = SignedDuration::from_secs_f64(1.0 / spec.per_second());
        let free = self
            .campaigns
            .take_number_slot(&tenant.id, &number, Timestamp::now(), interval)
            .await?;
        Ok(free.then_some(number))
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
