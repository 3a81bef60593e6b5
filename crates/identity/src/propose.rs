//! Least-privilege proposals: a policy (AWS) or Role (Kubernetes) that grants what the logs
//! show was used, written as a reviewable file and a unified diff against what is granted now.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::aws::usage::PrincipalUse;
use crate::aws::Account;
use crate::k8s::usage::UserUse;
use crate::k8s::{Rbac, Subject};

/// A proposal for one identity.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// File name stem (`role-ci-deploy`).
    pub stem: String,
    /// The proposed document (JSON for AWS, YAML for Kubernetes).
    pub proposed: String,
    /// What is granted now, in the same format.
    pub current: String,
    /// File extension (`json` or `yaml`).
    pub ext: &'static str,
}

impl Proposal {
    /// Unified diff from the current grants to the proposal.
    pub fn diff(&self) -> String {
        similar::TextDiff::from_lines(&self.current, &self.proposed)
            .unified_diff()
            .context_radius(3)
            .header(
                &format!("current/{}.{}", self.stem, self.ext),
                &format!("proposed/{}.{}", self.stem, self.ext),
            )
            .to_string()
    }
}

fn file_stem(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_string()
}

/// An AWS policy granting exactly the actions used (one statement per service), against the
/// statements of every policy the principal holds now.
///
/// ```
/// use std::collections::BTreeMap;
/// use tripline_identity::aws::usage::{ActionUse, PrincipalUse};
/// let mut used = PrincipalUse::default();
/// used.actions.insert("s3:GetObject".into(), ActionUse { calls: 3, denied: 0, last_ns: 1 });
/// used.actions.insert("s3:PutObject".into(), ActionUse { calls: 0, denied: 2, last_ns: 0 });
/// let doc = tripline_identity::propose::aws_policy(&used);
/// assert_eq!(doc["Statement"][0]["Action"], serde_json::json!(["s3:GetObject"]));
/// ```
pub fn aws_policy(used: &PrincipalUse) -> Value {
    let mut by_service: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, u) in &used.actions {
        if u.calls > 0 {
            by_service
                .entry(a.split(':').next().unwrap_or(a))
                .or_default()
                .push(a);
        }
    }
    let statements: Vec<Value> = by_service
        .iter()
        .map(|(svc, actions)| {
            let sid: String = svc
                .split('-')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            json!({"Sid": format!("Used{sid}"), "Effect": "Allow", "Action": actions, "Resource": "*"})
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The AWS proposal for a principal (by ARN) of the account.
pub fn aws(acct: &Account, arn: &str, used: Option<&PrincipalUse>) -> Option<Proposal> {
    let who = acct.identity(arn)?;
    let current: Vec<Value> = acct
        .policies_of(who)
        .into_iter()
        .flat_map(|(label, d)| {
            d.statements.iter().map(move |s| {
                let mut v = s.to_json();
                if let Value::Object(o) = &mut v {
                    o.insert("Sid".into(), Value::String(label.clone()));
                }
                v
            })
        })
        .collect();
    let empty = PrincipalUse::default();
    let proposed = aws_policy(used.unwrap_or(&empty));
    Some(Proposal {
        stem: format!(
            "{}-{}",
            match who.kind {
                crate::aws::IdentityKind::User => "user",
                crate::aws::IdentityKind::Role => "role",
                crate::aws::IdentityKind::Group => "group",
            },
            file_stem(&who.name)
        ),
        proposed: serde_json::to_string_pretty(&proposed).unwrap_or_default() + "\n",
        current: serde_json::to_string_pretty(
            &json!({"Version": "2012-10-17", "Statement": current}),
        )
        .unwrap_or_default()
            + "\n",
        ext: "json",
    })
}

/// Discovery and health paths every authenticated user may read (the default
/// `system:discovery` and `system:public-info-viewer` roles): never worth proposing.
fn is_discovery(path: &str) -> bool {
    matches!(
        path,
        "/api" | "/apis" | "/version" | "/healthz" | "/livez" | "/readyz"
    ) || path.starts_with("/api/")
        || path.starts_with("/apis/")
        || path.starts_with("/openapi/")
}

/// Kubernetes Roles (one per namespace used) and a ClusterRole (cluster-scoped and
/// non-resource requests), with bindings to the subject, from the requests it made — what
/// audit2rbac proposes.
pub fn k8s(rbac: &Rbac, who: &Subject, used: Option<&UserUse>) -> Proposal {
    // namespace ("" = cluster) → (group, resource) → verbs
    let mut rules: BTreeMap<String, BTreeMap<(String, String), BTreeSet<String>>> = BTreeMap::new();
    let mut urls: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (r, u) in used.map(|u| &u.requests).into_iter().flatten() {
        if u.calls == 0 {
            continue;
        }
        if r.resource.is_empty() {
            if !is_discovery(&r.path) {
                urls.entry(r.path.clone())
                    .or_default()
                    .insert(r.verb.clone());
            }
            continue;
        }
        rules
            .entry(r.namespace.clone())
            .or_default()
            .entry((r.group.clone(), r.full_resource()))
            .or_default()
            .insert(r.verb.clone());
    }
    let name = format!("tripline-proposed-{}", file_stem(&who.name));
    let subject = match &who.namespace {
        Some(ns) => json!({"kind": who.kind, "name": who.name, "namespace": ns}),
        None => {
            json!({"kind": who.kind, "name": who.name, "apiGroup": "rbac.authorization.k8s.io"})
        }
    };
    // Paths with the same verbs share one rule.
    let mut url_rules: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for (path, verbs) in &urls {
        url_rules
            .entry(verbs.iter().cloned().collect())
            .or_default()
            .push(path.clone());
    }
    let url_rules: Vec<Value> = url_rules
        .into_iter()
        .map(|(verbs, paths)| json!({"nonResourceURLs": paths, "verbs": verbs}))
        .collect();
    let mut docs: Vec<Value> = Vec::new();
    for (ns, by_res) in &rules {
        // Merge resources with the same verbs and group into one rule, as people write them.
        let mut merged: BTreeMap<(String, Vec<String>), Vec<String>> = BTreeMap::new();
        for ((group, res), verbs) in by_res {
            merged
                .entry((group.clone(), verbs.iter().cloned().collect()))
                .or_default()
                .push(res.clone());
        }
        let mut rule_list: Vec<Value> = merged
            .into_iter()
            .map(|((g, verbs), res)| json!({"apiGroups": [g], "resources": res, "verbs": verbs}))
            .collect();
        let cluster = ns.is_empty();
        if cluster {
            rule_list.extend(url_rules.iter().cloned());
        }
        let (kind, bkind) = if cluster {
            ("ClusterRole", "ClusterRoleBinding")
        } else {
            ("Role", "RoleBinding")
        };
        let mut meta = json!({"name": name});
        let mut bmeta = json!({"name": name});
        if !cluster {
            meta["namespace"] = json!(ns);
            bmeta["namespace"] = json!(ns);
        }
        docs.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, "rules": rule_list}));
        docs.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": bkind, "metadata": bmeta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}, "subjects": [subject]}));
    }
    if !url_rules.is_empty() && !rules.contains_key("") {
        docs.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name}, "rules": url_rules}));
        docs.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}, "subjects": [subject]}));
    }
    let yaml = |docs: &[Value]| -> String {
        docs.iter()
            .map(|d| serde_yaml::to_string(d).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("---\n")
    };
    // What is granted now: each binding with the rules of its role.
    let mut current: Vec<Value> = Vec::new();
    let mut seen = BTreeSet::new();
    for g in rbac.grants_of(who) {
        if seen.insert(g.binding.display()) {
            current.push(json!({"binding": g.binding.display(), "role": g.role.display(), "rules": g.role.rules}));
        }
    }
    Proposal {
        stem: file_stem(&who.display().to_lowercase()),
        proposed: yaml(&docs),
        current: yaml(&current),
        ext: "yaml",
    }
}
