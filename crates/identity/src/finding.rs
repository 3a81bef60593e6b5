//! Identity findings: one per identity and problem, ranked by severity.

use serde::Serialize;
use serde_json::Value;

pub use crate::k8s::risk::Severity;

/// Which platform an identity lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// AWS IAM.
    Aws,
    /// Kubernetes RBAC.
    K8s,
}

/// One problem with one identity.
///
/// ```
/// use tripline_identity::finding::{IdentityFinding, Platform, Severity};
/// let f = IdentityFinding {
///     check: "aws-unused-identity".into(),
///     severity: Severity::Medium,
///     platform: Platform::Aws,
///     identity: "arn:aws:iam::1:role/old".into(),
///     title: "role old: no activity in the logs".into(),
///     evidence: serde_json::json!({}),
///     remediation: "Delete the role.".into(),
///     location: None,
/// };
/// assert_eq!(f.check, "aws-unused-identity");
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct IdentityFinding {
    /// Check id (`aws-escalation-path`, `k8s-read-secrets`).
    pub check: String,
    /// Severity.
    pub severity: Severity,
    /// Platform.
    pub platform: Platform,
    /// The identity: an ARN, or `User jane` / `ServiceAccount ns/sa`.
    pub identity: String,
    /// One line for people.
    pub title: String,
    /// The facts behind it.
    pub evidence: Value,
    /// What to do.
    pub remediation: String,
    /// The file that declared the identity or grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// Ranks findings: most severe first, then by check and identity.
pub fn rank(findings: &mut [IdentityFinding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.check.cmp(&b.check))
            .then_with(|| a.identity.cmp(&b.identity))
    });
}
