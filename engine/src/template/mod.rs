//! Message templates: handlebars in strict mode, without HTML escaping (SMS and plain text),
//! with the tenant's snippets as partials and the SMS segment count of every rendered text.

mod segments;

use std::collections::BTreeMap;

use handlebars::{Handlebars, RenderErrorReason, TemplateErrorReason};
use serde_json::Value;

pub use segments::{Encoding, Segments};

/// Why a template did not parse or render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub message: String,
    /// 1-based line and column inside the template, when known.
    pub position: Option<(usize, usize)>,
}

/// The values templates render with, kept in the form handlebars reads without copying them.
#[derive(Debug, Clone)]
pub struct TemplateData(handlebars::Context);

impl TemplateData {
    pub fn new(value: Value) -> Self {
        Self(handlebars::Context::from(value))
    }

    pub fn value(&self) -> &Value {
        self.0.data()
    }

    pub fn value_mut(&mut self) -> &mut Value {
        self.0.data_mut()
    }
}

/// A set of compiled templates sharing one set of partials.
#[derive(Debug, Clone)]
pub struct Templates {
    registry: Handlebars<'static>,
}

impl Templates {
    /// An empty set whose templates may use `partials` as `{{> name}}`.
    pub fn new(partials: &BTreeMap<String, String>) -> Result<Self, (String, TemplateError)> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        registry.set_prevent_indent(true);
        for (name, source) in partials {
            registry
                .register_partial(name, source.as_str())
                .map_err(|e| (name.clone(), parse_error(&e)))?;
        }
        Ok(Self { registry })
    }

    /// Parses `source` and keeps it under `name`.
    pub fn add(&mut self, name: &str, source: &str) -> Result<(), TemplateError> {
        self.registry
            .register_template_string(name, source)
            .map_err(|e| parse_error(&e))
    }

    /// Parses `source` without keeping it.
    pub fn check(source: &str) -> Result<(), TemplateError> {
        handlebars::Template::compile(source)
            .map(|_| ())
            .map_err(|e| parse_error(&e))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.registry.has_template(name)
    }

    /// Renders the template kept under `name` (copies `data`; see [`Templates::render_data`]).
    pub fn render(&self, name: &str, data: &Value) -> Result<String, TemplateError> {
        self.render_data(name, &TemplateData::new(data.clone()))
    }

    /// Renders the template kept under `name` with `data`, without copying it.
    pub fn render_data(&self, name: &str, data: &TemplateData) -> Result<String, TemplateError> {
        self.registry.render_with_context(name, &data.0).map_err(|e| {
            let message = match e.reason() {
                RenderErrorReason::MissingVariable(Some(path)) => {
                    format!("the template uses {{{{{path}}}}}, which has no value here")
                }
                RenderErrorReason::PartialNotFound(partial) => {
                    format!("the template uses the snippet {{{{> {partial}}}}}, which this tenant does not have")
                }
                other => other.to_string(),
            };
            TemplateError { message, position: e.line_no.map(|l| (l, e.column_no.unwrap_or(1))) }
        })
    }
}

fn parse_error(e: &handlebars::TemplateError) -> TemplateError {
    let message = match e.reason() {
        TemplateErrorReason::InvalidSyntax(_) => {
            "invalid template syntax (check that each {{ has a matching }} and each {{#block}} is closed)".to_owned()
        }
        other => other.to_string(),
    };
    TemplateError {
        message,
        position: e.pos(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn templates() -> Templates {
        let partials = BTreeMap::from([(
            "greeting".to_owned(),
            "Hi {{contact.first_name}}!".to_owned(),
        )]);
        Templates::new(&partials).unwrap()
    }

    #[test]
    fn renders_without_html_escaping_and_with_partials() {
        let mut t = templates();
        t.add("sms", "{{> greeting}} Q&A <b>{{tenant.name}}</b>")
            .unwrap();
        let out = t
            .render(
                "sms",
                &json!({"contact": {"first_name": "Ana"}, "tenant": {"name": "Smile & Co"}}),
            )
            .unwrap();
        assert_eq!(out, "Hi Ana! Q&A <b>Smile & Co</b>");
    }

    #[test]
    fn a_missing_variable_is_an_error_naming_it() {
        let mut t = templates();
        t.add("sms", "Hello {{contact.last_name}}").unwrap();
        let err = t.render("sms", &json!({"contact": {}})).unwrap_err();
        assert!(
            err.message.contains("{{contact.last_name}}"),
            "{}",
            err.message
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = Templates::check("Hi\n{{contact.first_name").unwrap_err();
        assert!(err.position.is_some());
        assert!(err.message.contains("matching }}"));
    }

    #[test]
    fn an_unknown_snippet_fails_at_render() {
        let mut t = templates();
        t.add("sms", "{{> nope}}").unwrap();
        let err = t.render("sms", &json!({})).unwrap_err();
        assert!(err.message.contains("nope"), "{}", err.message);
    }
}
