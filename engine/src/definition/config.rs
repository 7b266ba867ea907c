//! A flow's declared config (a JSON Schema object, as a module's) and the values a tenant
//! gives it: the schema is checked when the flow is validated, the values when it is
//! published, so that a missing `booking_link` fails the publish, not every lead after it.

use serde_json::{Map, Value};

/// One thing wrong with the config values: where (a JSON pointer into the values) and what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfigProblem {
    pub pointer: String,
    pub message: String,
}

/// The keys the schema declares (`properties`).
pub fn declared_keys(schema: &Value) -> Vec<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// What is wrong with a config declaration, if anything: it must be a valid JSON Schema of an
/// object with `properties`, whose patterns the linear-time engine compiles.
pub fn check_schema(schema: &Value) -> Option<String> {
    if let Err(e) = jsonschema::draft202012::meta::validate(schema) {
        return Some(format!("not a valid JSON Schema: {e}"));
    }
    let object = schema.get("type").and_then(Value::as_str) == Some("object");
    if !object || !schema.get("properties").is_some_and(Value::is_object) {
        return Some("declare `type: object` and the keys under `properties`".into());
    }
    validator(schema).err()
}

/// The tenant's schema compiled with the `regex` engine: its `pattern`s run in linear time,
/// so no pattern a tenant writes can backtrack for long (fancy-regex, jsonschema's default,
/// backtracks; look-around and back-references are refused instead).
pub(crate) fn validator(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(schema)
        .map_err(|e| format!("not a usable JSON Schema: {e}"))
}

/// `given` checked against `schema`, with the schema's defaults filled in: every unknown key,
/// missing required key and wrong type at once.
pub fn resolve(schema: &Value, given: &Value) -> Result<Value, Vec<ConfigProblem>> {
    let Some(given) = given.as_object() else {
        return Err(vec![ConfigProblem {
            pointer: String::new(),
            message: "the config values are a JSON object".into(),
        }]);
    };
    let declared = declared_keys(schema);
    let mut problems: Vec<ConfigProblem> = given
        .keys()
        .filter(|k| !declared.contains(k))
        .map(|k| ConfigProblem {
            pointer: format!("/{}", crate::steps::context::escape(k)),
            message: format!(
                "{k} is not declared in the flow's config (it declares {})",
                declared.join(", ")
            ),
        })
        .collect();
    let mut values = Map::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (key, property) in properties {
            if let Some(default) = property.get("default") {
                values.insert(key.clone(), default.clone());
            }
        }
    }
    values.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    let values = Value::Object(values);
    match validator(schema) {
        Ok(validator) => problems.extend(validator.iter_errors(&values).map(|e| ConfigProblem {
            pointer: e.instance_path().as_str().to_owned(),
            message: e.to_string(),
        })),
        Err(e) => problems.push(ConfigProblem {
            pointer: String::new(),
            message: format!("the flow's config declaration: {e}"),
        }),
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "required": ["booking_link"], "properties": {
            "booking_link": {"type": "string", "format": "uri"},
            "hot_keywords": {"type": "array", "items": {"type": "string"}, "default": ["asap"]}}})
    }

    #[test]
    fn defaults_fill_in_and_given_values_win() {
        let values = resolve(&schema(), &json!({"booking_link": "https://b.example"})).unwrap();
        assert_eq!(
            values,
            json!({"booking_link": "https://b.example", "hot_keywords": ["asap"]})
        );
    }

    #[test]
    fn every_problem_at_once_with_its_place() {
        let problems =
            resolve(&schema(), &json!({"hot_keywords": [1], "colour": "blue"})).unwrap_err();
        let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert!(pointers.contains(&"/colour"), "{problems:?}");
        assert!(pointers.contains(&"/hot_keywords/0"), "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.pointer.is_empty() && p.message.contains("booking_link")),
            "{problems:?}"
        );
        let bad_uri = resolve(&schema(), &json!({"booking_link": "not a link"})).unwrap_err();
        assert_eq!(bad_uri[0].pointer, "/booking_link");
    }

    #[test]
    fn a_tenant_pattern_runs_in_linear_time() {
        // Catastrophic for a backtracking engine; linear here, so it simply does not match.
        let nested = json!({"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}}});
        let value = format!("{}b", "a".repeat(5_000));
        let problems = resolve(&nested, &json!({ "code": value })).unwrap_err();
        assert_eq!(problems[0].pointer, "/code");
        // What only a backtracking engine can run is refused when the flow is validated.
        let lookaround = json!({"type": "object", "properties": {"code": {"type": "string", "pattern": "^(?=a)a$"}}});
        assert!(check_schema(&lookaround).is_some());
    }
}
