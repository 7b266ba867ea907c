//! Alerts to a business's own people that the engine raises itself, not a flow: a
//! conversation that needs a human, a plan level reached. They go to the tenant's `notify`
//! provider (the sandbox until one is chosen) in the background, so that an alert never
//! holds up the run or the request that raised it; a failed one is logged, not retried.

use stepwise_core::{CallCx, Notify, NotifyAudience, Request};

use super::engine::Engine;
use crate::error::EngineError;
use crate::model::{Contact, Tenant};

/// The longest alert text; a contact's words quoted in one are cut to fit.
const MAX_ALERT: usize = 600;

impl Engine {
    /// Sends `text` to `audience`; `key` names the alert (`usage-2026-12:sms_segments-80`).
    pub(super) fn alert_staff(
        &self,
        tenant: &Tenant,
        audience: NotifyAudience,
        text: String,
        key: &str,
    ) {
        if !self.staff_alerts {
            return;
        }
        let text: String = text.chars().take(MAX_ALERT).collect();
        let request = Request::Notify(Notify { audience, text });
        let cx = CallCx {
            provider: tenant.providers.get("notify").cloned(),
            ..CallCx::bare(&tenant.id, key, "alert")
        };
        let connector = self.connector.clone();
        tokio::spawn(async move {
            if let Err(e) = connector.call(&request, &cx).await {
                tracing::warn!(tenant_id = %cx.tenant_id, alert = %cx.run_id, error = %e, "a staff alert failed");
            }
        });
    }

    /// Tells the team that `who` (a member, a flow) handed a contact's conversation to people.
    pub async fn alert_handed(
        &self,
        tenant_id: &str,
        who: &str,
        contact_id: &str,
        reason: Option<&str>,
    ) -> Result<(), EngineError> {
        let tenant = self.tenant(tenant_id).await?;
        let contact = self.store.contact(tenant_id, contact_id).await?;
        let text = crate::inbox::takeover::handed_alert(who, &label(&contact), reason);
        let key = format!(
            "handover:{contact_id}:{}",
            self.clock.now().as_millisecond()
        );
        self.alert_staff(&tenant, NotifyAudience::Team, text, &key);
        Ok(())
    }
}

/// How an alert names a contact: their name and address.
pub(super) fn label(contact: &Contact) -> String {
    let name = [contact.first_name.as_deref(), contact.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let address = contact
        .phone
        .as_deref()
        .or(contact.email.as_deref())
        .unwrap_or(contact.id.as_str());
    if name.trim().is_empty() {
        address.to_owned()
    } else {
        format!("{} ({address})", name.trim())
    }
}
