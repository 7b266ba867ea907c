//! What a step kind sees: [`CheckCx`] while a flow is validated, [`StepCx`] while it runs.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use serde_json::{Map, Value};

pub use super::references::references;
use crate::audience::fields::FieldType;
use crate::definition::{Diagnostic, Severity};
use crate::expr::{Bindings, Expr};
use crate::model::{Contact, Flow};
use crate::template::track::{LinkScope, TrackedLink, tracking};
use crate::template::{Segments, TemplateData, Templates, limits};

/// Compiled templates and expressions of a flow, keyed `"<pc>/<field>"`.
#[derive(Debug, Clone)]
pub struct Artifacts {
    pub templates: Templates,
    pub exprs: HashMap<String, Expr>,
}

/// Collects what checking a flow finds and compiles.
#[derive(Debug)]
pub struct CheckSink {
    pub diagnostics: Vec<Diagnostic>,
    pub artifacts: Artifacts,
    /// The steps before the one being checked (what `steps.<id>` may name).
    pub earlier_steps: Vec<EarlierStep>,
    /// Whether `steps.<id>.<field>` must be one of the step's outputs (not for versions stored
    /// before that rule, which must keep loading).
    pub check_outputs: bool,
    /// For module flows: the config keys the module declares.
    pub config_keys: Option<Vec<String>>,
    /// For module flows: the module's copy (`templates.*`), by name.
    pub copy: Option<std::collections::BTreeMap<String, String>>,
    /// The tenant's library templates the flow names; `None` away from its tenant.
    pub library: Option<crate::template::library::Library>,
}

/// A step before the one being checked.
#[derive(Debug)]
pub struct EarlierStep {
    pub id: String,
    /// `send_sms`, `if`, ...
    pub kind: &'static str,
    /// The fields it leaves in `steps.<id>`; `None` when its configuration did not parse (its
    /// own error is reported, so references to it are not).
    pub outputs: Option<Vec<String>>,
}

/// Checking one step's configuration.
#[derive(Debug)]
pub struct CheckCx<'a> {
    pub(crate) pc: usize,
    /// JSON pointer of the kind's configuration, e.g. `/steps/2/send_sms`.
    pub(crate) pointer: String,
    pub(crate) sink: &'a mut CheckSink,
    pub(crate) flow: &'a Flow,
}

