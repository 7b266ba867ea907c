//! Usage as the engine measures it (see [`crate::usage`]): the report of `GET /v1/usage`, and
//! the quota a limited plan puts on sends, measured each time the tenant's settings are read
//! (at most once a second per process, see [`super::cache`]), which is also when crossing a
//! level gives the tenant its notice: an audit entry and an alert to the owner, once a month
//! per level, whichever worker sees it first.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::Serialize;
use serde_json::json;
use stepwise_core::NotifyAudience;

use super::engine::Engine;
use crate::error::EngineError;
use crate::model::Tenant;
use crate::ports::{AuditEntry, Channel, DayCount};
use crate::usage::{Metric, Notice, Plan, Quota, Used, month_of, month_start, reached, zone_of};

/// One day's or one period's messages and model tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sends {
    pub sms_messages: u64,
    pub sms_segments: u64,
    pub emails: u64,
    /// Language-model tokens (prompt and answer) of the runs' `llm` steps.
    pub ai_tokens: u64,
}

impl Sends {
    fn add(&mut self, count: &DayCount) {
        match count.channel {
            Channel::Sms => {
                self.sms_messages += count.messages;
                self.sms_segments += count.segments;
            }
            Channel::Email => self.emails += count.messages,
        }
    }

    fn plus(mut self, other: &Sends) -> Sends {
        self.sms_messages += other.sms_messages;
        self.sms_segments += other.sms_segments;
        self.emails += other.emails;
        self.ai_tokens += other.ai_tokens;
        self
    }
}

/// One day of the month (in the business's zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayUsage {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: Date,
    #[serde(flatten)]
    pub sends: Sends,
}

/// A cap of the tenant's plan and how much of it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cap {
    pub used: u64,
    pub limit: u64,
    pub percent: u64,
}

/// `GET /v1/usage`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageReport {
    /// `2026-12` (in the business's zone).
    pub month: String,
    /// The plan's name; `null`: no plan, no limits.
    pub plan: Option<String>,
    pub this_month: Sends,
    pub today: Sends,
    /// Each day of the month (in the business's zone) that sent anything.
    pub days: Vec<DayUsage>,
    pub contacts: u64,
    pub active_runs: u64,
    /// Each capped metric: `sms_segments`, `emails`, `contacts`, `active_runs`, `ai_tokens`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub limits: BTreeMap<&'static str, Cap>,
    /// What the plan refuses now: `sms`, `email` (sends), `llm` (model calls).
    pub refusing: Vec<&'static str>,
    /// The 80 % and 100 % notices of the month.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub notices: Vec<Notice>,
}

