//! The helpers a template may call, checked when it is parsed: handlebars' logic helpers and
//! `track`. A misspelt helper (`{{trak config.link}}`) would otherwise fail every run, and
//! helpers with side effects (`log`) have no business in a tenant's text. A `track` given a
//! literal URL has it checked here too.

use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement};
use serde_json::Value;

use super::TemplateError;
use super::track::trackable;

/// Every helper a template may call.
pub const HELPERS: [&str; 16] = [
    "if", "unless", "each", "with", "lookup", "eq", "ne", "gt", "gte", "lt", "lte", "and", "or",
    "not", "len", "track",
];

/// An error for the first helper `template` calls that it may not, or a `track` of a literal
/// that is not an http(s) URL.
pub(super) fn check(template: &Template) -> Result<(), TemplateError> {
    for (index, element) in template.elements.iter().enumerate() {
        let position = template.mapping.get(index).map(|m| (m.0, m.1));
        let located = |message: String| TemplateError { message, position };
        match element {
            TemplateElement::HelperBlock(block) => {
                helper(block).map_err(located)?;
                for inner in [&block.template, &block.inverse].into_iter().flatten() {
                    check(inner)?;
                }
            }
            TemplateElement::Expression(call) | TemplateElement::HtmlExpression(call) => {
                helper(call).map_err(located)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks one call and the subexpressions among its arguments.
fn helper(call: &HelperTemplate) -> Result<(), String> {
    let calls = !call.params.is_empty() || !call.hash.is_empty() || call.block;
    let Parameter::Name(name) = &call.name else {
        return Ok(());
    };
    let name = name.as_str();
    if calls && !HELPERS.contains(&name) {
        let nearest = HELPERS
            .iter()
            .map(|h| (strsim::levenshtein(h, name), *h))
            .filter(|(d, _)| *d <= 2)
            .min()
            .map(|(_, h)| format!(" (did you mean `{h}`?)"))
            .unwrap_or_default();
        return Err(format!(
            "`{name}` is not a helper{nearest}; templates may use {}",
            HELPERS.join(", ")
        ));
    }
    if name == "track"
        && let Some(Parameter::Literal(Value::String(url))) = call.params.first()
    {
        trackable(url).map(drop)?;
    }
    for parameter in call.params.iter().chain(call.hash.values()) {
        if let Parameter::Subexpression(sub) = parameter
            && let TemplateElement::Expression(inner) = sub.element.as_ref()
        {
            helper(inner)?;
        }
    }
    Ok(())
}
