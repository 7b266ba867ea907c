//! What a template may include, checked before anything renders: only the tenant's snippets,
//! by their plain names (`{{> greeting}}`), never a flow's own templates, never itself through
//! a chain of snippets, and at most [`MAX_SNIPPET_DEPTH`] deep. Inline partials, partial
//! blocks and other decorators are refused. Handlebars recurses on the thread's stack for every
//! include, so a cycle would abort the whole process; with these checks every template that
//! reaches the renderer expands to a finite tree of bounded depth.
//!
//! Also the least length a template renders to (its text outside any block, snippets
//! included), which tells at publish time that a text can never fit its channel.

use std::collections::{BTreeMap, HashMap};

use handlebars::template::{Parameter, Template, TemplateElement, TemplateMapping};

use super::TemplateError;

/// How many snippets deep one include may go (a snippet including a snippet ... ).
pub const MAX_SNIPPET_DEPTH: usize = 8;

/// The snippets a parsed template includes, by name, in order; an error for any include or
/// decorator this module refuses.
pub(super) fn included(template: &Template) -> Result<Vec<String>, TemplateError> {
    let mut names = Vec::new();
    collect(template, &mut names)?;
    Ok(names)
}

fn at(mapping: &[TemplateMapping], index: usize) -> Option<(usize, usize)> {
    mapping.get(index).map(|m| (m.0, m.1))
}

fn collect(template: &Template, names: &mut Vec<String>) -> Result<(), TemplateError> {
    for (index, element) in template.elements.iter().enumerate() {
        let position = at(&template.mapping, index);
        match element {
            TemplateElement::HelperBlock(block) => {
                for inner in [&block.template, &block.inverse].into_iter().flatten() {
                    collect(inner, names)?;
                }
            }
            TemplateElement::PartialExpression(partial) => match &partial.name {
                Parameter::Name(name) if name != "@partial-block" => names.push(name.clone()),
                _ => {
                    return Err(TemplateError {
                        message: "a snippet is included by its name, e.g. {{> greeting}} \
                                  (not by an expression or @partial-block)"
                            .into(),
                        position,
                    });
                }
            },
            TemplateElement::PartialBlock(_) => {
                return Err(TemplateError {
                    message: "partial blocks ({{#> name}}...{{/name}}) are not supported: \
                              include a snippet with {{> name}}"
                        .into(),
                    position,
                });
            }
            TemplateElement::DecoratorExpression(_) | TemplateElement::DecoratorBlock(_) => {
                return Err(TemplateError {
                    message: "inline partials and decorators ({{#*inline}}, {{* ...}}) are not \
                              supported: define a snippet in the tenant's settings instead"
                        .into(),
                    position,
                });
            }
            TemplateElement::RawString(_)
            | TemplateElement::Expression(_)
            | TemplateElement::HtmlExpression(_)
            | TemplateElement::Comment(_) => {}
            // A kind of element a later handlebars adds is refused until it is understood.
            _ => {
                return Err(TemplateError {
                    message: "this template construct is not supported".into(),
                    position,
                });
            }
        }
    }
    Ok(())
}

/// The characters `template` renders at the least: its text outside any block, with the
/// least length of each snippet it includes there (`snippet_min`).
pub(super) fn min_chars(template: &Template, snippet_min: &HashMap<String, usize>) -> usize {
    template
        .elements
        .iter()
        .map(|element| match element {
            TemplateElement::RawString(text) => text.chars().count(),
            TemplateElement::PartialExpression(partial) => match &partial.name {
                Parameter::Name(name) => snippet_min.get(name).copied().unwrap_or(0),
                _ => 0,
            },
            _ => 0,
        })
        .fold(0, usize::saturating_add)
}

/// Snippets parsed and checked as a whole: each includes only snippets that exist, no chain
/// of includes comes back to where it started, none is deeper than [`MAX_SNIPPET_DEPTH`].
/// Answers each snippet's least rendered length, or the first offending snippet's name with
/// what is wrong.
pub(super) fn check_snippets(
    snippets: &BTreeMap<String, String>,
) -> Result<HashMap<String, usize>, (String, TemplateError)> {
    let mut parsed = BTreeMap::new();
    for (name, source) in snippets {
        let template =
            Template::compile(source).map_err(|e| (name.clone(), super::parse_error(&e)))?;
        let includes = included(&template).map_err(|e| (name.clone(), e))?;
        if let Some(missing) = includes.iter().find(|n| !snippets.contains_key(*n)) {
            let e = TemplateError {
                message: format!("it includes {{{{> {missing}}}}}, which is not a snippet"),
                position: None,
            };
            return Err((name.clone(), e));
        }
        parsed.insert(name.as_str(), (template, includes));
    }
    // Depth-first, in name order; `depth` holds finished snippets, `path` the open chain.
    let mut depth: HashMap<&str, usize> = HashMap::new();
    let mut min: HashMap<String, usize> = HashMap::new();
    for root in parsed.keys() {
        let mut path: Vec<(&str, usize)> = vec![(root, 0)];
        while let Some(&(name, next)) = path.last() {
            if depth.contains_key(name) {
                path.pop();
                continue;
            }
            let includes = &parsed[name].1;
            if let Some(child) = includes.get(next).map(String::as_str) {
                if let Some(last) = path.last_mut() {
                    last.1 += 1;
                }
                if let Some(start) = path.iter().position(|(n, _)| *n == child) {
                    let mut chain: Vec<&str> = path[start..].iter().map(|(n, _)| *n).collect();
                    chain.push(child);
                    let e = TemplateError {
                        message: format!(
                            "snippets include each other in a loop: {}",
                            chain.join(" → ")
                        ),
                        position: None,
                    };
                    return Err((child.to_owned(), e));
                }
                if !depth.contains_key(child) {
                    path.push((child, 0));
                }
                continue;
            }
            let own = 1 + includes
                .iter()
                .map(|c| depth[c.as_str()])
                .max()
                .unwrap_or(0);
            if own > MAX_SNIPPET_DEPTH {
                let e = TemplateError {
                    message: format!(
                        "snippets include snippets {own} deep; at most {MAX_SNIPPET_DEPTH} are allowed"
                    ),
                    position: None,
                };
                return Err((name.to_owned(), e));
            }
            depth.insert(name, own);
            min.insert(name.to_owned(), min_chars(&parsed[name].0, &min));
            path.pop();
        }
    }
    Ok(min)
}
