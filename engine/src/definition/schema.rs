//! JSON Schemas of flows, modules and packs, generated from the model types (the single
//! source of truth; `schemas/*.schema.json` are these, committed), and the check of a document
//! against them with errors a person can act on.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema};
use serde_json::{Value, json};

use super::{Diagnostic, Severity};
use crate::model::{
    COMMON_KEYS, DURATION_PATTERN, Flow, FlowDuration, Module, Pack, missing_kind_message,
};
use crate::steps::registry;

/// The kinds of document Stepwise reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Flow,
    Module,
    Pack,
}

impl DocumentKind {
    pub const ALL: [Self; 3] = [Self::Flow, Self::Module, Self::Pack];

    pub fn name(self) -> &'static str {
        match self {
            Self::Flow => "flow",
            Self::Module => "module",
            Self::Pack => "pack",
        }
    }

    /// Guesses the kind from the top-level keys: a module has `flow`, a pack `modules`.
    pub fn detect(document: &Value) -> Self {
        if document.get("flow").is_some() {
            Self::Module
        } else if document.get("modules").is_some() {
            Self::Pack
        } else {
            Self::Flow
        }
    }
}

/// Optional fields are written as absent, never as `null`: drop schemars' `null` alternatives
/// so that `name: ~` is an error and editors do not offer `null`.
fn strip_null(schema: &mut Schema) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            object.insert("type".into(), only);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = object.get_mut(key) {
            options.retain(|o| o != &json!({"type": "null"}));
            if options.len() == 1 && key == "anyOf" {
                let only = options.remove(0);
                object.remove(key);
                if let Value::Object(inner) = only {
                    object.extend(inner);
                }
            }
        }
    }
}

/// Removes `"default": null` everywhere: schemars adds it to optional fields after the
/// transforms ran; it says nothing, contradicts the field's type, and breaks editors that
/// pre-fill defaults (yaml-language-server's completion throws on it).
fn drop_null_defaults(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            map.values_mut().for_each(drop_null_defaults);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null_defaults),
        _ => {}
    }
}

fn generate<T: JsonSchema>(id: &str, title: &str) -> Value {
    let generator = SchemaSettings::draft2020_12()
        .for_deserialize()
        .with_transform(RecursiveTransform(strip_null))
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    drop_null_defaults(&mut schema);
    if let Value::Object(map) = &mut schema {
        map.insert(
            "$id".into(),
            json!(format!("https://stepwise.dev/schemas/{id}.schema.json")),
        );
        map.insert("title".into(), json!(title));
    }
    schema
}

/// The JSON Schema of `kind`, as committed under `schemas/`.
pub fn schema_of(kind: DocumentKind) -> Value {
    match kind {
        DocumentKind::Flow => {
            let mut schema = generate::<Flow>("flow", "Stepwise flow");
            // A standalone flow names itself; a module's flow takes the module's id.
            if let Some(Value::Array(required)) = schema.get_mut("required") {
                required.insert(0, json!("id"));
            }
            schema
        }
        DocumentKind::Module => generate::<Module>("module", "Stepwise module"),
        DocumentKind::Pack => generate::<Pack>("pack", "Stepwise pack"),
    }
}

fn validator(kind: DocumentKind) -> &'static Validator {
    static VALIDATORS: [OnceLock<Validator>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let index = DocumentKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(0);
    VALIDATORS[index].get_or_init(|| {
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema_of(kind))
            .unwrap_or_else(|e| panic!("the generated {} schema is invalid: {e}", kind.name()))
    })
}

