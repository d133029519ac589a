//! The `ecs-otel-agent` binary's library: configuration, wiring, scheduler, health and
//! the agent's own telemetry.

pub mod catalog;
pub mod config;
pub mod health;
pub mod receivers;
pub mod run;
pub mod scheduler;
pub mod span_cap;
pub mod telemetry;

/// The embedded default configuration that `--demo` runs.
pub const DEMO_CONFIG: &str = include_str!("../../otel-configs/demo.yaml");
