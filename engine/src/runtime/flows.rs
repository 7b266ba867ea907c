//! Compiled flow versions: loaded from the store on first use and kept (a version never
//! changes; it is compiled again when the tenant's snippets it includes change); publishing
//! validates, compiles and stores a new version.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::engine::Engine;
use super::library::LibraryUse;
use crate::definition::{self, CompiledFlow, Diagnostic};
use crate::error::EngineError;
use crate::ports::{AuditEntry, FlowDocument};

/// A flow version of a tenant, compiled, with the settings it runs with.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub tenant_id: String,
    pub version: u32,
    pub flow: Arc<CompiledFlow>,
    /// `config.*`.
    pub config: Value,
    /// `templates.*`.
    pub templates: Value,
    /// The library templates it names (`{{library "name"}}`), followed after approvals.
    pub(super) library: Option<LibraryUse>,
    /// The mark of the tenant's snippets it was compiled with (`{{> name}}` includes them).
    pub(super) snippets: u64,
}

/// Compiled versions by (tenant, flow, version).
#[derive(Debug, Default)]
pub struct FlowCache {
    map: RwLock<HashMap<(String, String, u32), Deployment>>,
}

impl FlowCache {
    fn get(&self, tenant_id: &str, flow_id: &str, version: u32) -> Option<Deployment> {
        let key = (tenant_id.to_owned(), flow_id.to_owned(), version);
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned()
    }

    /// Forgets the tenant's versions that name library templates.
    fn forget_library_users(&self, tenant_id: &str) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(tenant, _, _), d| tenant != tenant_id || d.library.is_none());
    }

    pub(super) fn insert(&self, d: Deployment) {
        let key = (d.tenant_id.clone(), d.flow.id().to_owned(), d.version);
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, d);
    }
}

/// The config values a new version runs with: `given` checked against the flow's declared
/// config, with its defaults filled in. A flow that declares none takes none.
fn resolve_config(declared: Option<&Value>, given: &Value) -> Result<Value, EngineError> {
    let empty = given.as_object().is_none_or(serde_json::Map::is_empty);
    match declared {
        Some(schema) => {
            definition::config::resolve(schema, given).map_err(EngineError::InvalidConfig)
        }
        None if empty => Ok(serde_json::json!({})),
        None => Err(EngineError::InvalidConfig(vec![
            definition::config::ConfigProblem {
                pointer: String::new(),
                message: "the flow declares no config, so it takes no config values".into(),
            },
        ])),
    }
}

/// A published flow version.
#[derive(Debug)]
pub struct Published {
    pub flow_id: String,
    pub version: u32,
    pub warnings: Vec<Diagnostic>,
}

impl Engine {
    /// Compiles `doc` as a new version (`stored`: as a version stored before, see
    /// [`definition::Setting::stored`]), its copy (`templates.*`) and the library templates
    /// it names spliced in.
    async fn compile(
        &self,
        tenant_id: &str,
        doc: &FlowDocument,
        stored: bool,
    ) -> Result<(CompiledFlow, Vec<Diagnostic>, Option<LibraryUse>, u64), EngineError> {
        let tenant = self.tenant(tenant_id).await?;
        let copy: BTreeMap<String, String> =
            serde_json::from_value(doc.templates.clone()).unwrap_or_default();
        let (library, refs) = self.library_for(tenant_id, doc).await?;
        let setting = definition::Setting {
            partials: Some(&tenant.snippets),
            copy: Some(&copy),
            library: library.as_ref(),
            stored,
        };
        let (flow, warnings) = definition::compile_flow("flow.yaml", &doc.source, setting)
            .map_err(EngineError::InvalidDefinition)?;
        if !stored {
            marketing_email_has_a_postal_address(&tenant, &flow)?;
            self.segment_exists(tenant_id, &flow, &doc.source).await?;
        }
        let snippets = super::cache::snippets_mark(&tenant.snippets);
        Ok((
            flow,
            warnings,
            self.library_use(library.as_ref(), refs),
            snippets,
        ))
    }