impl Engine {
    /// The plan a tenant is on, with its name; `None`: no limits.
    fn plan_of<'p>(&'p self, tenant: &Tenant) -> Option<(&'p str, &'p Plan)> {
        self.plans.of(tenant.plan.as_deref())
    }

    /// What the tenant used this month, and each day of it that used anything (months and
    /// days of the business's zone).
    async fn measure(&self, tenant: &Tenant) -> Result<(Used, BTreeMap<Date, Sends>), EngineError> {
        let Some(store) = &self.usage else {
            return Ok((Used::default(), BTreeMap::new()));
        };
        let (tenant_id, zone) = (tenant.id.as_str(), zone_of(tenant));
        let since = month_start(self.clock.now(), &zone);
        let mut days: BTreeMap<Date, Sends> = BTreeMap::new();
        for count in store.messages_by_day(tenant_id, since, &zone).await? {
            days.entry(count.day).or_default().add(&count);
        }
        for (day, tokens) in store.ai_tokens_by_day(tenant_id, since, &zone).await? {
            days.entry(day).or_default().ai_tokens += tokens;
        }
        let (contacts, active_runs) = store.contacts_and_active_runs(tenant_id).await?;
        let month = days.values().fold(Sends::default(), Sends::plus);
        let used = Used {
            values: BTreeMap::from([
                (Metric::SmsSegments, month.sms_segments),
                (Metric::Emails, month.emails),
                (Metric::Contacts, contacts),
                (Metric::ActiveRuns, active_runs),
                (Metric::AiTokens, month.ai_tokens),
            ]),
        };
        Ok((used, days))
    }

    /// The quota of a freshly read tenant, and its notices for the levels reached.
    pub(super) async fn apply_plan(&self, tenant: &mut Tenant) -> Result<(), EngineError> {
        let Some((_, plan)) = self.plan_of(tenant).filter(|(_, p)| p.is_limited()) else {
            return Ok(());
        };
        let plan = plan.clone();
        let (used, _) = self.measure(tenant).await?;
        self.settle(tenant, &plan, &used).await
    }

    /// The tenant's quota for what it `used`, and its notices for the levels reached.
    async fn settle(
        &self,
        tenant: &mut Tenant,
        plan: &Plan,
        used: &Used,
    ) -> Result<(), EngineError> {
        tenant.quota = Quota::of(plan, used);
        for notice in reached(plan, used, self.clock.now(), &zone_of(tenant)) {
            self.give_notice(tenant, notice).await?;
        }
        Ok(())
    }

    async fn give_notice(&self, tenant: &Tenant, notice: Notice) -> Result<(), EngineError> {
        let Some(store) = &self.usage else {
            return Ok(());
        };
        let audit = AuditEntry::now(
            "stepwise",
            None,
            "usage.threshold",
            &format!("usage:{}", notice.metric.as_str()),
            json!({"period": notice.period, "metric": notice.metric, "level": notice.level,
                   "used": notice.used, "quota": notice.quota}),
        );
        if !store.claim_notice(&tenant.id, &notice, &audit).await? {
            return Ok(());
        }
        tracing::warn!(tenant_id = %tenant.id, metric = notice.metric.as_str(), level = notice.level, used = notice.used, quota = notice.quota, "usage: a plan level was reached");
        let key = format!(
            "usage-{}:{}-{}",
            notice.period,
            notice.metric.as_str(),
            notice.level
        );
        self.alert_staff(
            tenant,
            NotifyAudience::Owner,
            notice.text(&tenant.name),
            &key,
        );
        Ok(())
    }

    /// `GET /v1/usage`: this month, today and each day, the plan's caps and notices.
    pub async fn usage_report(&self, tenant_id: &str) -> Result<UsageReport, EngineError> {
        // Read afresh and measured once: the report and the next send agree on what is
        // refused (the settings copy is replaced with this reading).
        let mut tenant = self.store.tenant(tenant_id).await?;
        let (used, by_day) = self.measure(&tenant).await?;
        if let Some((_, plan)) = self.plan_of(&tenant).filter(|(_, p)| p.is_limited()) {
            let plan = plan.clone();
            self.settle(&mut tenant, &plan, &used).await?;
        }
        self.caches.tenants.put(tenant_id, tenant.clone());
        let now = self.clock.now();
        let zone = zone_of(&tenant);
        let today = now.to_zoned(zone.clone()).date();
        let plan = self.plan_of(&tenant);
        let limits = plan
            .map(|(_, plan)| {
                Metric::ALL
                    .into_iter()
                    .filter_map(|m| {
                        let limit = plan.limit(m)?;
                        let used = used.get(m);
                        let percent = used.saturating_mul(100).checked_div(limit).unwrap_or(100);
                        Some((
                            m.as_str(),
                            Cap {
                                used,
                                limit,
                                percent,
                            },
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let quota = plan.map_or_else(Quota::default, |(_, p)| Quota::of(p, &used));
        let refusing = [
            ("sms", quota.sms_full),
            ("email", quota.email_full),
            ("llm", quota.ai_full),
        ]
        .into_iter()
        .filter_map(|(c, full)| full.then_some(c))
        .collect();
        let month = month_of(now, &zone);
        let notices = match &self.usage {
            Some(store) => store.notices(tenant_id, &month).await?,
            None => Vec::new(),
        };
        Ok(UsageReport {
            month,
            plan: plan.map(|(name, _)| name.to_owned()),
            today: by_day.get(&today).cloned().unwrap_or_default(),
            this_month: by_day.values().fold(Sends::default(), Sends::plus),
            days: by_day
                .into_iter()
                .map(|(date, sends)| DayUsage { date, sends })
                .collect(),
            contacts: used.get(Metric::Contacts),
            active_runs: used.get(Metric::ActiveRuns),
            limits,
            refusing,
            notices,
        })
    }
}
