//! Installing modules for a tenant. An installation is the tenant flow a module publishes
//! (its id is the module's), whose versions remember where they came from ([`Origin`]):
//! the module and its version, the pack, the tenant's own config and copy, and the copy the
//! module and pack gave. Values merge module defaults < pack < tenant; the result is checked
//! against the module's config schema, and the flow compiles with the copy spliced in, before
//! anything is stored. Installing what is already installed changes nothing.

mod onboarding;
mod upgrade;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use onboarding::ChecklistState;
pub use upgrade::{Conflict, Resolution, TemplateChange, UpgradePlan};

use crate::catalog::{Catalog, CatalogModule};
use crate::definition::config::{self, ConfigProblem};
use crate::error::EngineError;
use crate::model::{Origin, Pack, RunStatus};
use crate::ports::{AuditEntry, FlowDocument, Listings, RunFilter, StoreError};
use crate::runtime::Engine;

/// Config values and copy given over a module's own: by a pack, or by the tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Values for the module's config keys.
    #[serde(default)]
    pub config: Map<String, Value>,
    /// Texts for the module's templates, by name.
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
}

/// What a flow installed from a module runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    /// The config values, checked, with the module's defaults filled in.
    pub config: Value,
    /// The copy: the module's, then the pack's, then the tenant's.
    pub templates: BTreeMap<String, String>,
    /// The copy before the tenant's.
    pub base_templates: BTreeMap<String, String>,
}

/// The values `module` runs with under `pack`'s and `tenant`'s overrides: every problem at
/// once, each at its place in the tenant's request (`/config/…`, `/templates/…`).
pub fn effective(
    module: &CatalogModule,
    pack: Option<&Overrides>,
    tenant: &Overrides,
) -> Result<Effective, EngineError> {
    let module_def = &module.module;
    let mut problems = Vec::new();
    let declared = module_def
        .config
        .as_ref()
        .map(config::declared_keys)
        .unwrap_or_default();
    let mut base_templates = module_def.templates.clone();
    let mut values = Map::new();
    for layer in pack.into_iter().chain([tenant]) {
        for (name, text) in &layer.templates {
            let pointer = format!("/templates/{}", crate::steps::context::escape(name));
            if !module_def.templates.contains_key(name) {
                let known: Vec<&str> = module_def.templates.keys().map(String::as_str).collect();
                let message = format!(
                    "the module has no template `{name}` (it has: {})",
                    known.join(", ")
                );
                problems.push(ConfigProblem { pointer, message });
                continue;
            }
            if let Err(e) = crate::template::Templates::check(text) {
                problems.push(ConfigProblem {
                    pointer: pointer.clone(),
                    message: e.message,
                });
            }
            for message in crate::steps::fields::unknown_fields(text) {
                problems.push(ConfigProblem {
                    pointer: pointer.clone(),
                    message,
                });
            }
            for key in crate::steps::context::references(text, "config.") {
                if !declared.iter().any(|k| k == key) {
                    let message = format!("config.{key} is not one of the module's config keys");
                    problems.push(ConfigProblem {
                        pointer: pointer.clone(),
                        message,
                    });
                }
            }
        }
        values.extend(layer.config.clone());
    }
    if let Some(pack) = pack {
        base_templates.extend(pack.templates.clone());
    }
    let mut templates = base_templates.clone();
    templates.extend(tenant.templates.clone());
    let config = match &module_def.config {
        Some(schema) => match config::resolve(schema, &Value::Object(values)) {
            Ok(resolved) => resolved,
            Err(found) => {
                problems.extend(found.into_iter().map(|p| ConfigProblem {
                    pointer: format!("/config{}", p.pointer),
                    message: p.message,
                }));
                Value::Null
            }
        },
        None if values.is_empty() => Value::Object(Map::new()),
        None => {
            problems.push(ConfigProblem {
                pointer: "/config".into(),
                message: "the module takes no config values".into(),
            });
            Value::Null
        }
    };
    if problems.is_empty() {
        Ok(Effective {
            config,
            templates,
            base_templates,
        })
    } else {
        Err(EngineError::InvalidConfig(problems))
    }
}

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

/// RFC 7396 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merge_patch_sets_and_removes() {
        let mut target = serde_json::json!({"config": {"a": 1, "b": 2}, "templates": {"x": "hi"}});
        merge_patch(
            &mut target,
            &serde_json::json!({"config": {"a": null, "c": 3}, "templates": {"y": "yo"}}),
        );
        assert_eq!(
            target,
            serde_json::json!({"config": {"b": 2, "c": 3}, "templates": {"x": "hi", "y": "yo"}})
        );
    }
}
