//! Upstream rule files shipped inside the binary, used when no `--rules` is given.

use tripline_rules::falco::RulesFile;

/// `(file name, source, text)` of every shipped rules file, in load order.
pub const FILES: &[(&str, &str, &str)] = &[
    (
        "falco_rules.yaml",
        "syscall",
        include_str!("../../../data/falco/rules/falco_rules.yaml"),
    ),
    (
        "k8s_audit_rules.yaml",
        "k8s_audit",
        include_str!("../../../data/falco/rules/k8s_audit_rules.yaml"),
    ),
    (
        "aws_cloudtrail_rules.yaml",
        "aws_cloudtrail",
        include_str!("../../../data/falco/rules/aws_cloudtrail_rules.yaml"),
    ),
    (
        "gcp_auditlog_rules.yaml",
        "gcp_auditlog",
        include_str!("../../../data/falco/rules/gcp_auditlog_rules.yaml"),
    ),
    (
        "okta_rules.yaml",
        "okta",
        include_str!("../../../data/falco/rules/okta_rules.yaml"),
    ),
    (
        "github_rules.yaml",
        "github",
        include_str!("../../../data/falco/rules/github_rules.yaml"),
    ),
];

/// The shipped rules for one source.
pub fn for_source(source: &str) -> Vec<RulesFile> {
    FILES
        .iter()
        .filter(|(_, s, _)| *s == source)
        .map(|(name, _, text)| RulesFile {
            name: format!("<builtin>/{name}"),
            content: text.to_string(),
        })
        .collect()
}
