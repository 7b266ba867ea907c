//! Message templates: handlebars in strict mode, without HTML escaping (SMS and plain text),
//! with the tenant's snippets as partials and the SMS segment count of every rendered text.
//!
//! Every template has a length limit (its channel's, see [`limits`]); a render stops as soon as
//! its output passes it, so no template, however its snippets nest, can build a text larger
//! than its limit. What a template may include is checked in `includes.rs`.

pub mod copy;
mod helpers;
mod includes;
pub mod library;
pub mod limits;
pub mod track;

use std::collections::{BTreeMap, HashMap};
use std::io;

use handlebars::{Handlebars, RenderErrorReason, TemplateErrorReason};
use serde_json::Value;

pub use includes::MAX_SNIPPET_DEPTH;
pub use stepwise_core::{Encoding, Segments};

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

/// A set of compiled templates sharing one set of partials (the tenant's snippets).
#[derive(Debug, Clone)]
pub struct Templates {
    registry: Handlebars<'static>,
    /// The least rendered length of each snippet; `None` when the snippets are not known
    /// (a file validated on its own), so includes cannot be checked and do not render.
    snippet_min: Option<HashMap<String, usize>>,
    /// The most characters each template may render to (absent: [`limits::DEFAULT`]).
    limits: HashMap<String, limits::Limit>,
    /// Templates that include a snippet.
    including: Vec<String>,
    /// Whether templates may call only [`helpers::HELPERS`] (not for versions stored before).
    helper_check: bool,
}

/// Checks a tenant's snippets as a whole (syntax, includes, loops, depth), as a settings
/// change must before it is stored: the first offending snippet's name and what is wrong.
pub fn check_snippets(snippets: &BTreeMap<String, String>) -> Result<(), (String, TemplateError)> {
    includes::check_snippets(snippets).map(drop)
}

