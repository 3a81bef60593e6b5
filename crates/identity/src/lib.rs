//! Identity sprawl: what AWS IAM and Kubernetes RBAC grant, what the logs show was used, which
//! grants are risky, and who can become whom.
//!
//! - [`aws`]: the action catalog, policy parsing and evaluation, an account's identities,
//!   Cloudsplaining-compatible risky-grant analysis;
#![warn(missing_docs)]

pub mod aws;
pub mod k8s;
