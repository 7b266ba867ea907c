//! The values an installed module runs with: the module's defaults, then a pack's, then the
//! tenant's config and copy, checked against the module's schema with every problem at its
//! place; and the JSON merge patch a change applies to the tenant's own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalog::CatalogModule;
use crate::definition::config::{self, ConfigProblem};
use crate::error::EngineError;

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

/// RFC 7396 JSON merge patch.
pub(super) fn merge_patch(target: &mut Value, patch: &Value) {
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