impl Templates {
    fn registry() -> Handlebars<'static> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        registry.set_prevent_indent(true);
        registry.register_helper("track", Box::new(track::track_helper));
        registry
    }

    /// An empty set whose templates may include `partials` as `{{> name}}`, once those are
    /// checked as [`check_snippets`] does.
    pub fn new(partials: &BTreeMap<String, String>) -> Result<Self, (String, TemplateError)> {
        let snippet_min = includes::check_snippets(partials)?;
        let mut registry = Self::registry();
        for (name, source) in partials {
            registry
                .register_partial(name, source.as_str())
                .map_err(|e| (name.clone(), parse_error(&e)))?;
        }
        Ok(Self {
            registry,
            snippet_min: Some(snippet_min),
            limits: HashMap::new(),
            including: Vec::new(),
            helper_check: true,
        })
    }

    /// An empty set for checking templates when the tenant's snippets are not known: an
    /// include is checked for its form only, and a template with one does not render.
    pub fn without_snippets() -> Self {
        Self {
            registry: Self::registry(),
            snippet_min: None,
            limits: HashMap::new(),
            including: Vec::new(),
            helper_check: true,
        }
    }

    /// Turns the helper check of [`Templates::add`] on or off.
    pub fn check_helpers(&mut self, on: bool) {
        self.helper_check = on;
    }

    /// Parses `source` and keeps it under `name`, with the default length limit.
    pub fn add(&mut self, name: &str, source: &str) -> Result<(), TemplateError> {
        self.add_limited(name, source, limits::DEFAULT)
    }

    /// Parses `source` and keeps it under `name`; it may render to at most `limit`. A text
    /// that renders longer than that whatever the values is refused here.
    pub fn add_limited(
        &mut self,
        name: &str,
        source: &str,
        limit: limits::Limit,
    ) -> Result<(), TemplateError> {
        // Parsed once, by the registry; a template refused below is taken out again.
        self.registry
            .register_template_string(name, source)
            .map_err(|e| parse_error(&e))?;
        let checked = self.checked(name, limit);
        let included = match checked {
            Ok(included) => included,
            Err(e) => {
                self.registry.unregister_template(name);
                return Err(e);
            }
        };
        if !included.is_empty() {
            self.including.push(name.to_owned());
        }
        self.limits.insert(name.to_owned(), limit);
        Ok(())
    }

    /// What the template registered as `name` includes, if it may include that and can fit
    /// `limit` (see `includes.rs`).
    fn checked(&self, name: &str, limit: limits::Limit) -> Result<Vec<String>, TemplateError> {
        let Some(template) = self.registry.get_template(name) else {
            return Ok(Vec::new());
        };
        if self.helper_check {
            helpers::check(template)?;
        }
        let included = includes::included(template)?;
        if let Some(snippet_min) = &self.snippet_min {
            if let Some(missing) = included.iter().find(|n| !snippet_min.contains_key(*n)) {
                return Err(TemplateError {
                    message: format!(
                        "the template uses the snippet {{{{> {missing}}}}}, which this tenant does not have"
                    ),
                    position: None,
                });
            }
            let least = includes::min_chars(template, snippet_min);
            if least > limit.chars {
                return Err(TemplateError {
                    message: format!(
                        "this text is at least {least} characters once its snippets are included; {} may be at most {}",
                        limit.what, limit.chars
                    ),
                    position: None,
                });
            }
        }
        Ok(included)
    }

    /// Parses `source` without keeping it.
    pub fn check(source: &str) -> Result<(), TemplateError> {
        handlebars::Template::compile(source)
            .map_err(|e| parse_error(&e))
            .and_then(|t| helpers::check(&t).and_then(|()| includes::included(&t).map(drop)))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.registry.has_template(name)
    }

    /// Renders the template kept under `name` (copies `data`; see [`Templates::render_data`]).
    pub fn render(&self, name: &str, data: &Value) -> Result<String, TemplateError> {
        self.render_data(name, &TemplateData::new(data.clone()))
    }

    /// Renders the template kept under `name` with `data`, without copying it. The render
    /// stops as soon as the text passes the template's limit.
    pub fn render_data(&self, name: &str, data: &TemplateData) -> Result<String, TemplateError> {
        if self.snippet_min.is_none() && self.including.iter().any(|n| n == name) {
            return Err(TemplateError {
                message:
                    "the template includes a snippet, and the tenant's snippets are not known here"
                        .into(),
                position: None,
            });
        }
        let limit = self.limits.get(name).copied().unwrap_or(limits::DEFAULT);
        // A character is at most 4 bytes: stop the writer there, count characters after.
        let mut out = Capped {
            text: Vec::with_capacity(256),
            max_bytes: limit.chars.saturating_mul(4),
        };
        let too_long = || TemplateError {
            message: format!(
                "the rendered text is longer than {} characters, the limit for {}",
                limit.chars, limit.what
            ),
            position: None,
        };
        let rendered = self
            .registry
            .render_with_context_to_write(name, &data.0, &mut out);
        if let Err(e) = rendered {
            if matches!(e.reason(), RenderErrorReason::IOError(_)) {
                return Err(too_long());
            }
            let message = match e.reason() {
                RenderErrorReason::MissingVariable(Some(path)) => {
                    format!("the template uses {{{{{path}}}}}, which has no value here")
                }
                RenderErrorReason::PartialNotFound(partial) => {
                    format!(
                        "the template uses the snippet {{{{> {partial}}}}}, which this tenant does not have"
                    )
                }
                other => other.to_string(),
            };
            return Err(TemplateError {
                message,
                position: e.line_no.map(|l| (l, e.column_no.unwrap_or(1))),
            });
        }
        let text = String::from_utf8(out.text).map_err(|_| TemplateError {
            message: "the rendered text is not valid UTF-8".into(),
            position: None,
        })?;
        if text.chars().count() > limit.chars {
            return Err(too_long());
        }
        Ok(text)
    }
}

/// Collects a render's output and refuses to grow past `max_bytes`.
struct Capped {
    text: Vec<u8>,
    max_bytes: usize,
}

impl io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.text.len() + buf.len() > self.max_bytes {
            return Err(io::Error::other("rendered text over its limit"));
        }
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
mod tests;
