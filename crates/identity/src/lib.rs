//! Identity sprawl: what AWS IAM and Kubernetes RBAC grant, what the logs show was used, which
//! grants are risky, who can become whom, and the least-privilege policy to replace them with.
//!
//! - [`aws`]: the action catalog, policy parsing and evaluation, an account's identities,
//!   Cloudsplaining-compatible risky grants, CloudTrail usage, the credential report, and
//!   escalation edges;
//! - [`k8s`]: RBAC evaluation, risky-grant checks, audit-log usage and escalation edges;
//! - [`graph`]: who can become whom, and the shortest path to admin;
//! - [`analyze`]: all of it into ranked [`finding::IdentityFinding`]s;
//! - [`propose`]: least-privilege policies and Roles from what was used.
//!
//! ```no_run
//! use tripline_identity::{analyze, aws::Account};
//! let acct = Account::load("auth.json".as_ref()).unwrap();
//! let inputs = analyze::Inputs { account: Some((acct, "auth.json".into())), ..Default::default() };
//! let report = analyze::analyze(&inputs, &analyze::Options::default());
//! for f in &report.findings {
//!     println!("{:8} {}", f.severity.as_str(), f.title);
//! }
//! ```
#![warn(missing_docs)]

pub mod analyze;
pub mod aws;
pub mod finding;
pub mod graph;
pub mod k8s;
pub mod propose;
