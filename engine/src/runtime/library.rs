//! The tenant's library templates a flow names (`{{library "name"}}`, see
//! [`crate::template::library`]): read from the template store when the flow compiles, and
//! followed afterwards. A compiled version that names any is looked at again once it is
//! [`FRESH_FOR`] old: when an approval (made by any process) changed what one of its names
//! resolves to, the version is compiled again, so runs send the newly approved text within a
//! second of the approval, on every worker. A pinned name never changes.

use std::collections::BTreeSet;

use jiff::Timestamp;

use serde_json::Value;

use super::cache::FRESH_FOR;
use super::engine::Engine;
use super::flows::Deployment;
use crate::definition::{Diagnostic, Severity};
use crate::error::EngineError;
use crate::ports::{FlowDocument, StoreError};
use crate::template::library::{Library, LibraryRef, LibraryText, MAX_NAMES, references, resolved};

/// What a compiled flow names from the library, and what those names resolved to.
#[derive(Debug, Clone)]
pub struct LibraryUse {
    refs: Vec<LibraryRef>,
    resolved: Vec<Option<u32>>,
    /// When it was last compared with the store (the engine's clock).
    checked: Timestamp,
}

/// Every use in the flow's source and its module copy, once each.
fn uses_of(doc: &FlowDocument) -> Vec<LibraryRef> {
    let mut refs = references(&doc.source);
    if let Some(copy) = doc.templates.as_object() {
        for text in copy.values().filter_map(Value::as_str) {
            refs.extend(references(text));
        }
    }
    refs.sort();
    refs.dedup();
    refs
}

impl Engine {
    /// The library `doc` compiles with (`None` without a template store: the simulator),
    /// and what it names.
    pub(super) async fn library_for(
        &self,
        tenant_id: &str,
        doc: &FlowDocument,
    ) -> Result<(Option<Library>, Vec<LibraryRef>), EngineError> {
        let refs = uses_of(doc);
        let names: BTreeSet<&str> = refs.iter().map(|r| r.name.as_str()).collect();
        if names.len() > MAX_NAMES {
            return Err(EngineError::InvalidDefinition(vec![Diagnostic::new(
                Severity::Error,
                String::new(),
                format!(
                    "the flow names {} library templates; a flow may name at most {MAX_NAMES}",
                    names.len()
                ),
            )]));
        }
        let library = self.read_library(tenant_id, &refs).await?;
        Ok((library, refs))
    }

    /// The versions of the templates `refs` name; each text kept only where a reference may
    /// resolve to it (the newest approved version, or a pinned one), so that a template
    /// with many versions costs no more than one.
    async fn read_library(
        &self,
        tenant_id: &str,
        refs: &[LibraryRef],
    ) -> Result<Option<Library>, EngineError> {
        let Some(store) = &self.library else {
            return Ok(None);
        };
        let mut library = Library::new();
        for r in refs {
            if library.contains_key(&r.name) {
                continue;
            }
            let versions = match store.template_versions(tenant_id, &r.name).await {
                Ok(versions) => versions,
                Err(StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let newest_approved = versions
                .iter()
                .rev()
                .find(|t| t.approved)
                .map(|t| t.version);
            let needed = |version: u32| {
                Some(version) == newest_approved
                    || refs
                        .iter()
                        .any(|o| o.name == r.name && o.version == Some(version))
            };
            let texts = versions
                .into_iter()
                .map(|t| {
                    let keep = needed(t.version);
                    LibraryText {
                        version: t.version,
                        approved: t.approved,
                        body: if keep { t.body } else { String::new() },
                        subject: t.subject.filter(|_| keep),
                    }
                })
                .collect();
            library.insert(r.name.clone(), texts);
        }
        Ok(Some(library))
    }

    /// What [`Deployment::library`] records for a flow compiled with `library`.
    pub(super) fn library_use(
        &self,
        library: Option<&Library>,
        refs: Vec<LibraryRef>,
    ) -> Option<LibraryUse> {
        let library = library.filter(|_| !refs.is_empty())?;
        Some(LibraryUse {
            resolved: resolved(library, &refs),
            refs,
            checked: self.clock.now(),
        })
    }

    /// `d`, or its version compiled again when an approval changed what its names resolve
    /// to since it was compiled. A recompile that fails (a newly approved text that cannot
    /// be used there) keeps the version as it was, and says so in the log.
    pub(super) async fn follow_library(&self, d: Deployment) -> Result<Deployment, EngineError> {
        let now = self.clock.now();
        // A clock set back counts as stale too: better one read too many than a stuck copy.
        let stale = |u: &&LibraryUse| {
            now < u.checked || now.duration_since(u.checked).unsigned_abs() >= FRESH_FOR
        };
        let Some(used) = d.library.as_ref().filter(stale) else {
            return Ok(d);
        };
        let library = self.read_library(&d.tenant_id, &used.refs).await?;
        let current = library.as_ref().map(|l| resolved(l, &used.refs));
        if current.as_ref() == Some(&used.resolved) {
            let mut same = d.clone();
            if let Some(u) = same.library.as_mut() {
                u.checked = now;
            }
            self.flows.insert(same.clone());
            return Ok(same);
        }
        let flow_id = d.flow.id().to_owned();
        match self
            .compile_version(&d.tenant_id, &flow_id, d.version)
            .await
        {
            Ok(fresh) => {
                tracing::info!(tenant_id = %d.tenant_id, %flow_id, version = d.version, "a library template it names was approved: compiled again");
                Ok(fresh)
            }
            Err(EngineError::InvalidDefinition(diagnostics)) => {
                let why = diagnostics
                    .iter()
                    .find(|x| x.is_error())
                    .map(|x| x.message.clone())
                    .unwrap_or_default();
                tracing::warn!(tenant_id = %d.tenant_id, %flow_id, version = d.version, %why, "a newly approved library template cannot be used here; the flow keeps the text it had");
                let mut kept = d.clone();
                if let Some(u) = kept.library.as_mut() {
                    u.checked = now;
                }
                self.flows.insert(kept.clone());
                Ok(kept)
            }
            Err(e) => Err(e),
        }
    }
}