    /// Checks a flow's source for the tenant as a publish would, without storing it: its
    /// snippets, library templates, segments and settings (`POST /v1/flows/validate`).
    pub async fn check_flow(
        &self,
        tenant_id: &str,
        source: &str,
    ) -> Result<(CompiledFlow, Vec<Diagnostic>), EngineError> {
        let doc = FlowDocument {
            source: source.to_owned(),
            config: serde_json::json!({}),
            templates: serde_json::json!({}),
            origin: None,
        };
        let (flow, warnings, _, _) = self.compile(tenant_id, &doc, false).await?;
        Ok((flow, warnings))
    }

    /// A schedule's `segment` names a saved segment: a located error otherwise (publish
    /// and `POST /v1/flows/validate` both check it).
    pub async fn segment_exists(
        &self,
        tenant_id: &str,
        flow: &CompiledFlow,
        source: &str,
    ) -> Result<(), EngineError> {
        let (Some(name), Some(audiences)) = (&flow.flow.trigger.segment, &self.audiences) else {
            return Ok(());
        };
        match audiences.segment(tenant_id, name).await {
            Ok(_) => Ok(()),
            Err(crate::ports::StoreError::NotFound { .. }) => {
                let missing = definition::Diagnostic::new(
                    definition::Severity::Error,
                    "/trigger/segment".into(),
                    format!("no segment \"{name}\": save it first (PUT /v1/segments/{name})"),
                );
                let placed = match definition::Document::parse("flow.yaml", source) {
                    Ok(document) => document.place(missing),
                    Err(_) => missing,
                };
                Err(EngineError::InvalidDefinition(vec![placed]))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Validates and compiles `doc`, then stores it as the flow's next version, with `audit`
    /// (its details get the version number).
    pub async fn publish(
        &self,
        tenant_id: &str,
        mut doc: FlowDocument,
        audit: Option<&AuditEntry>,
    ) -> Result<Published, EngineError> {
        let (flow, warnings, library, snippets) = self.compile(tenant_id, &doc, false).await?;
        if super::builtin::is_builtin(flow.id()) {
            return Err(EngineError::InvalidDefinition(vec![
                definition::Diagnostic::new(
                    definition::Severity::Error,
                    "/id".into(),
                    format!(
                        "\"{}\" is the name of a flow Stepwise runs itself (replies from the inbox): choose another id",
                        flow.id()
                    ),
                ),
            ]));
        }
        doc.config = resolve_config(flow.flow.config.as_ref(), &doc.config)?;
        let flow_id = flow.id().to_owned();
        let schedule = flow.flow.trigger.schedule.clone();
        let version = self
            .store
            .save_flow(tenant_id, &flow_id, &doc, audit)
            .await?;
        self.flows_changed(tenant_id);
        if let Some(expr) = schedule {
            self.schedule_flow(tenant_id, &flow_id, version, &expr)
                .await?;
        }
        self.flows.insert(Deployment {
            tenant_id: tenant_id.to_owned(),
            version,
            flow: Arc::new(flow),
            config: doc.config,
            templates: doc.templates,
            library,
            snippets,
        });
        Ok(Published {
            flow_id,
            version,
            warnings,
        })
    }

    /// A library template of the tenant was approved through this process: its flows that
    /// name library templates compile again on their next use (other processes follow
    /// within a second, see [`super::library`]).
    pub fn library_changed(&self, tenant_id: &str) {
        self.flows.forget_library_users(tenant_id);
    }

    /// Enables or disables a flow: a disabled flow starts no new runs; its running runs go on.
    pub async fn set_flow_enabled(
        &self,
        tenant_id: &str,
        flow_id: &str,
        enabled: bool,
        audit: Option<&AuditEntry>,
    ) -> Result<(), EngineError> {
        self.store
            .set_flow_enabled(tenant_id, flow_id, enabled, audit)
            .await?;
        self.flows_changed(tenant_id);
        Ok(())
    }

    /// The enabled flows whose schedule enrols this segment.
    pub async fn flows_using_segment(
        &self,
        tenant_id: &str,
        segment: &str,
    ) -> Result<Vec<String>, EngineError> {
        let mut using = Vec::new();
        for live in self.store.live_flows(tenant_id).await? {
            let d = self
                .deployment(tenant_id, &live.flow_id, live.version)
                .await?;
            if d.flow.flow.trigger.segment.as_deref() == Some(segment) {
                using.push(live.flow_id);
            }
        }
        Ok(using)
    }

    /// The compiled version a run uses.
    pub(super) async fn deployment(
        &self,
        tenant_id: &str,
        flow_id: &str,
        version: u32,
    ) -> Result<Deployment, EngineError> {
        if let Some(d) = super::builtin::deployment(tenant_id, flow_id) {
            return Ok(d);
        }
        // A version compiled before a snippet changed is compiled again with it.
        if let Some(d) = self.flows.get(tenant_id, flow_id, version)
            && d.snippets == self.current_snippets(tenant_id).await?
        {
            return self.follow_library(d).await;
        }
        self.compile_version(tenant_id, flow_id, version).await
    }

    /// Compiles a stored version and keeps it.
    pub(super) async fn compile_version(
        &self,
        tenant_id: &str,
        flow_id: &str,
        version: u32,
    ) -> Result<Deployment, EngineError> {
        let doc = self.store.flow_version(tenant_id, flow_id, version).await?;
        let (flow, _, library, snippets) = self.compile(tenant_id, &doc, true).await?;
        let d = Deployment {
            tenant_id: tenant_id.to_owned(),
            version,
            flow: Arc::new(flow),
            config: doc.config,
            templates: doc.templates,
            library,
            snippets,
        };
        self.flows.insert(d.clone());
        Ok(d)
    }

    /// The newest version of each enabled flow: what new events may start. A version that
    /// no longer compiles (it uses a snippet since removed) starts nothing and is logged; it
    /// never keeps the tenant's other flows from starting.
    pub(super) async fn live(&self, tenant_id: &str) -> Result<Vec<Deployment>, EngineError> {
        let mut out = Vec::new();
        for live in self.live_flows(tenant_id).await? {
            match self
                .deployment(tenant_id, &live.flow_id, live.version)
                .await
            {
                Ok(d) => out.push(d),
                Err(EngineError::InvalidDefinition(diagnostics)) => {
                    let why = diagnostics
                        .iter()
                        .find(|d| d.is_error())
                        .map(|d| d.message.as_str())
                        .unwrap_or_default();
                    tracing::warn!(%tenant_id, flow_id = %live.flow_id, version = live.version, %why, "a live flow does not compile; it starts no runs");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// CAN-SPAM: marketing email carries the business's postal address, so a flow that sends it
/// cannot be published while the tenant's settings have none.
fn marketing_email_has_a_postal_address(
    tenant: &crate::model::Tenant,
    flow: &CompiledFlow,
) -> Result<(), EngineError> {
    if tenant
        .postal_address
        .as_deref()
        .is_some_and(|a| !a.trim().is_empty())
    {
        return Ok(());
    }
    let marketing_email = flow.program.iter().find_map(|instr| match instr {
        crate::definition::Instr::Step { meta, .. }
            if meta.key == "send_email" && meta.purpose == crate::model::Purpose::Marketing =>
        {
            Some(meta.id.clone())
        }
        _ => None,
    });
    match marketing_email {
        None => Ok(()),
        Some(step) => Err(EngineError::InvalidDefinition(vec![
            crate::definition::Diagnostic::new(
                crate::definition::Severity::Error,
                String::new(),
                format!(
                    "step {step} sends marketing email, which must show the business's postal address \
                 (CAN-SPAM): set postal_address in settings (PATCH /v1/settings), or give the step \
                 purpose: transactional if it is not marketing"
                ),
            ),
        ])),
    }
}
