//! rhai expressions: compiled once per flow version, evaluated many times against a run's
//! bindings (`event`, `contact`, `tenant`, `config`, `templates`, `vars`, `steps`, `now`).

mod calls;
mod functions;
mod sandbox;
mod scope;

use rhai::{AST, Dynamic, EvalAltResult};

pub use functions::{TimeSpan, format_time, with_zone};
pub use sandbox::{MAX_EVAL_TIME, MAX_OPERATIONS, engine};
pub use scope::{BINDING_NAMES, Bindings};

/// A compiled expression and its source.
#[derive(Debug, Clone)]
pub struct Expr {
    source: String,
    ast: AST,
}

/// Why an expression did not compile or evaluate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    pub message: String,
    /// 1-based line and column inside the expression, when known.
    pub position: Option<(usize, usize)>,
}

impl ExprError {
    fn from_eval(err: &EvalAltResult) -> Self {
        let message = match err {
            EvalAltResult::ErrorTooManyOperations(_) => {
                format!("the expression took more than {MAX_OPERATIONS} operations and was stopped")
            }
            EvalAltResult::ErrorTerminated(token, _) if sandbox::over_time(token) => format!(
                "the expression ran longer than {} ms and was stopped",
                MAX_EVAL_TIME.as_millis()
            ),
            EvalAltResult::ErrorRuntime(value, _) => value.to_string(),
            other => other.to_string(),
        };
        let pos = err.position();
        Self {
            message,
            position: pos.line().map(|l| (l, pos.position().unwrap_or(1))),
        }
    }
}

impl Expr {
    /// Compiles `source`. `extra` names bindings available besides [`BINDING_NAMES`]
    /// (e.g. `incoming` in a `wait_for` match).
    pub fn compile(source: &str, extra: &[&str]) -> Result<Self, ExprError> {
        let mut names = rhai::Scope::new();
        for name in BINDING_NAMES.iter().chain(extra) {
            names.push(*name, Dynamic::UNIT);
        }
        let ast = engine()
            .compile_expression_with_scope(&names, source)
            .map_err(|err| {
                let pos = err.position();
                let message = err.err_type().to_string();
                let looping = ["'while'", "'loop'", "'for'", "'do'"];
                let message = match message.as_str() {
                    m if looping.iter().any(|k| m == format!("Unexpected {k}")) => {
                        "loops are not allowed in expressions: an expression must always finish \
                         (use contains, contains_any or a condition instead)"
                            .to_owned()
                    }
                    m if m.starts_with("Undefined variable") => format!(
                        "{m} (available: {})",
                        BINDING_NAMES
                            .iter()
                            .chain(extra)
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    _ => message,
                };
                ExprError {
                    message,
                    position: pos.line().map(|l| (l, pos.position().unwrap_or(1))),
                }
            })?;
        calls::check_known(&ast)?;
        Ok(Self {
            source: source.to_owned(),
            ast,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates to any value, within [`MAX_OPERATIONS`] and [`MAX_EVAL_TIME`].
    pub fn eval(&self, bindings: &mut Bindings) -> Result<Dynamic, ExprError> {
        self.eval_within(bindings, MAX_EVAL_TIME)
    }

    /// [`Expr::eval`] with a wall-clock `budget` of its own.
    fn eval_within(
        &self,
        bindings: &mut Bindings,
        budget: std::time::Duration,
    ) -> Result<Dynamic, ExprError> {
        let zone = bindings.zone().clone();
        let scope = bindings.rhai_scope();
        with_zone(&zone, || {
            sandbox::timed_for(budget, || {
                engine().eval_ast_with_scope::<Dynamic>(scope, &self.ast)
            })
        })
        .map_err(|e| ExprError::from_eval(&e))
    }

    /// Evaluates a condition; anything but a boolean is an error naming what it was.
    pub fn eval_bool(&self, bindings: &mut Bindings) -> Result<bool, ExprError> {
        let value = self.eval(bindings)?;
        value.as_bool().map_err(|found| ExprError {
            message: format!("the condition gave a {found}, not true or false"),
            position: None,
        })
    }

    /// Evaluates to JSON (for `set` and `wait.until`).
    pub fn eval_json(&self, bindings: &mut Bindings) -> Result<serde_json::Value, ExprError> {
        let value = self.eval(bindings)?;
        if value.is::<TimeSpan>() {
            return Err(ExprError {
                message: "a duration is not a value here: add it to a time, e.g. now + hours(2)"
                    .into(),
                position: None,
            });
        }
        rhai::serde::from_dynamic(&value).map_err(|e| ExprError {
            message: e.to_string(),
            position: None,
        })
    }
}

#[cfg(test)]
mod tests;
