//! The publish-time check that an expression calls only functions that exist: rhai resolves
//! calls when they run, so without it `contians(x, "a")` would publish and then fail on every
//! event (and a failing trigger `when` would reach every lead).

use rhai::{AST, ASTNode, Expr as Node, Stmt};

use super::ExprError;
use super::sandbox::known_functions;

/// The first call in `ast` to a function the sandbox does not have (by name and number of
/// arguments), as an error with its position and the nearest known name.
pub(super) fn check_known(ast: &AST) -> Result<(), ExprError> {
    let mut unknown = None;
    ast.walk(&mut |path: &[ASTNode]| {
        let (call, arity, pos) = match path.last() {
            Some(
                ASTNode::Expr(Node::FnCall(call, pos)) | ASTNode::Stmt(Stmt::FnCall(call, pos)),
            ) if !call.is_operator_call() => (call, call.args.len(), *pos),
            // `x.f(a)` passes `x` as the first argument.
            Some(ASTNode::Expr(Node::MethodCall(call, pos))) => (call, call.args.len() + 1, *pos),
            _ => return true,
        };
        let name = call.name.as_str();
        if known_functions().contains(&(name.to_owned(), arity)) {
            return true;
        }
        unknown = Some(ExprError {
            message: describe(name, arity),
            position: pos.line().map(|l| (l, pos.position().unwrap_or(1))),
        });
        false
    });
    unknown.map_or(Ok(()), Err)
}

fn describe(name: &str, arity: usize) -> String {
    let known = known_functions();
    let arities: Vec<usize> = {
        let mut a: Vec<usize> = known
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, a)| *a)
            .collect();
        a.sort_unstable();
        a.dedup();
        a
    };
    if !arities.is_empty() {
        let takes = arities
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        return format!("{name} takes {takes} argument(s), not {arity}");
    }
    let nearest = known
        .iter()
        .filter(|(n, _)| !n.contains('$') && !n.starts_with(|c: char| !c.is_alphabetic()))
        .map(|(n, _)| (strsim::levenshtein(n, name), n))
        .filter(|(d, _)| *d <= 2)
        .min();
    match nearest {
        Some((_, n)) => format!("unknown function {name} (did you mean {n}?)"),
        None => format!("unknown function {name}"),
    }
}
