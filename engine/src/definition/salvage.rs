//! Every error at once: when the schema check refuses parts of a flow (a bad duration, a
//! wrong type, an unknown key), those parts are set aside (each refused step replaced by a
//! placeholder with its id, a refused optional setting dropped) so that the semantic checks
//! (expressions, templates, references, duplicates) still run on the rest. The author sees
//! every problem in one pass instead of meeting them one fix at a time.

use serde_json::{Map, Value, json};

use super::Diagnostic;

/// Top-level keys a flow may have; any other is refused by the schema and dropped here.
const FLOW_KEYS: [&str; 12] = [
    "id",
    "name",
    "description",
    "trigger",
    "concurrency",
    "cancel_on",
    "quiet_hours",
    "purpose",
    "retry",
    "on_uncertain",
    "config",
    "steps",
];

/// The flow `document` with the parts `refused` points into set aside, and the pointers of
/// those parts (diagnostics under them come from the placeholders and mean nothing). `None`
/// when too little is left to check (no steps).
pub(super) fn set_aside(document: &Value, refused: &[Diagnostic]) -> Option<(Value, Vec<String>)> {
    let mut json = document.clone();
    let mut aside = Vec::new();
    for diagnostic in refused {
        let segments: Vec<&str> = diagnostic.pointer.split('/').skip(1).collect();
        if let Some(step) = innermost_step(&segments) {
            let pointer = format!("/{}", segments[..step].join("/"));
            replace_step(&mut json, &pointer);
            aside.push(pointer);
        } else if let Some(first) = segments.first() {
            let object = json.as_object_mut()?;
            match *first {
                "steps" => return None,
                "trigger" => {
                    object.insert("trigger".into(), json!({ "event": "set.aside" }));
                }
                key => {
                    object.remove(key);
                }
            }
            aside.push(format!("/{first}"));
        } else {
            // At the document itself: unknown top-level keys, a missing trigger.
            let object = json.as_object_mut()?;
            object.retain(|key, _| FLOW_KEYS.contains(&key.as_str()));
            if !object.contains_key("trigger") {
                object.insert("trigger".into(), json!({ "event": "set.aside" }));
                aside.push("/trigger".into());
            }
        }
    }
    json.get("steps")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty())
        .then_some((json, aside))
}

/// How many leading segments name the innermost step the pointer is in, if any
/// (`steps/2/then/0/wait/for` → 4).
fn innermost_step(segments: &[&str]) -> Option<usize> {
    (1..segments.len())
        .rev()
        .find(|&i| {
            matches!(segments[i - 1], "steps" | "then" | "else")
                && segments[i].parse::<usize>().is_ok()
        })
        .map(|i| i + 1)
}

/// Replaces the step at `pointer` by a step that checks cleanly and keeps its id, so that
/// references to it (`steps.<id>`, `goto`) still resolve.
fn replace_step(json: &mut Value, pointer: &str) {
    let Some(step) = json.pointer_mut(pointer) else {
        return;
    };
    let mut placeholder = Map::new();
    if let Some(id) = step.get("id").filter(|id| id.is_string()) {
        placeholder.insert("id".into(), id.clone());
    }
    placeholder.insert("set".into(), json!({}));
    *step = Value::Object(placeholder);
}

/// Whether `pointer` is one of `aside` or inside one.
pub(super) fn is_aside(pointer: &str, aside: &[String]) -> bool {
    aside
        .iter()
        .any(|a| pointer == a || pointer.starts_with(&format!("{a}/")))
}
