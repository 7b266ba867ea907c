//! Store implementations. Here: the in-memory store used by tests and the simulator.

mod memory;

pub use memory::MemoryStore;