impl CheckCx<'_> {
    fn pointer_of(&self, field: &str) -> String {
        if field.is_empty() {
            self.pointer.clone()
        } else {
            format!("{}/{field}", self.pointer)
        }
    }

    /// Whether the rules added since a version was stored apply (`false` while a stored
    /// version is recompiled, so that its runs go on).
    pub fn checks_new_rules(&self) -> bool {
        self.sink.check_outputs
    }

    /// The flow being checked (for lints that depend on flow settings).
    pub fn flow(&self) -> &Flow {
        self.flow
    }

    /// Reports an error at `field` (a pointer suffix such as `body` or `headers/X-Key`).
    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        let d = Diagnostic::new(Severity::Error, self.pointer_of(field), message);
        self.sink.diagnostics.push(d);
    }

    /// Reports a warning at `field`; warnings do not fail validation.
    pub fn warning(&mut self, field: &str, message: impl Into<String>) {
        let d = Diagnostic::new(Severity::Warning, self.pointer_of(field), message);
        self.sink.diagnostics.push(d);
    }

    /// Parses a template the step renders at run time as `field` (at most
    /// [`limits::DEFAULT`] characters).
    pub fn template(&mut self, field: &str, source: &str) {
        self.template_limited(field, source, limits::DEFAULT);
    }

    /// Parses a template the step renders at run time as `field`, into at most `limit`.
    pub fn template_limited(&mut self, field: &str, source: &str, limit: limits::Limit) {
        self.check_references(field, source);
        let spliced = match self.sink.copy.take() {
            Some(copy) => {
                // The copy's own fields and config keys are checked where it is declared;
                // which steps come earlier is known only here, where it is used.
                for name in references(source, "templates.") {
                    if let Some(text) = copy.get(name) {
                        self.check_step_references(field, text, &format!("templates.{name}: "));
                    }
                }
                let spliced = crate::template::copy::splice(source, &copy);
                let leftover = crate::template::copy::leftover(&spliced, &copy);
                self.sink.copy = Some(copy);
                if let Some(message) = leftover {
                    self.error(field, message);
                    return;
                }
                spliced
            }
            None => std::borrow::Cow::Borrowed(source),
        };
        let library = self.sink.library.take();
        let with_library = crate::template::library::splice(&spliced, library.as_ref()).map(|s| {
            (
                s.into_owned(),
                crate::template::library::texts(&spliced, library.as_ref()),
            )
        });
        self.sink.library = library;
        let spliced = match with_library {
            Ok((spliced, texts)) => {
                // A library text may name what the field may: the same checks apply to it.
                for text in texts {
                    self.check_references(field, &text);
                }
                spliced
            }
            Err(message) => {
                self.error(field, message);
                return;
            }
        };
        let key = format!("{}/{field}", self.pc);
        if let Err(e) = self
            .sink
            .artifacts
            .templates
            .add_limited(&key, &spliced, limit)
        {
            let at = e
                .position
                .map(|(l, c)| format!(" (template line {l}, column {c})"))
                .unwrap_or_default();
            self.error(field, format!("{}{at}", e.message));
        }
    }

    /// Parses every string inside `value` as a template, under `field/<path>`.
    pub fn template_tree(&mut self, field: &str, value: &Value) {
        match value {
            Value::String(text) => self.template(field, text),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.template_tree(&format!("{field}/{i}"), item);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    self.template_tree(&format!("{field}/{}", escape(key)), item);
                }
            }
            _ => {}
        }
    }

    /// Parses the strings of a map of fields (`fields: {...}`) as templates, and reports any
    /// of `required` that is missing for `action`.
    pub fn field_templates(
        &mut self,
        field: &str,
        action: &str,
        map: &Map<String, Value>,
        required: &[&str],
    ) {
        for name in required.iter().filter(|name| !map.contains_key(**name)) {
            self.error(field, format!("{action} needs the field `{name}`"));
        }
        for (name, value) in map {
            self.template_tree(&format!("{field}/{}", escape(name)), value);
        }
    }

    /// Compiles an expression the step evaluates at run time as `field`; `extra` names
    /// bindings available to it besides the usual ones.
    pub fn expression(&mut self, field: &str, source: &str, extra: &[&str]) {
        self.check_references(field, source);
        match Expr::compile(source, extra) {
            Ok(expr) => {
                self.sink
                    .artifacts
                    .exprs
                    .insert(format!("{}/{field}", self.pc), expr);
            }
            Err(e) => {
                let at = e
                    .position
                    .map(|(l, c)| format!(" (expression line {l}, column {c})"))
                    .unwrap_or_default();
                self.error(field, format!("{}{at}", e.message));
            }
        }
    }
}

/// `value` with every string HTML-escaped, for templates rendered as HTML.
fn html_escaped(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(handlebars::html_escape(text)),
        Value::Array(items) => Value::Array(items.iter().map(html_escaped).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), html_escaped(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A step's failure at run time (a template naming a missing value, an expression error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct StepError {
    pub field: String,
    pub message: String,
}

/// Running one step.
#[derive(Debug)]
pub struct StepCx<'a> {
    pub(crate) pc: usize,
    pub step_id: &'a str,
    pub now: Timestamp,
    pub(crate) artifacts: &'a Artifacts,
    pub(crate) bindings: &'a mut Bindings,
    pub(crate) contact: &'a mut Contact,
    /// Set when the step changed the contact, so the runtime stores it.
    pub(crate) contact_changed: bool,
    /// Where `{{track …}}` links point; `None`: URLs are rendered as written.
    pub(crate) link_scope: Option<&'a LinkScope>,
    /// The tracked links renders made, for the runtime to store before sending.
    pub(crate) tracked: &'a mut Vec<TrackedLink>,
    /// The tenant's declared custom fields, which hold their types in every write.
    pub(crate) custom_fields: &'a BTreeMap<String, FieldType>,
}

