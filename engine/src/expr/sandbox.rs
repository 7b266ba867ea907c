//! The one rhai engine every flow expression runs in, locked down.
//!
//! Only pure packages (arithmetic, logic, math, strings, arrays, maps): no `sleep`, no clock
//! (`timestamp`), no module resolver (so no file access), no `eval`, no printing, no loops or
//! user functions, and hard limits on operations, wall-clock time, nesting and the size of
//! strings, arrays and maps: an expression always ends, and quickly, whatever a tenant wrote.

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicMapPackage, BasicMathPackage, BasicStringPackage,
    LogicPackage, MoreStringPackage, Package,
};
use rhai::{Dynamic, Engine, OptimizationLevel, def_package};

def_package! {
    /// The pure parts of rhai's standard library, as one module (one lookup per call, where
    /// seven separate modules cost seven): arithmetic, logic, maths, strings, arrays, maps.
    /// Not its core package (`sleep`) nor its time package (`timestamp`).
    PurePackage(lib):
        ArithmeticPackage,
        LogicPackage,
        BasicMathPackage,
        BasicStringPackage,
        MoreStringPackage,
        BasicArrayPackage,
        BasicMapPackage
    {}
}

use super::functions;

/// Operations one evaluation may perform before it is stopped.
pub const MAX_OPERATIONS: u64 = 50_000;

/// Wall-clock time one evaluation may take before it is stopped, whatever its operation
/// count (a few operations on the largest strings and arrays stay far below it).
pub const MAX_EVAL_TIME: Duration = Duration::from_millis(100);

/// How many operations pass between two looks at the clock.
const CLOCK_EVERY: u64 = 256;

/// What the progress callback answers when the time budget is spent (see [`over_time`]).
const OUT_OF_TIME: &str = "stepwise: out of time";

thread_local! {
    /// When the evaluation running on this thread must stop.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `f` with `budget` armed on this thread.
pub(super) fn timed_for<T>(budget: Duration, f: impl FnOnce() -> T) -> T {
    let previous = DEADLINE.with(|d| d.replace(Some(Instant::now() + budget)));
    let out = f();
    DEADLINE.with(|d| d.set(previous));
    out
}

/// Whether an evaluation was stopped by [`MAX_EVAL_TIME`] (the token its termination carries).
pub(super) fn over_time(token: &Dynamic) -> bool {
    token
        .read_lock::<rhai::ImmutableString>()
        .is_some_and(|s| s.as_str() == OUT_OF_TIME)
}

/// The shared, immutable engine.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(build)
}

/// `(name, number of arguments)` of every function an expression may call.
pub(super) fn known_functions() -> &'static HashSet<(String, usize)> {
    static KNOWN: OnceLock<HashSet<(String, usize)>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let mut known: HashSet<(String, usize)> = engine()
            .collect_fn_metadata(
                None,
                |info| Some((info.metadata.name.to_string(), info.metadata.num_params)),
                true,
            )
            .into_iter()
            .collect();
        // Built into the language rather than a package.
        known.insert(("type_of".to_owned(), 1));
        known
    })
}

fn build() -> Engine {
    let mut engine = Engine::new_raw();
    // Not the standard package: its core carries `sleep` (blocks the thread) and its time
    // package `timestamp` (a clock); expressions see time only through `now`.
    engine.register_global_module(PurePackage::new().as_shared_module());
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
    engine.on_progress(|operations| {
        if operations % CLOCK_EVERY != 0 {
            return None;
        }
        let late = DEADLINE.with(|d| d.get().is_some_and(|at| Instant::now() >= at));
        late.then(|| Dynamic::from(OUT_OF_TIME))
    });
    for symbol in [
        "eval", "import", "export", "print", "debug", "Fn", "call", "curry",
    ] {
        engine.disable_symbol(symbol);
    }
    functions::register(&mut engine);
    engine
}
