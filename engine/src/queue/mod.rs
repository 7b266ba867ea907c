//! Queue implementations: apalis (SQLite or Redis) in the binary, in memory for the simulator
//! and tests.

mod apalis;
mod lane;
mod memory;
mod push;
mod redis_prune;
mod wake;
mod workers;

pub use apalis::{
    AdvanceJob, ApalisQueue, POLL_INTERVAL, QUEUE, QueueBackend, QueueSettings, queue_url,
};
pub use memory::MemoryQueue;
pub use redis_prune::delete_redis_queue;
pub use workers::run_workers;