/// Checks `document` against the schema of `kind`; diagnostics carry pointers only.
pub fn check(kind: DocumentKind, document: &Value) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for error in validator(kind).iter_errors(document) {
        translate(&error, &mut out);
    }
    // An unknown key in a step also fails the step's "exactly one kind" rule; say it once.
    let unknown_at: Vec<String> = out
        .iter()
        .filter(|d| d.message.starts_with("unknown"))
        .filter_map(|d| {
            d.pointer
                .rsplit_once('/')
                .map(|(parent, _)| parent.to_owned())
        })
        .collect();
    out.retain(|d| !(d.message.starts_with("a step needs") && unknown_at.contains(&d.pointer)));
    out.dedup_by(|a, b| a.pointer == b.pointer && a.message == b.message);
    out
}

fn translate(error: &ValidationError<'_>, out: &mut Vec<Diagnostic>) {
    let pointer = error.instance_path().as_str().to_owned();
    let at = |pointer: String, message: String| Diagnostic::new(Severity::Error, pointer, message);
    let is_step = is_step_pointer(&pointer);
    let message = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for key in unexpected {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                let message = if pointer.is_empty() {
                    unknown_root_key(key, error.instance())
                } else {
                    unknown_key(key, error.instance(), is_step)
                };
                out.push(at(format!("{pointer}/{escaped}"), message));
            }
            return;
        }
        ValidationErrorKind::OneOfNotValid { .. } if is_step => missing_kind_message(),
        ValidationErrorKind::OneOfMultipleValid { .. } if is_step => {
            let kinds: Vec<&str> = error
                .instance()
                .as_object()
                .map(|m| {
                    m.keys()
                        .filter(|k| *k == "if" || registry::find(k).is_some())
                        .map(String::as_str)
                        .collect()
                })
                .unwrap_or_default();
            format!("a step has exactly one kind, found {}", kinds.join(" and "))
        }
        ValidationErrorKind::Pattern { pattern } if pattern == DURATION_PATTERN => {
            let text = error.instance().as_str().unwrap_or_default();
            match text.parse::<FlowDuration>() {
                Err(e) => e.to_string(),
                Ok(_) => format!("\"{text}\" is too long a duration"),
            }
        }
        ValidationErrorKind::Required { property } => {
            format!("missing field `{}`", property.as_str().unwrap_or_default())
        }
        _ => error.to_string(),
    };
    out.push(at(pointer, message));
}

/// `/steps/3`, `/steps/0/then/1`, `/flow/steps/2`: a pointer to a step.
fn is_step_pointer(pointer: &str) -> bool {
    let mut parts = pointer.rsplit('/');
    let index = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    index && matches!(parts.next(), Some("steps" | "then" | "else"))
}

fn unknown_key(key: &str, parent: &Value, is_step: bool) -> String {
    let allowed: Vec<String> = if is_step {
        let mut keys: Vec<String> = COMMON_KEYS.iter().map(|k| (*k).to_owned()).collect();
        keys.extend(["if", "then", "else"].map(String::from));
        keys.extend(registry::kinds().iter().map(|k| k.key().to_owned()));
        keys
    } else {
        // The keys the schema allows here are not in the error; offer only what is present.
        let _ = parent;
        Vec::new()
    };
    let closest = allowed
        .iter()
        .map(|k| (strsim::damerau_levenshtein(key, k), k))
        .filter(|(distance, _)| *distance <= 2)
        .min();
    let what = if is_step {
        "step kind or field"
    } else {
        "field"
    };
    match closest {
        Some((_, suggestion)) => format!("unknown {what} `{key}` (did you mean `{suggestion}`?)"),
        None if is_step => format!("unknown {what} `{key}`; {}", missing_kind_message()),
        None => format!("unknown {what} `{key}`"),
    }
}

fn unknown_root_key(key: &str, document: &Value) -> String {
    let schema = schema_of(DocumentKind::detect(document));
    let allowed: Vec<&String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    let closest = allowed
        .iter()
        .map(|k| (strsim::damerau_levenshtein(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min();
    match closest {
        Some((_, suggestion)) => format!("unknown field `{key}` (did you mean `{suggestion}`?)"),
        None => format!(
            "unknown field `{key}` (allowed: {})",
            allowed
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
