//! Upgrading an installation to the catalog's version of its module: a three-way merge of
//! the copy the old version gave (the base, kept in the installation's [`Origin`]), the
//! tenant's edits, and the new version's copy. The tenant's edits are kept, the module's
//! improvements arrive where the tenant left the text alone, and where both changed one
//! text the upgrade stops with the conflict shown, until the caller resolves it (`mine` or
//! `theirs`); nothing is ever silently overwritten. The tenant's config values are their
//! settings and always kept (the new schema checks them); where the new version renamed or
//! reshaped a key, the caller changes the values in the same upgrade (a merge patch, as
//! `PATCH` takes), since the old version cannot take the new key nor the new one the old.
//! Running runs finish on their version.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Installer, Overrides, effective, values::merge_patch};
use crate::error::EngineError;
use crate::model::Origin;
use crate::ports::AuditEntry;

/// How a conflict is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Keep the tenant's text.
    Mine,
    /// Take the new version's text (the tenant's edit is dropped).
    Theirs,
}

/// A template whose text the upgrade changes (`None`: the template does not exist there).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateChange {
    pub template: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A template both the tenant and the new version changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conflict {
    pub template: String,
    /// The text the installed version gave.
    pub base: Option<String>,
    /// The tenant's text.
    pub mine: String,
    /// The new version's text (`None`: the new version removed the template).
    pub theirs: Option<String>,
}

/// What an upgrade does (or, on a dry run, would do).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpgradePlan {
    pub module: String,
    pub from: String,
    pub to: String,
    /// The flow's steps change too (not only its copy).
    pub flow_changed: bool,
    /// Every text that changes, after the merge.
    pub changes: Vec<TemplateChange>,
    /// What blocks the upgrade until resolved.
    pub conflicts: Vec<Conflict>,
    /// The flow version published (`None` on a dry run, or when it is blocked).
    pub flow_version: Option<u32>,
}

/// The tenant's copy after the merge, and the conflicts left.
fn merge(
    origin: &Origin,
    new_base: &BTreeMap<String, String>,
    resolve: &BTreeMap<String, Resolution>,
) -> (BTreeMap<String, String>, Vec<Conflict>) {
    let mut kept = BTreeMap::new();
    let mut conflicts = Vec::new();
    for (name, mine) in &origin.templates {
        let base = origin.base_templates.get(name);
        let theirs = new_base.get(name);
        let keep = match (theirs, resolve.get(name)) {
            (Some(theirs), _) if Some(theirs) == base => true,
            (Some(theirs), _) if theirs == mine => false,
            (Some(_), Some(Resolution::Mine)) => true,
            (_, Some(Resolution::Theirs)) => false,
            _ => {
                conflicts.push(Conflict {
                    template: name.clone(),
                    base: base.cloned(),
                    mine: mine.clone(),
                    theirs: theirs.cloned(),
                });
                false
            }
        };
        if keep {
            kept.insert(name.clone(), mine.clone());
        }
    }
    (kept, conflicts)
}

/// A published source without its first line, which names the module version it came from.
fn steps_of(source: &str) -> &str {
    source
        .split_once('\n')
        .filter(|(first, _)| first.starts_with("# Installed from"))
        .map_or(source, |(_, rest)| rest)
}

