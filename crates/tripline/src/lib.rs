//! The `tripline` application: wires sources, rules and outputs together.
//!
//! The binary (`main.rs`) only parses flags; everything it does is here so tests can drive it.
#![warn(missing_docs)]

pub mod bundled;
pub mod drift;
pub mod format;
pub mod policy;
pub mod replay;
pub mod rules_files;
pub mod run;
pub mod sigma_events;
