//! Changing and removing an installation: a merge patch of the tenant's values published as
//! a new version, and uninstalling (no new runs; running ones finish, or are cancelled).

use serde_json::Value;

use super::{Installed, Installer, Overrides, values::merge_patch};
use crate::error::EngineError;
use crate::model::RunStatus;
use crate::ports::{AuditEntry, RunFilter};

impl Installer {
    /// Changes the tenant's overrides by a JSON merge patch (RFC 7396: a key set to null goes
    /// back to the module's or pack's value) and publishes the result as a new flow version.
    pub async fn change(
        &self,
        tenant_id: &str,
        module_id: &str,
        patch: &Value,
        audit: Option<&AuditEntry>,
    ) -> Result<Installed, EngineError> {
        let (_, origin) = self.installed(tenant_id, module_id).await?;
        let current = Overrides {
            config: origin.config.clone(),
            templates: origin.templates.clone(),
        };
        let mut merged = serde_json::to_value(&current).unwrap_or_default();
        merge_patch(&mut merged, patch);
        let overrides: Overrides = serde_json::from_value(merged)
            .map_err(|e| EngineError::InvalidInput(format!("the change: {e}")))?;
        let module = self.module(module_id)?;
        if module.module.version != origin.version {
            return Err(EngineError::WrongState(format!(
                "{module_id} is installed at {} and the catalog has {}: upgrade it first",
                origin.version, module.module.version
            )));
        }
        self.install(
            tenant_id,
            module_id,
            origin.pack.as_deref(),
            overrides,
            audit,
        )
        .await
    }

    /// Uninstalls: the flow starts no new runs; its running runs go on, or are cancelled.
    pub async fn uninstall(
        &self,
        tenant_id: &str,
        module_id: &str,
        cancel_runs: bool,
        audit: Option<&AuditEntry>,
    ) -> Result<u32, EngineError> {
        self.installed(tenant_id, module_id).await?;
        self.engine
            .set_flow_enabled(tenant_id, module_id, false, audit)
            .await?;
        if !cancel_runs {
            return Ok(0);
        }
        self.cancel_runs(tenant_id, module_id, audit).await
    }

    /// Cancels every active run of the flow; answers how many.
    async fn cancel_runs(
        &self,
        tenant_id: &str,
        flow_id: &str,
        audit: Option<&AuditEntry>,
    ) -> Result<u32, EngineError> {
        let mut cancelled = 0;
        for status in [
            RunStatus::Queued,
            RunStatus::Ready,
            RunStatus::Sleeping,
            RunStatus::Waiting,
        ] {
            let filter = RunFilter {
                flow_id: Some(flow_id.to_owned()),
                status: Some(status),
                ..RunFilter::default()
            };
            // Cancelled runs leave the filter, so the first page is always the next one.
            loop {
                let page = self
                    .listings
                    .list_runs(tenant_id, &filter, None, 200)
                    .await?;
                if page.is_empty() {
                    break;
                }
                for run in page {
                    let reason = "the module was uninstalled";
                    match self
                        .engine
                        .cancel_run(
                            tenant_id,
                            run.id,
                            reason,
                            audit.map(|a| a.on(&format!("run:{}", run.id))),
                        )
                        .await
                    {
                        Ok(()) => cancelled += 1,
                        // It ended meanwhile.
                        Err(EngineError::WrongState(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(cancelled)
    }
}
