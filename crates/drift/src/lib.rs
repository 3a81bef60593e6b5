//! Runtime contracts and drift: what the pipeline declared, what is live, and what differs.
//!
//! - [`collect`] snapshots a Linux host (or a mounted image with a root directory);
//! - [`learn`] proposes a [`Contract`] from a snapshot (at build time);
//! - [`compare`] finds the drift between a contract and a snapshot (at run time), each finding
//!   with a severity by security meaning, evidence and a remediation hint;
//! - [`report`] renders findings;
//! - [`restore`] puts a drifted file back from the contract's source.
//!
//! ```no_run
//! use tripline_drift::{collect, compare, learn, report};
//! let opts = collect::Options { include: vec!["/etc/**".into()], ..Default::default() };
//! let contract = learn::learn(&collect::collect(&opts), "web-1", &opts.include);
//! // ... later, on the running host:
//! let findings = compare::compare(&contract, &collect::collect(&opts));
//! print!("{}", report::text(&findings));
//! ```
#![warn(missing_docs)]

pub mod collect;
pub mod compare;
pub mod contract;
pub mod k8s;
pub mod k8s_live;
pub mod learn;
pub mod report;
pub mod restore;

pub use contract::Contract;
