//! The one rhai engine every flow expression runs in, locked down.
//!
//! No packages beyond the standard library's pure functions, no module resolver (so no file
//! access), no `eval`, no printing, no loops or user functions, and hard limits on operations,
//! nesting and the size of strings, arrays and maps: an expression always ends, and quickly.

use std::sync::OnceLock;

use rhai::packages::{Package, StandardPackage};
use rhai::{Engine, OptimizationLevel};

use super::functions;

/// Operations one evaluation may perform before it is stopped.
pub const MAX_OPERATIONS: u64 = 50_000;

/// The shared, immutable engine.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(build)
}

fn build() -> Engine {
    let mut engine = Engine::new_raw();
    engine.register_global_module(StandardPackage::new().as_shared_module());
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_expr_depths(32, 16)
        .set_max_call_levels(16)
        .set_max_string_size(16 * 1024)
        .set_max_array_size(1_000)
        .set_max_map_size(1_000)
        .set_max_variables(64)
        .set_max_functions(0)
        .set_max_modules(0)
        .set_allow_looping(false)
        .set_allow_anonymous_fn(false)
        .set_allow_shadowing(false)
        .set_strict_variables(true)
        .set_optimization_level(OptimizationLevel::Simple);
    for symbol in [
        "eval", "import", "export", "print", "debug", "Fn", "call", "curry", "sleep",
    ] {
        engine.disable_symbol(symbol);
    }
    functions::register(&mut engine);
    engine
}
