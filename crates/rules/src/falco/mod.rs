//! The Falco rules-file front end: YAML items → collected lists, macros and rules → compiled
//! [`Ruleset`](crate::Ruleset).
//!
//! Loading follows Falco 0.44 (engine 0.62.0): item kinds, `append` and `override`,
//! redefinition keeping the first slot, textual list expansion, macro visibility, exceptions
//! rewritten into the condition, and Falco's load result codes.

mod collect;
mod compiler;
mod exceptions;
mod lists;
pub use tripline_yaml as yaml;

pub use collect::ENGINE_VERSION;
pub use compiler::{load, RulesFile};
