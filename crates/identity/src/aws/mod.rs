//! AWS IAM: the action catalog, policy documents, their evaluation, an account's identities,
//! risky grants, usage from CloudTrail and the credential report.

pub mod account;
pub mod catalog;
pub mod drift;
pub mod eval;
pub mod policy;
pub mod risk;
pub mod terraform;
pub mod usage;

pub use account::{Account, Identity, IdentityKind};
pub use catalog::{Access, Catalog};
pub use policy::{PolicyDocument, PolicyError};
pub mod credentials;
pub mod effective;
pub mod paths;
