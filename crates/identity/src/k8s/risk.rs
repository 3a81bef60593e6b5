//! Risky RBAC grants per subject: the permissions attackers look for first in a cluster.
//!
//! Each [`Check`] is a set of requests; a subject fails it when any of its grants allows one.
//! A RoleBinding that references rules for cluster-scoped resources (nodes, CSRs, webhooks)
//! grants nothing today, but is reported as kubescape does, marked `effective: false`: it is a
//! loaded gun the next ClusterRoleBinding fires.

use serde::Serialize;
use serde_json::Value;

use super::rbac::{Grant, Rbac, Request, Subject};

/// Severity, shared with drift findings.
pub use tripline_drift::compare::Severity;

/// One risky-permission check.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Stable id (`k8s-read-secrets`).
    pub id: &'static str,
    /// What the subject can do, for people.
    pub title: &'static str,
    /// Severity.
    pub severity: Severity,
    /// Verbs probed.
    pub verbs: &'static [&'static str],
    /// `(group, resource)` pairs probed; `resource` may be `resource/subresource`.
    pub resources: &'static [(&'static str, &'static str)],
    /// Only this object name (`coredns`).
    pub name: Option<&'static str>,
    /// Only in this namespace (`kube-system`).
    pub namespace: Option<&'static str>,
    /// The resources are cluster-scoped.
    pub cluster_scoped: bool,
}

