//! The generic receiver: services of metric groups read from commands, files, HTTP
//! endpoints and static values, for what the ECS API does not say (a node's other stats
//! pages, a vendor CLI, a log-derived counter file). Each group is one source read once
//! per cycle; every metric of the group is derived from that read.

pub mod collect;
pub mod config;
pub mod content;
mod cumulative;
mod factory;
pub mod source;

pub use config::GenericConfig;
pub use factory::factory;
