//! `if` / `then` / `else`: the one structural kind. The definition compiler lowers it to a
//! conditional jump, so a branch costs one condition evaluation at run time.

use serde_json::{Value, json};

use crate::expr::{Bindings, Expr};
use crate::steps::StepError;

/// Evaluates a branch condition; the result becomes `steps.<id>.result`.
pub fn eval_condition(
    condition: &Expr,
    bindings: &mut Bindings,
) -> Result<(bool, Value), StepError> {
    let result = condition.eval_bool(bindings).map_err(|e| StepError {
        field: "if".into(),
        message: e.message,
    })?;
    Ok((result, json!({ "result": result })))
}
