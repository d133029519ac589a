//! Lenient readers of API answers: a value that is missing or unreadable is `None`, never
//! a made-up zero.

pub mod json;
pub mod typed;
pub mod xml;