fn changes(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<TemplateChange> {
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter(|n| before.get(*n) != after.get(*n))
        .map(|n| TemplateChange {
            template: n.clone(),
            from: before.get(n).cloned(),
            to: after.get(n).cloned(),
        })
        .collect()
}

impl Installer {
    /// Upgrades the installation of `module_id` to the catalog's version, with `resolve`
    /// deciding conflicts and `config` (a JSON merge patch of the tenant's values, null
    /// dropping a key) changing values with it; a dry run only answers the plan. A conflict
    /// left unresolved is [`EngineError::UpgradeConflict`] and changes nothing.
    pub async fn upgrade(
        &self,
        tenant_id: &str,
        module_id: &str,
        resolve: &BTreeMap<String, Resolution>,
        config: Option<&serde_json::Map<String, serde_json::Value>>,
        dry_run: bool,
        audit: Option<&AuditEntry>,
    ) -> Result<UpgradePlan, EngineError> {
        let (installation, origin) = self.installed(tenant_id, module_id).await?;
        let module = self.module(module_id)?;
        let pack = self.pack_overrides(origin.pack.as_deref(), module_id);
        let mut new_base = module.module.templates.clone();
        if let Some(pack) = &pack {
            new_base.extend(pack.templates.clone());
        }
        let (kept, conflicts) = merge(&origin, &new_base, resolve);
        let mut before = origin.base_templates.clone();
        before.extend(origin.templates.clone());
        let mut after = new_base.clone();
        after.extend(kept.clone());
        let current = self.current(tenant_id, module_id).await?;
        let mut plan = UpgradePlan {
            module: module_id.to_owned(),
            from: origin.version.clone(),
            to: module.module.version.clone(),
            flow_changed: current
                .is_some_and(|(_, _, doc)| steps_of(&doc.source) != steps_of(&module.flow_source)),
            changes: changes(&before, &after),
            conflicts,
            flow_version: None,
        };
        if !plan.conflicts.is_empty() && !dry_run {
            return Err(EngineError::UpgradeConflict(Box::new(plan)));
        }
        let mut values = serde_json::Value::Object(origin.config.clone());
        if let Some(patch) = config {
            merge_patch(&mut values, &serde_json::Value::Object(patch.clone()));
        }
        let overrides = Overrides {
            config: match values {
                serde_json::Value::Object(values) => values,
                _ => serde_json::Map::new(),
            },
            templates: kept,
        };
        // The new version must take the tenant's values, dry run or not.
        let values = effective(module, pack.as_ref(), &overrides)?;
        // A change that sets what was already set publishes nothing new.
        let config_changed = overrides.config != origin.config;
        let unchanged = plan.from == plan.to && !plan.flow_changed && plan.changes.is_empty();
        if dry_run || (unchanged && !config_changed) {
            plan.flow_version = (!dry_run).then_some(installation.flow_version);
            return Ok(plan);
        }
        let origin = Origin {
            version: module.module.version.clone(),
            config: overrides.config,
            templates: overrides.templates,
            base_templates: values.base_templates.clone(),
            ..origin
        };
        let installed = self
            .publish(tenant_id, module, values, origin, audit)
            .await?;
        plan.flow_version = Some(installed.installation.flow_version);
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin {
            module: "m".into(),
            version: "1.0.0".into(),
            pack: None,
            config: serde_json::Map::new(),
            templates: BTreeMap::from([
                ("edited".into(), "mine".into()),
                ("both".into(), "mine too".into()),
                ("same".into(), "converged".into()),
            ]),
            base_templates: BTreeMap::from([
                ("edited".into(), "v1".into()),
                ("both".into(), "v1".into()),
                ("same".into(), "v1".into()),
                ("untouched".into(), "v1".into()),
            ]),
        }
    }

    fn new_base() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("edited".into(), "v1".into()),
            ("both".into(), "v2".into()),
            ("same".into(), "converged".into()),
            ("untouched".into(), "v2".into()),
        ])
    }

    #[test]
    fn edits_are_kept_and_improvements_arrive() {
        let (kept, conflicts) = merge(&origin(), &new_base(), &BTreeMap::new());
        assert_eq!(kept, BTreeMap::from([("edited".into(), "mine".into())]));
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].template, "both");
        assert_eq!(conflicts[0].theirs.as_deref(), Some("v2"));
    }

    #[test]
    fn a_conflict_is_resolved_either_way() {
        let mine = BTreeMap::from([("both".to_owned(), Resolution::Mine)]);
        let (kept, conflicts) = merge(&origin(), &new_base(), &mine);
        assert!(conflicts.is_empty());
        assert_eq!(kept.get("both").map(String::as_str), Some("mine too"));
        let theirs = BTreeMap::from([("both".to_owned(), Resolution::Theirs)]);
        let (kept, conflicts) = merge(&origin(), &new_base(), &theirs);
        assert!(conflicts.is_empty());
        assert!(!kept.contains_key("both"));
    }

    #[test]
    fn a_removed_template_the_tenant_edited_is_a_conflict() {
        let mut new = new_base();
        new.remove("edited");
        let (_, conflicts) = merge(&origin(), &new, &BTreeMap::new());
        assert!(
            conflicts
                .iter()
                .any(|c| c.template == "edited" && c.theirs.is_none())
        );
    }
}