impl StepCx<'_> {
    fn key(&self, field: &str) -> String {
        format!("{}/{field}", self.pc)
    }

    /// Renders a map of fields checked with [`CheckCx::field_templates`].
    pub fn render_fields(
        &mut self,
        field: &str,
        map: &Map<String, Value>,
    ) -> Result<Map<String, Value>, StepError> {
        map.iter()
            .map(|(name, value)| {
                Ok((
                    name.clone(),
                    self.render_tree(&format!("{field}/{}", escape(name)), value)?,
                ))
            })
            .collect()
    }

    /// The pool number the campaign that started this run sends from, if any
    /// (`event.data.campaign.sender`).
    pub fn campaign_sender(&self) -> Option<String> {
        let data = self.bindings.template_data();
        let event = &data.value()["event"];
        (event["type"] == "enrolled")
            .then(|| {
                event["data"]["campaign"]["sender"]
                    .as_str()
                    .map(str::to_owned)
            })
            .flatten()
    }

    /// Renders the template checked as `field`.
    pub fn render(&mut self, field: &str) -> Result<String, StepError> {
        let key = self.key(field);
        let (templates, data) = (&self.artifacts.templates, self.bindings.template_data());
        let (rendered, links) =
            tracking(self.link_scope, false, || templates.render_data(&key, data));
        self.tracked.extend(links);
        rendered.map_err(|e| StepError {
            field: field.into(),
            message: e.message,
        })
    }

    /// Renders the template checked as `field` as HTML: every value it shows is HTML-escaped
    /// (a contact named `<b>Ana</b>` shows as text), the template's own markup is kept.
    pub fn render_html(&mut self, field: &str) -> Result<String, StepError> {
        let escaped = TemplateData::new(html_escaped(self.bindings.template_data().value()));
        let (key, templates) = (self.key(field), &self.artifacts.templates);
        let (rendered, links) = tracking(self.link_scope, true, || {
            templates.render_data(&key, &escaped)
        });
        self.tracked.extend(links);
        rendered.map_err(|e| StepError {
            field: field.into(),
            message: e.message,
        })
    }

    /// Renders the template checked as `field`, with its SMS segment count.
    pub fn render_sms(&mut self, field: &str) -> Result<(String, Segments), StepError> {
        let text = self.render(field)?;
        let segments = Segments::of(&text);
        Ok((text, segments))
    }

    /// Renders every string inside `value`, whose strings were checked as `field/...`.
    pub fn render_tree(&mut self, field: &str, value: &Value) -> Result<Value, StepError> {
        Ok(match value {
            Value::String(_) => Value::String(self.render(field)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.render_tree(&format!("{field}/{i}"), v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            self.render_tree(&format!("{field}/{}", escape(k)), v)?,
                        ))
                    })
                    .collect::<Result<_, StepError>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Evaluates the expression checked as `field` to JSON.
    pub fn eval(&mut self, field: &str) -> Result<Value, StepError> {
        let artifacts = self.artifacts;
        let expr = artifacts
            .exprs
            .get(&self.key(field))
            .ok_or_else(|| StepError {
                field: field.into(),
                message: "expression was not compiled".into(),
            })?;
        expr.eval_json(self.bindings).map_err(|e| StepError {
            field: field.into(),
            message: e.message,
        })
    }

    /// The contact as it is now.
    pub fn contact(&self) -> &Contact {
        self.contact
    }

    /// Changes the contact; later steps see the change and the runtime stores it.
    pub fn update_contact(&mut self, change: impl FnOnce(&mut Contact)) {
        change(self.contact);
        self.contact_changed = true;
        self.bindings.set(
            "contact",
            serde_json::to_value(&*self.contact).unwrap_or(Value::Null),
        );
    }

    /// Sets `vars.<name>`.
    pub fn set_var(&mut self, name: &str, value: Value) {
        self.bindings.set_field("vars", name, value);
    }

    /// The zone of the run (the contact's, else the tenant's).
    pub fn zone(&self) -> &jiff::tz::TimeZone {
        self.bindings.zone()
    }
}

/// Escapes a map key for use in a JSON pointer.
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::references;

    #[test]
    fn finds_step_references() {
        let found: Vec<_> = references(
            "steps.booked.timed_out && !steps.x1 || mysteps.no",
            "steps.",
        )
        .collect();
        assert_eq!(found, ["booked", "x1"]);
        let found: Vec<_> =
            references("{{config.booking_link}} {{ config.a_b }}", "config.").collect();
        assert_eq!(found, ["booking_link", "a_b"]);
    }
}
