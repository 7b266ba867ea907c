//! The values a run's expressions and templates see, kept as JSON (for templates and the
//! store) with a rhai scope built from them on demand and refreshed per changed name.

use jiff::tz::TimeZone;
use rhai::Dynamic;
use serde_json::{Map, Value};

use crate::template::TemplateData;

/// Names every expression and template may read.
pub const BINDING_NAMES: [&str; 8] = [
    "event",
    "contact",
    "tenant",
    "config",
    "templates",
    "vars",
    "steps",
    "now",
];

/// A run's bindings.
#[derive(Debug, Clone)]
pub struct Bindings {
    json: TemplateData,
    zone: TimeZone,
    scope: rhai::Scope<'static>,
    stale: Vec<String>,
}

impl Bindings {
    /// Bindings with every name set to an empty object (`now` to the epoch) in UTC.
    pub fn empty() -> Self {
        let mut map = Map::new();
        for name in BINDING_NAMES {
            map.insert(name.into(), Value::Object(Map::new()));
        }
        map.insert("now".into(), Value::String("1970-01-01T00:00:00Z".into()));
        let stale = BINDING_NAMES.iter().map(|n| (*n).to_owned()).collect();
        Self {
            json: TemplateData::new(Value::Object(map)),
            zone: TimeZone::UTC,
            scope: rhai::Scope::new(),
            stale,
        }
    }

    /// Sets one top-level binding.
    pub fn set(&mut self, name: &str, value: Value) {
        if let Value::Object(map) = self.json.value_mut() {
            map.insert(name.to_owned(), value);
        }
        if !self.stale.iter().any(|n| n == name) {
            self.stale.push(name.to_owned());
        }
    }

    /// Sets `name.key` inside an object binding (e.g. `vars.score`, `steps.first_reply`).
    /// The rhai scope is updated in place, so each step costs one small conversion rather
    /// than a conversion of every output so far.
    pub fn set_field(&mut self, name: &str, key: &str, value: Value) {
        let fresh = !self.stale.iter().any(|n| n == name);
        if fresh && let Some(map) = self.scope.get_value_mut::<rhai::Map>(name) {
            map.insert(key.into(), to_dynamic(&value));
        } else if fresh {
            self.stale.push(name.to_owned());
        }
        if let Some(Value::Object(inner)) = self.json.value_mut().get_mut(name) {
            inner.insert(key.to_owned(), value);
        }
    }

    /// Removes `name.key` from an object binding (a step's output a loop's new iteration
    /// starts without).
    pub fn remove_field(&mut self, name: &str, key: &str) {
        let fresh = !self.stale.iter().any(|n| n == name);
        if fresh && let Some(map) = self.scope.get_value_mut::<rhai::Map>(name) {
            map.remove(key);
        } else if fresh {
            self.stale.push(name.to_owned());
        }
        if let Some(Value::Object(inner)) = self.json.value_mut().get_mut(name) {
            inner.remove(key);
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.json.value().get(name)
    }

    /// Everything as one JSON object.
    pub fn json(&self) -> &Value {
        self.json.value()
    }

    /// Everything, as templates read it.
    pub fn template_data(&self) -> &TemplateData {
        &self.json
    }

    /// The zone calendar arithmetic and `hour_of_day` use.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    pub fn set_zone(&mut self, zone: TimeZone) {
        self.zone = zone;
    }

    /// The rhai scope, with every changed binding converted again.
    pub fn rhai_scope(&mut self) -> &mut rhai::Scope<'static> {
        for name in std::mem::take(&mut self.stale) {
            let value = self
                .json
                .value()
                .get(&name)
                .map(to_dynamic)
                .unwrap_or(Dynamic::UNIT);
            self.scope.set_or_push(name, value);
        }
        &mut self.scope
    }

    /// Adds an extra name for one evaluation (e.g. `incoming`), replaced on the next call.
    pub fn set_extra(&mut self, name: &str, value: &Value) {
        self.scope.set_or_push(name.to_owned(), to_dynamic(value));
    }
}

fn to_dynamic(value: &Value) -> Dynamic {
    // Conversion of plain JSON cannot fail; fall back to unit rather than panic.
    rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT)
}

impl Default for Bindings {
    fn default() -> Self {
        Self::empty()
    }
}
