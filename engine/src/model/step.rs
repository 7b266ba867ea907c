//! A step of a flow: an `if` with nested `then`/`else` steps, a `for_each` with the steps it
//! repeats under `do`, or one step kind (`send_sms`, `wait`, ...) with its configuration,
//! plus the settings every step shares.
//!
//! The kinds come from [`crate::steps::registry`]: the JSON Schema of a step and the
//! recognition of its kind key both iterate that one list, so a new kind needs no change here.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::{OnError, OnUncertain, Purpose, RetryPolicy};
use crate::steps::registry;

/// The pattern step ids follow: a rhai identifier, so `steps.<id>` works in expressions.
pub const STEP_ID_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]{0,63}$";

/// Keys every step may carry besides its kind.
pub const COMMON_KEYS: [&str; 5] = ["id", "retry", "on_error", "on_uncertain", "purpose"];

/// One step of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: Option<String>,
    pub body: StepBody,
    pub retry: Option<RetryPolicy>,
    pub on_error: Option<OnError>,
    pub on_uncertain: Option<OnUncertain>,
    pub purpose: Option<Purpose>,
}

/// What the step does.
#[derive(Debug, Clone, PartialEq)]
pub enum StepBody {
    /// `if: <rhai>` with `then:` and optional `else:` steps.
    If {
        condition: String,
        then: Vec<Step>,
        otherwise: Vec<Step>,
    },
    /// `for_each: <rhai>` (a list) with the `do:` steps run once per item.
    ForEach { items: String, body: Vec<Step> },
    /// A registered kind: its YAML key and its configuration as written.
    Kind { key: String, config: Value },
}

impl Step {
    /// The kind key as written in YAML (`if` for branches).
    pub fn kind_key(&self) -> &str {
        match &self.body {
            StepBody::If { .. } => "if",
            StepBody::ForEach { .. } => "for_each",
            StepBody::Kind { key, .. } => key,
        }
    }

    /// The step lists nested in this one, each with the key it sits under (`then`, `else`,
    /// `do`); none for a step kind.
    pub fn nested(&self) -> Vec<(&'static str, &[Step])> {
        match &self.body {
            StepBody::If {
                then, otherwise, ..
            } => vec![("then", then), ("else", otherwise)],
            StepBody::ForEach { body, .. } => vec![("do", body)],
            StepBody::Kind { .. } => Vec::new(),
        }
    }
}

fn field<T: serde::de::DeserializeOwned, E: serde::de::Error>(
    map: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<T>, E> {
    match map.remove(key) {
        None => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| E::custom(format!("{key}: {e}"))),
    }
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Value::Object(mut map) = Value::deserialize(d)? else {
            return Err(D::Error::custom("a step must be a mapping"));
        };
        let id = field(&mut map, "id")?;
        let retry = field(&mut map, "retry")?;
        let on_error = field(&mut map, "on_error")?;
        let on_uncertain = field(&mut map, "on_uncertain")?;
        let purpose = field(&mut map, "purpose")?;
        let body = if let Some(condition) = field::<String, D::Error>(&mut map, "if")? {
            let then = field(&mut map, "then")?.unwrap_or_default();
            let otherwise = field(&mut map, "else")?.unwrap_or_default();
            StepBody::If {
                condition,
                then,
                otherwise,
            }
        } else if let Some(items) = field::<String, D::Error>(&mut map, "for_each")? {
            let body = field(&mut map, "do")?.unwrap_or_default();
            StepBody::ForEach { items, body }
        } else {
            let mut kinds = map.keys().filter(|k| registry::find(k).is_some()).cloned();
            let key = kinds
                .next()
                .ok_or_else(|| D::Error::custom(missing_kind_message()))?;
            if let Some(second) = kinds.next() {
                return Err(D::Error::custom(format!(
                    "a step has one kind, found `{key}` and `{second}`"
                )));
            }
            let config = map.remove(&key).unwrap_or(Value::Null);
            StepBody::Kind { key, config }
        };
        if let Some(unknown) = map.keys().next() {
            return Err(D::Error::custom(format!("unknown step field `{unknown}`")));
        }
        Ok(Self {
            id,
            body,
            retry,
            on_error,
            on_uncertain,
            purpose,
        })
    }
}

