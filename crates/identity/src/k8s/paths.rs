//! Kubernetes escalation edges: who can act as which service account, and who is
//! admin-equivalent.
//!
//! - Creating pods or workloads in a namespace runs code as any service account there;
//!   exec/attach into its pods, or minting its tokens, acts as it directly.
//! - Creating role bindings with `bind` (or `escalate`) on roles grants any role: in a
//!   namespace that reaches its service accounts, cluster-wide it is admin.
//! - Admin-equivalent: `*` on `*` cluster-wide, impersonation cluster-wide, or binding any
//!   ClusterRole cluster-wide.

use std::collections::BTreeSet;

use super::rbac::{Rbac, Request, Subject};
use crate::graph::Graph;

/// The graph id of a subject.
pub fn node_id(s: &Subject) -> String {
    format!("k8s:{}", s.display())
}

fn can(rbac: &Rbac, who: &Subject, reqs: &[Request]) -> bool {
    reqs.iter().any(|r| rbac.allowed(who, r).is_some())
}

fn workload_creation(ns: &str) -> Vec<Request> {
    super::risk::WORKLOADS
        .iter()
        .map(|(g, r)| Request::new("create", g, r).in_ns(ns))
        .collect()
}

fn can_bind(rbac: &Rbac, who: &Subject, ns: &str) -> bool {
    let bindings = if ns.is_empty() {
        "clusterrolebindings"
    } else {
        "rolebindings"
    };
    let create = Request::new("create", "rbac.authorization.k8s.io", bindings).in_ns(ns);
    let bind = ["bind", "escalate"].iter().any(|v| {
        can(
            rbac,
            who,
            &[Request::new(v, "rbac.authorization.k8s.io", "clusterroles").in_ns(ns)],
        )
    });
    bind && rbac.allowed(who, &create).is_some()
}

/// Why a subject is admin-equivalent, if it is.
pub fn admin_reason(rbac: &Rbac, who: &Subject) -> Option<String> {
    let grants = rbac.grants_of(who);
    if grants.iter().any(|g| {
        g.scope().is_none()
            && [&g.rule.verbs, &g.rule.resources, &g.rule.api_groups]
                .iter()
                .all(|l| l.iter().any(|x| x == "*"))
    }) {
        return Some("`*` on `*` cluster-wide".into());
    }
    if can(
        rbac,
        who,
        &[
            Request::new("impersonate", "", "groups"),
            Request::new("impersonate", "", "users"),
        ],
    ) {
        return Some("can impersonate any user or group (system:masters)".into());
    }
    if can_bind(rbac, who, "") {
        return Some("can bind any ClusterRole cluster-wide (cluster-admin to itself)".into());
    }
    None
}

/// Adds the cluster's subjects, admin marks and edges to the graph.
pub fn build(rbac: &Rbac, g: &mut Graph) {
    let subjects = rbac.subjects();
    let mut namespaces: BTreeSet<String> = rbac
        .service_accounts
        .iter()
        .map(|(ns, _)| ns.clone())
        .collect();
    for b in &rbac.bindings {
        namespaces.extend(b.namespace.clone());
    }
    let accounts_in = |ns: &str| -> Vec<Subject> {
        subjects
            .iter()
            .filter(|s| s.kind == "ServiceAccount" && s.namespace.as_deref() == Some(ns))
            .cloned()
            .collect()
    };
    for s in &subjects {
        let n = g.node(&node_id(s));
        if let Some(why) = admin_reason(rbac, s) {
            g.set_admin(n, &why);
        }
    }
    for s in &subjects {
        let from = g.node(&node_id(s));
        for ns in &namespaces {
            let targets = accounts_in(ns);
            if targets.is_empty() {
                continue;
            }
            let how = if can(rbac, s, &workload_creation(ns)) {
                Some(format!(
                    "create a pod in {ns} running as the service account"
                ))
            } else if can(
                rbac,
                s,
                &[
                    Request::new("create", "", "pods/exec").in_ns(ns),
                    Request::new("create", "", "pods/attach").in_ns(ns),
                ],
            ) {
                Some(format!(
                    "exec into a pod in {ns} running as the service account"
                ))
            } else if can(
                rbac,
                s,
                &[Request::new("create", "", "serviceaccounts/token").in_ns(ns)],
            ) {
                Some(format!("create a token for the service account in {ns}"))
            } else if can_bind(rbac, s, ns) {
                Some(format!(
                    "bind a role in {ns} that creates pods, then run as the service account"
                ))
            } else {
                None
            };
            if let Some(how) = how {
                for t in targets {
                    let to = g.node(&node_id(&t));
                    g.edge(from, to, &how);
                }
            }
        }
    }
}
