//! Kubernetes RBAC: roles, bindings, who can do what, risky grants, and usage from audit logs.

pub mod paths;
pub mod rbac;
pub mod risk;
pub mod usage;

pub use rbac::{Binding, Grant, Rbac, Request, Role, Rule, Subject};
