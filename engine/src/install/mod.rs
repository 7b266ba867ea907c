//! Installing modules for a tenant. An installation is the tenant flow a module publishes
//! (its id is the module's), whose versions remember where they came from ([`Origin`]):
//! the module and its version, the pack, the tenant's own config and copy, and the copy the
//! module and pack gave. Values merge module defaults < pack < tenant; the result is checked
//! against the module's config schema, and the flow compiles with the copy spliced in, before
//! anything is stored. Installing what is already installed changes nothing.

mod change;
mod onboarding;
mod upgrade;
mod values;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

pub use onboarding::ChecklistState;
pub use upgrade::{Conflict, Resolution, TemplateChange, UpgradePlan};
pub use values::{Effective, Overrides, effective};

use crate::catalog::{Catalog, CatalogModule};
use crate::definition::config::{self, ConfigProblem};
use crate::error::EngineError;
use crate::model::{Origin, Pack};
use crate::ports::{AuditEntry, FlowDocument, Listings, StoreError};
use crate::runtime::Engine;

/// A module installed for a tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Installation {
    /// The module id, which is also the id of the flow it published.
    pub module: String,
    /// The module version installed.
    pub version: String,
    /// The pack that installed it, if one did.
    pub pack: Option<String>,
    /// The flow version the installation is at.
    pub flow_version: u32,
    /// False once uninstalled: it starts no runs.
    pub enabled: bool,
    /// The tenant's own config values and copy.
    pub overrides: Overrides,
    /// The catalog's version of the module when it differs from the installed one.
    pub upgrade_to: Option<String>,
}

/// What an install did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Installed {
    pub installation: Installation,
    /// False when it was installed so already: nothing was published.
    pub changed: bool,
}

/// The install service.
#[derive(Debug, Clone)]
pub struct Installer {
    pub engine: Arc<Engine>,
    pub listings: Arc<dyn Listings>,
    pub catalog: Arc<Catalog>,
}

impl Installer {
    fn module(&self, id: &str) -> Result<&CatalogModule, EngineError> {
        self.catalog
            .module(id)
            .ok_or_else(|| EngineError::NotFound(format!("module {id}")))
    }

    fn pack(&self, id: &str) -> Result<&Pack, EngineError> {
        self.catalog
            .pack(id)
            .ok_or_else(|| EngineError::NotFound(format!("pack {id}")))
    }

    /// The pack's config and copy for `module`.
    fn pack_overrides(&self, pack: Option<&str>, module: &str) -> Option<Overrides> {
        let entry = self
            .catalog
            .pack(pack?)?
            .modules
            .iter()
            .find(|m| m.module == module)?;
        Some(Overrides {
            config: entry.config.clone().into_iter().collect(),
            templates: entry.templates.clone(),
        })
    }

