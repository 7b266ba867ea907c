//! Queue implementations. Here: the in-memory, time-ordered queue of the simulator and tests.

mod memory;

pub use memory::MemoryQueue;