/// Workload kinds: creating one runs code as a service account of its namespace.
pub const WORKLOADS: &[(&str, &str)] = &[
    ("", "pods"),
    ("apps", "deployments"),
    ("apps", "daemonsets"),
    ("apps", "statefulsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
];

/// The checks, most severe first.
pub const CHECKS: &[Check] = &[
    Check {
        id: "k8s-cluster-admin",
        title: "can do anything to any resource (`*` on `*`)",
        severity: Severity::Critical,
        verbs: &["*"],
        resources: &[("*", "*")],
        name: None,
        namespace: None,
        cluster_scoped: false,
    },
    Check {
        id: "k8s-escalate-or-bind",
        title: "can escalate or bind roles (grant itself any permission)",
        severity: Severity::Critical,
        verbs: &["escalate", "bind"],
        resources: &[
            ("rbac.authorization.k8s.io", "roles"),
            ("rbac.authorization.k8s.io", "clusterroles"),
        ],
        name: None,
        namespace: None,
        cluster_scoped: false,
    },
    Check {
        id: "k8s-impersonate",
        title: "can impersonate users, groups or service accounts",
        severity: Severity::Critical,
        verbs: &["impersonate"],
        resources: &[
            ("", "users"),
            ("", "groups"),
            ("", "serviceaccounts"),
            ("authentication.k8s.io", "userextras/scopes"),
        ],
        name: None,
        namespace: None,
        cluster_scoped: true,
    },
    Check {
        id: "k8s-create-bindings",
        title: "can create role bindings",
        severity: Severity::High,
        verbs: &["create", "update", "patch"],
        resources: &[
            ("rbac.authorization.k8s.io", "rolebindings"),
            ("rbac.authorization.k8s.io", "clusterrolebindings"),
        ],
        name: None,
        namespace: None,
        cluster_scoped: false,
    },
    Check {
        id: "k8s-read-secrets",
        title: "can read secrets",
        severity: Severity::High,
        verbs: &["get", "list", "watch"],
        resources: &[("", "secrets")],
        name: None,
        namespace: None,
        cluster_scoped: false,
    },
    Check {
        id: "k8s-create-pods",
        title: "can create pods",
        severity: Severity::High,
        verbs: &["create"],
        resources: &[("", "pods")],
        name: None,
        namespace: None,
        cluster_scoped: false,
    },
    Check {
        id: "k8s-exec-attach",
        title: "can exec into or attach to pods",
        severity: Severity::High,
        verbs: &["create", "get"],
        resources: &[("", "pods/exec"), ("", "pods/attach")],
        name: None,
        namespace: None,
        cluster_scoped: false,
    },
    Check {
        id: "k8s-port-forward",
        title: "can port-forward to pods",
        severity: Severity::Medium,
        verbs: &["create", "get"],
        resources: &[("", "pods/portforward")],
        name: None,
        namespace: None,
        cluster_scoped: false,
    },
    Check {
        id: "k8s-create-sa-token",
        title: "can create service account tokens",
        severity: Severity::High,
        verbs: &["create"],
        resources: &[("", "serviceaccounts/token")],
        name: None,
        namespace: None,
        cluster_scoped: false,
    },
    Check {
        id: "k8s-proxy-subresource",
        title: "can access proxy subresources",
        severity: Severity::High,
        verbs: &["get", "create", "update", "patch", "delete"],
        resources: &[
            ("", "nodes/proxy"),
            ("", "services/proxy"),
            ("", "pods/proxy"),
        ],
        name: None,
        namespace: None,
        cluster_scoped: true,
    },
    Check {
        id: "k8s-approve-csr",
        title: "can approve certificate signing requests",
        severity: Severity::High,
        verbs: &["update", "patch"],
        resources: &[("certificates.k8s.io", "certificatesigningrequests/approval")],
        name: None,
        namespace: None,
        cluster_scoped: true,
    },
    Check {
        id: "k8s-modify-webhooks",
        title: "can modify admission webhooks",
        severity: Severity::High,
        verbs: &["create", "update", "patch", "delete"],
        resources: &[
            (
                "admissionregistration.k8s.io",
                "validatingwebhookconfigurations",
            ),
            (
                "admissionregistration.k8s.io",
                "mutatingwebhookconfigurations",
            ),
        ],
        name: None,
        namespace: None,
        cluster_scoped: true,
    },
    Check {
        id: "k8s-create-persistentvolume",
        title: "can create persistent volumes (hostPath on any node)",
        severity: Severity::High,
        verbs: &["create"],
        resources: &[("", "persistentvolumes")],
        name: None,
        namespace: None,
        cluster_scoped: true,
    },
    Check {
        id: "k8s-workloads-in-kube-system",
        title: "can create workloads in kube-system",
        severity: Severity::Critical,
        verbs: &["create"],
        resources: WORKLOADS,
        name: None,
        namespace: Some("kube-system"),
        cluster_scoped: false,
    },
    Check {
        id: "k8s-modify-coredns",
        title: "can modify 'coredns' configmap",
        severity: Severity::High,
        verbs: &["update", "patch"],
        resources: &[("", "configmaps")],
        name: Some("coredns"),
        namespace: Some("kube-system"),
        cluster_scoped: false,
    },
    Check {
        id: "k8s-delete-events",
        title: "can delete events",
        severity: Severity::Medium,
        verbs: &["delete", "deletecollection"],
        resources: &[("", "events"), ("events.k8s.io", "events")],
        name: None,
        namespace: None,
        cluster_scoped: false,
    },
];

/// A subject that fails a check.
#[derive(Debug, Clone, Serialize)]
pub struct RiskyGrant {
    /// Check id.
    pub check: &'static str,
    /// What it means.
    pub title: &'static str,
    /// Severity.
    pub severity: Severity,
    /// Who.
    pub subject: Subject,
    /// Where the permission comes from (`ClusterRole x via RoleBinding ns/b, rule 0`).
    pub via: Vec<String>,
    /// Files of the roles and bindings involved.
    pub files: Vec<String>,
    /// False when only RoleBindings grant cluster-scoped resources (no effect until bound
    /// cluster-wide).
    pub effective: bool,
}

fn probes(c: &Check, g: &Grant<'_>) -> Vec<Request> {
    let mut out = Vec::new();
    for verb in c.verbs {
        for (group, resource) in c.resources {
            let mut r = Request::new(verb, group, resource);
            if let Some(n) = c.name {
                r = r.named(n);
            }
            r.namespace = match (c.namespace, g.scope()) {
                (Some(ns), _) => ns.to_string(),
                (None, Some(scope)) => scope.to_string(),
                (None, None) => String::new(),
            };
            out.push(r);
        }
    }
    out
}

fn rule_matches_check(c: &Check, g: &Grant<'_>) -> bool {
    if c.id == "k8s-cluster-admin" {
        let all = |v: &[String]| v.iter().any(|x| x == "*");
        return all(&g.rule.verbs) && all(&g.rule.resources) && all(&g.rule.api_groups);
    }
    probes(c, g).iter().any(|r| {
        if c.cluster_scoped {
            // Judge the rule itself; scope decides `effective`.
            g.rule.allows(r)
        } else {
            g.allows(r)
        }
    })
}

/// Runs every check for every subject.
pub fn check(rbac: &Rbac) -> Vec<RiskyGrant> {
    let mut out = Vec::new();
    for subject in rbac.subjects() {
        let grants = rbac.grants_of(&subject);
        for c in CHECKS {
            let hits: Vec<&Grant<'_>> =
                grants.iter().filter(|g| rule_matches_check(c, g)).collect();
            if hits.is_empty() {
                continue;
            }
            let effective = !c.cluster_scoped || hits.iter().any(|g| g.scope().is_none());
            let mut files: Vec<String> = hits
                .iter()
                .flat_map(|g| [g.role.file.clone(), g.binding.file.clone()])
                .collect();
            files.sort();
            files.dedup();
            out.push(RiskyGrant {
                check: c.id,
                title: c.title,
                severity: if effective { c.severity } else { Severity::Low },
                subject: subject.clone(),
                via: hits.iter().map(|g| g.display()).collect(),
                files,
                effective,
            });
        }
    }
    out
}

/// A workload exposed on an SSH port by a Service.
#[derive(Debug, Clone, Serialize)]
pub struct SshExposure {
    /// `Pod`, `Deployment`, ...
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The Service exposing it.
    pub service: String,
    /// The port.
    pub port: i64,
}

/// Workloads selected by a Service that exposes port 22 or 2222 (SSH servers in containers
/// are a foothold and a lateral-movement path).
pub fn ssh_exposed(rbac: &Rbac) -> Vec<SshExposure> {
    let ns_of = |o: &Value| {
        o.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string()
    };
    let mut out = Vec::new();
    let services: Vec<&Value> = rbac
        .others
        .iter()
        .map(|(_, o)| o)
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("Service"))
        .collect();
    for (_, o) in &rbac.others {
        let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
        let labels = match kind {
            "Pod" => o.pointer("/metadata/labels"),
            "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet" | "Job" => {
                o.pointer("/spec/template/metadata/labels")
            }
            "CronJob" => o.pointer("/spec/jobTemplate/spec/template/metadata/labels"),
            _ => continue,
        };
        let Some(labels) = labels.and_then(Value::as_object) else {
            continue;
        };
        for svc in &services {
            if ns_of(svc) != ns_of(o) {
                continue;
            }
            let Some(sel) = svc.pointer("/spec/selector").and_then(Value::as_object) else {
                continue;
            };
            if sel.is_empty() || !sel.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                continue;
            }
            let port = svc
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|p| [p.get("port"), p.get("targetPort")])
                .flatten()
                .filter_map(Value::as_i64)
                .find(|p| *p == 22 || *p == 2222);
            if let Some(port) = port {
                out.push(SshExposure {
                    kind: kind.to_string(),
                    namespace: ns_of(o),
                    name: o
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    service: svc
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    port,
                });
            }
        }
    }
    out
}