    /// The flow's newest version and whether it is enabled, if the flow exists.
    async fn current(
        &self,
        tenant_id: &str,
        flow_id: &str,
    ) -> Result<Option<(u32, bool, FlowDocument)>, EngineError> {
        let summary = match self.listings.flow(tenant_id, flow_id).await {
            Ok(s) => s,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let doc = self
            .engine
            .store
            .flow_version(tenant_id, flow_id, summary.latest_version)
            .await?;
        Ok(Some((summary.latest_version, summary.enabled, doc)))
    }

    fn installation(&self, version: u32, enabled: bool, origin: &Origin) -> Installation {
        let latest = self
            .catalog
            .module(&origin.module)
            .map(|m| &m.module.version);
        Installation {
            module: origin.module.clone(),
            version: origin.version.clone(),
            pack: origin.pack.clone(),
            flow_version: version,
            enabled,
            overrides: Overrides {
                config: origin.config.clone(),
                templates: origin.templates.clone(),
            },
            upgrade_to: latest.filter(|v| **v != origin.version).cloned(),
        }
    }

    /// Installs `module_id` (as part of `pack`, if given) with the tenant's overrides, or
    /// re-enables it with them; the same install twice publishes nothing the second time.
    pub async fn install(
        &self,
        tenant_id: &str,
        module_id: &str,
        pack: Option<&str>,
        overrides: Overrides,
        audit: Option<&AuditEntry>,
    ) -> Result<Installed, EngineError> {
        let module = self.module(module_id)?;
        let pack_overrides = self.pack_overrides(pack, module_id);
        let values = effective(module, pack_overrides.as_ref(), &overrides)?;
        let origin = Origin {
            module: module_id.to_owned(),
            version: module.module.version.clone(),
            pack: pack.map(str::to_owned),
            config: overrides.config,
            templates: overrides.templates,
            base_templates: values.base_templates.clone(),
        };
        self.publish(tenant_id, module, values, origin, audit).await
    }

    /// Publishes the installation's flow unless its newest version is the same already.
    async fn publish(
        &self,
        tenant_id: &str,
        module: &CatalogModule,
        values: Effective,
        origin: Origin,
        audit: Option<&AuditEntry>,
    ) -> Result<Installed, EngineError> {
        let flow_id = &module.module.id;
        let current = self.current(tenant_id, flow_id).await?;
        if let Some((_, _, doc)) = &current
            && doc.origin.is_none()
        {
            return Err(EngineError::WrongState(format!(
                "the tenant has a flow `{flow_id}` written by hand: rename or archive it before installing the module"
            )));
        }
        let doc = FlowDocument {
            source: module.flow_source.clone(),
            config: values.config,
            templates: serde_json::to_value(&values.templates).unwrap_or_default(),
            origin: Some(origin.clone()),
        };
        let (version, changed) = match current {
            Some((version, enabled, old)) if old == doc => {
                if !enabled {
                    self.engine
                        .set_flow_enabled(tenant_id, flow_id, true, audit)
                        .await?;
                }
                (version, !enabled)
            }
            _ => {
                let published = self.engine.publish(tenant_id, doc, audit).await?;
                self.engine
                    .set_flow_enabled(tenant_id, flow_id, true, None)
                    .await?;
                (published.version, true)
            }
        };
        Ok(Installed {
            installation: self.installation(version, true, &origin),
            changed,
        })
    }

    /// Installs every module of the pack with the tenant's values: `shared` config goes to
    /// every module that declares the key (the booking link, say, given once), `overrides`
    /// (by module id) to one module and over `shared`. Every module's values are checked
    /// before any is installed.
    pub async fn install_pack(
        &self,
        tenant_id: &str,
        pack_id: &str,
        shared: &Map<String, Value>,
        mut overrides: BTreeMap<String, Overrides>,
        audit: Option<&AuditEntry>,
    ) -> Result<Vec<Installed>, EngineError> {
        let pack = self.pack(pack_id)?;
        if let Some(unknown) = overrides
            .keys()
            .find(|m| !pack.modules.iter().any(|e| &e.module == *m))
        {
            return Err(EngineError::InvalidInput(format!(
                "the pack {pack_id} has no module `{unknown}`"
            )));
        }
        let mut unused: Vec<&String> = shared.keys().collect();
        for entry in &pack.modules {
            let module = self.module(&entry.module)?;
            let declared = module
                .module
                .config
                .as_ref()
                .map(config::declared_keys)
                .unwrap_or_default();
            let given = overrides.entry(entry.module.clone()).or_default();
            for (key, value) in shared {
                if declared.contains(key) {
                    unused.retain(|k| *k != key);
                    given
                        .config
                        .entry(key.clone())
                        .or_insert_with(|| value.clone());
                }
            }
        }
        if !unused.is_empty() {
            let problems = unused
                .into_iter()
                .map(|key| ConfigProblem {
                    pointer: format!("/config/{}", crate::steps::context::escape(key)),
                    message: format!("no module of the pack {pack_id} takes `{key}`"),
                })
                .collect();
            return Err(EngineError::InvalidConfig(problems));
        }
        let mut problems = Vec::new();
        for entry in &pack.modules {
            let module = self.module(&entry.module)?;
            let given = overrides.get(&entry.module).cloned().unwrap_or_default();
            if let Err(EngineError::InvalidConfig(found)) = effective(
                module,
                self.pack_overrides(Some(pack_id), &entry.module).as_ref(),
                &given,
            ) {
                problems.extend(found.into_iter().map(|p| ConfigProblem {
                    pointer: format!("/modules/{}{}", entry.module, p.pointer),
                    message: p.message,
                }));
            }
        }
        if !problems.is_empty() {
            return Err(EngineError::InvalidConfig(problems));
        }
        let mut installed = Vec::new();
        for entry in &pack.modules {
            let given = overrides.remove(&entry.module).unwrap_or_default();
            let audit = audit.map(|a| a.on(&format!("module:{}", entry.module)));
            installed.push(
                self.install(
                    tenant_id,
                    &entry.module,
                    Some(pack_id),
                    given,
                    audit.as_ref(),
                )
                .await?,
            );
        }
        Ok(installed)
    }

    /// The tenant's installations, by module id.
    pub async fn installations(&self, tenant_id: &str) -> Result<Vec<Installation>, EngineError> {
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .listings
                .flows(tenant_id, false, after.as_deref(), 200)
                .await?;
            for summary in &page {
                if self.catalog.module(&summary.id).is_none() {
                    continue;
                }
                let doc = self
                    .engine
                    .store
                    .flow_version(tenant_id, &summary.id, summary.latest_version)
                    .await?;
                if let Some(origin) = &doc.origin {
                    found.push(self.installation(summary.latest_version, summary.enabled, origin));
                }
            }
            match page.last() {
                Some(last) if page.len() == 200 => after = Some(last.id.clone()),
                _ => return Ok(found),
            }
        }
    }

    /// The installation of `module_id` and its origin.
    async fn installed(
        &self,
        tenant_id: &str,
        module_id: &str,
    ) -> Result<(Installation, Origin), EngineError> {
        let not_installed = || EngineError::NotFound(format!("installation {module_id}"));
        let (version, enabled, doc) = self
            .current(tenant_id, module_id)
            .await?
            .ok_or_else(not_installed)?;
        let origin = doc.origin.ok_or_else(not_installed)?;
        Ok((self.installation(version, enabled, &origin), origin))
    }

    /// One installation.
    pub async fn get(&self, tenant_id: &str, module_id: &str) -> Result<Installation, EngineError> {
        Ok(self.installed(tenant_id, module_id).await?.0)
    }
}