/// The message for a step without a kind, listing the kinds.
pub fn missing_kind_message() -> String {
    let mut keys: Vec<&str> = registry::kinds().iter().map(|k| k.key()).collect();
    keys.splice(0..0, ["if", "for_each"]);
    format!("a step needs exactly one kind: {}", keys.join(", "))
}

impl Serialize for Step {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        if let Some(id) = &self.id {
            map.serialize_entry("id", id)?;
        }
        match &self.body {
            StepBody::If {
                condition,
                then,
                otherwise,
            } => {
                map.serialize_entry("if", condition)?;
                map.serialize_entry("then", then)?;
                if !otherwise.is_empty() {
                    map.serialize_entry("else", otherwise)?;
                }
            }
            StepBody::ForEach { items, body } => {
                map.serialize_entry("for_each", items)?;
                map.serialize_entry("do", body)?;
            }
            StepBody::Kind { key, config } => map.serialize_entry(key, config)?,
        }
        if let Some(retry) = &self.retry {
            map.serialize_entry("retry", retry)?;
        }
        if let Some(on_error) = &self.on_error {
            map.serialize_entry("on_error", on_error)?;
        }
        if let Some(on_uncertain) = &self.on_uncertain {
            map.serialize_entry("on_uncertain", on_uncertain)?;
        }
        if let Some(purpose) = &self.purpose {
            map.serialize_entry("purpose", purpose)?;
        }
        map.end()
    }
}

impl JsonSchema for Step {
    fn schema_name() -> Cow<'static, str> {
        "Step".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let step_ref = generator.subschema_for::<Step>().to_value();
        let mut properties = Map::new();
        properties.insert(
            "id".into(),
            json!({"type": "string", "pattern": STEP_ID_PATTERN,
                   "description": "Step id, unique within the flow; later steps read this step's output as steps.<id>."}),
        );
        properties.insert(
            "retry".into(),
            with_description(
                generator.subschema_for::<RetryPolicy>(),
                "Retry policy for this step's action.",
            ),
        );
        properties.insert(
            "on_error".into(),
            with_description(
                generator.subschema_for::<OnError>(),
                "What to do when the action fails for good.",
            ),
        );
        properties.insert(
            "on_uncertain".into(),
            with_description(
                generator.subschema_for::<OnUncertain>(),
                "What to do with a send interrupted by a crash: flag (default) or resend.",
            ),
        );
        properties.insert(
            "purpose".into(),
            with_description(
                generator.subschema_for::<Purpose>(),
                "Overrides the flow's purpose for this send.",
            ),
        );
        properties.insert(
            "if".into(),
            json!({"type": "string", "description": "A rhai condition: run `then` when true, else `else`."}),
        );
        let branch = json!({"type": "array", "items": step_ref});
        properties.insert(
            "then".into(),
            with_description_value(branch.clone(), "Steps run when `if` is true."),
        );
        properties.insert(
            "else".into(),
            with_description_value(branch.clone(), "Steps run when `if` is false."),
        );
        properties.insert(
            "for_each".into(),
            json!({"type": "string", "description": "A rhai expression giving a list (at most 100 items): run `do` once per item, reading it as steps.<id>.item."}),
        );
        properties.insert(
            "do".into(),
            with_description_value(branch, "Steps run once per item of `for_each`."),
        );
        let mut one_of = vec![
            json!({"required": ["if"]}),
            json!({"required": ["for_each"]}),
        ];
        for kind in registry::kinds() {
            let schema = with_description(kind.schema(generator), kind.summary());
            properties.insert(kind.key().into(), schema);
            one_of.push(json!({"required": [kind.key()]}));
        }
        json_schema!({
            "type": "object",
            "description": "One step: an id, exactly one kind (if, for_each, send_sms, wait, ...) and optional retry/on_error.",
            "properties": properties,
            "additionalProperties": false,
            "oneOf": one_of,
            "dependentRequired": {"then": ["if"], "else": ["if"], "do": ["for_each"]}
        })
    }
}

use serde_json::json;

fn with_description(schema: Schema, text: &str) -> Value {
    with_description_value(schema.to_value(), text)
}

fn with_description_value(schema: Value, text: &str) -> Value {
    // A `$ref` with sibling keywords is fine in 2020-12, and editors show the description.
    let mut object = match schema {
        Value::Object(map) => map,
        other => return other,
    };
    object
        .entry("description")
        .or_insert_with(|| Value::String(text.to_owned()));
    Value::Object(object)
}
