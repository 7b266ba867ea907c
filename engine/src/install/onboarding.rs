//! The onboarding checklist (the blueprint's §9): what a business does to get going, each
//! item answered done or not from its settings and data. A pack words it for its niche; the
//! default list serves a tenant without one.

use serde::Serialize;

use super::Installer;
use crate::error::EngineError;
use crate::model::{Check, ChecklistItem};
use crate::ports::{ContactFilter, RunFilter};

/// The list for a tenant that names no pack.
fn default_checklist() -> Vec<ChecklistItem> {
    [
        (
            Check::Calendar,
            "Connect your calendar so bookings reach Stepwise",
        ),
        (Check::SmsProvider, "Connect your texting number (Twilio)"),
        (Check::Sender, "Set who your messages come from"),
        (
            Check::HelpText,
            "Write the answer customers get when they text HELP",
        ),
        (Check::Contacts, "Import your contacts"),
        (
            Check::Modules,
            "Choose your modules and their messages (install a pack)",
        ),
        (
            Check::TestRun,
            "Send yourself a test lead and walk through the flow",
        ),
    ]
    .into_iter()
    .map(|(check, title)| ChecklistItem {
        check,
        title: title.to_owned(),
    })
    .collect()
}

/// An item and whether it is done.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChecklistState {
    pub check: Check,
    pub title: String,
    pub done: bool,
}

impl Installer {
    /// The checklist of `pack` (else the default one), each item checked for the tenant.
    pub async fn onboarding(
        &self,
        tenant_id: &str,
        pack: Option<&str>,
    ) -> Result<Vec<ChecklistState>, EngineError> {
        let items = match pack {
            Some(id) => {
                let pack = self.pack(id)?;
                if pack.checklist.is_empty() {
                    default_checklist()
                } else {
                    pack.checklist.clone()
                }
            }
            None => default_checklist(),
        };
        let tenant = self.engine.tenant(tenant_id).await?;
        let real = |capability: &str| {
            tenant
                .providers
                .get(capability)
                .is_some_and(|p| p.provider != "sandbox")
        };
        let installed: Vec<String> = self
            .installations(tenant_id)
            .await?
            .into_iter()
            .filter(|i| i.enabled)
            .map(|i| i.module)
            .collect();
        let mut states = Vec::with_capacity(items.len());
        for item in items {
            let done = match item.check {
                Check::SmsProvider => real("sms"),
                Check::EmailProvider => real("email"),
                Check::Calendar => real("calendar") || tenant.sources.contains_key("calcom"),
                Check::Sender => {
                    tenant.senders.contains_key("sms") || tenant.senders.contains_key("email")
                }
                Check::HelpText => tenant.help_text.is_some(),
                Check::Contacts => !self
                    .listings
                    .list_contacts(tenant_id, &ContactFilter::default(), None, 1)
                    .await?
                    .is_empty(),
                Check::Modules => !installed.is_empty(),
                Check::TestRun => {
                    let mut ran = false;
                    for module in &installed {
                        let filter = RunFilter {
                            flow_id: Some(module.clone()),
                            ..RunFilter::default()
                        };
                        if !self
                            .listings
                            .list_runs(tenant_id, &filter, None, 1)
                            .await?
                            .is_empty()
                        {
                            ran = true;
                            break;
                        }
                    }
                    ran
                }
            };
            states.push(ChecklistState {
                check: item.check,
                title: item.title,
                done,
            });
        }
        Ok(states)
    }
}
