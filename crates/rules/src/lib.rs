//! Tripline's rule engine: Falco rules files, loaded unchanged, compiled once, run on events.
//!
//! The pieces, in the order a rules file meets them:
//! - [`falco`] reads YAML items (lists, macros, rules, exceptions, `append`/`override`),
//!   expands lists textually and macros on the syntax tree, exactly as Falco 0.44 does;
//! - [`condition`] parses the condition language;
//! - [`matcher`] resolves fields against a source's table and types every literal;
//! - [`Ruleset`] indexes rules by source and event type and evaluates events.
//!
//! ```
//! use tripline_event::{FieldDef, FieldTable, FieldType, SourceSchema};
//! use tripline_rules::falco::{load, RulesFile};
//! use tripline_rules::Ruleset;
//!
//! let schema = SourceSchema::new(
//!     "demo",
//!     FieldTable::new(vec![FieldDef::new("demo.user", FieldType::String, "user")]),
//! );
//! let yaml = r#"
//! - list: admins
//!   items: [root, "the admin"]
//! - rule: Admin activity
//!   desc: an admin did something
//!   condition: demo.user in (admins)
//!   output: "admin %demo.user acted"
//!   priority: NOTICE
//!   source: demo
//! "#;
//! let (rules, report) = load(&[RulesFile { name: "demo.yaml".into(), content: yaml.into() }], &[schema]);
//! assert!(report.is_ok(), "{:?}", report.errors);
//! assert_eq!(rules.rules()[0].name, "Admin activity");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod condition;
mod diagnostic;
pub mod falco;
pub mod matcher;
mod memo;
mod output;
mod ruleset;

pub use diagnostic::{Code, Diagnostic, LoadReport};
pub use output::OutputTemplate;
pub use ruleset::{Rule, RuleMatching, Ruleset, Selection};
