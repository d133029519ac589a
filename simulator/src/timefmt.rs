//! Dates as ECS writes and reads them: shared with the ECS receiver (`pipeline::timefmt`).

pub use pipeline::timefmt::*;
