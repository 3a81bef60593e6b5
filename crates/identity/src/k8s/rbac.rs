//! Kubernetes RBAC: roles, bindings and who they grant what, evaluated as the API server's
//! RBAC authorizer does (verbs, API groups, resources and subresources, resource names,
//! non-resource URLs; ClusterRole aggregation; service-account groups).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

/// One RBAC rule (`PolicyRule`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// Verbs (`get`, `create`, `*`).
    pub verbs: Vec<String>,
    /// API groups (`""` is the core group).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    /// Resources, with `resource/subresource` for subresources.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Object names the rule is limited to (empty: all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    /// Non-resource URLs (`/healthz`, `/logs/*`).
    #[serde(rename = "nonResourceURLs", skip_serializing_if = "Vec::is_empty")]
    pub non_resource_urls: Vec<String>,
}

/// A Role (namespaced) or ClusterRole.
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    /// Namespace (`None` for a ClusterRole).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Labels (ClusterRole aggregation selects on them).
    pub labels: BTreeMap<String, String>,
    /// Rules, after aggregation.
    pub rules: Vec<Rule>,
    /// `aggregationRule.clusterRoleSelectors[].matchLabels`.
    pub aggregate_from: Vec<BTreeMap<String, String>>,
    /// File it came from.
    pub file: String,
}

impl Role {
    /// `Role ns/name` or `ClusterRole name`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("Role {ns}/{}", self.name),
            None => format!("ClusterRole {}", self.name),
        }
    }
}

/// Who a binding names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace (service accounts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl Subject {
    /// A user.
    pub fn user(name: &str) -> Subject {
        Subject {
            kind: "User".into(),
            name: name.into(),
            namespace: None,
        }
    }

    /// A service account.
    pub fn service_account(ns: &str, name: &str) -> Subject {
        Subject {
            kind: "ServiceAccount".into(),
            name: name.into(),
            namespace: Some(ns.into()),
        }
    }

    /// The user name the API server sees: `system:serviceaccount:ns:name` for service
    /// accounts, the name otherwise.
    pub fn username(&self) -> String {
        match (self.kind.as_str(), &self.namespace) {
            ("ServiceAccount", Some(ns)) => format!("system:serviceaccount:{ns}:{}", self.name),
            _ => self.name.clone(),
        }
    }

    /// `User jane`, `Group dev`, `ServiceAccount ns/name`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) if self.kind == "ServiceAccount" => {
                format!("ServiceAccount {ns}/{}", self.name)
            }
            _ => format!("{} {}", self.kind, self.name),
        }
    }

    /// Groups the subject belongs to by construction (service-account groups,
    /// `system:authenticated`).
    pub fn implicit_groups(&self) -> Vec<String> {
        match (self.kind.as_str(), &self.namespace) {
            ("ServiceAccount", Some(ns)) => vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
                "system:authenticated".into(),
            ],
            ("User", _) => vec!["system:authenticated".into()],
            _ => Vec::new(),
        }
    }
}

/// A RoleBinding or ClusterRoleBinding.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// Namespace (`None` for a ClusterRoleBinding).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// `Role` or `ClusterRole`.
    pub role_kind: String,
    /// Role name.
    pub role_name: String,
    /// Subjects.
    pub subjects: Vec<Subject>,
    /// File it came from.
    pub file: String,
}

impl Binding {
    /// `RoleBinding ns/name` or `ClusterRoleBinding name`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("RoleBinding {ns}/{}", self.name),
            None => format!("ClusterRoleBinding {}", self.name),
        }
    }
}

/// What a request asks, as the RBAC authorizer sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Request {
    /// Verb.
    pub verb: String,
    /// API group (`""` core).
    pub group: String,
    /// Resource (`pods`), empty for a non-resource URL.
    pub resource: String,
    /// Subresource (`exec`), or empty.
    pub subresource: String,
    /// Object name, or empty for collections.
    pub name: String,
    /// Namespace, or empty for cluster-scoped resources and cluster-wide requests.
    pub namespace: String,
    /// Non-resource path (`/metrics`).
    pub path: String,
}

impl Request {
    /// A resource request: `Request::new("get", "", "secrets")`.
    pub fn new(verb: &str, group: &str, resource: &str) -> Request {
        let (resource, sub) = resource.split_once('/').unwrap_or((resource, ""));
        Request {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            ..Request::default()
        }
    }

    /// In a namespace.
    pub fn in_ns(mut self, ns: &str) -> Request {
        self.namespace = ns.into();
        self
    }

    /// On a named object.
    pub fn named(mut self, name: &str) -> Request {
        self.name = name.into();
        self
    }

    /// `resource` or `resource/subresource`.
    pub fn full_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

impl Rule {
    /// Whether the rule allows a request (namespace scope is the binding's business).
    pub fn allows(&self, r: &Request) -> bool {
        let any = |list: &[String], x: &str| list.iter().any(|v| v == "*" || v == x);
        if !any(&self.verbs, &r.verb) {
            return false;
        }
        if r.resource.is_empty() {
            return self.non_resource_urls.iter().any(|u| {
                u == "*"
                    || u == &r.path
                    || u.strip_suffix('*').is_some_and(|p| r.path.starts_with(p))
            });
        }
        if !any(&self.api_groups, &r.group) {
            return false;
        }
        let full = r.full_resource();
        let resource_ok = self.resources.iter().any(|res| {
            res == "*"
                || *res == full
                || (!r.subresource.is_empty()
                    && (res == &format!("{}/*", r.resource)
                        || res == &format!("*/{}", r.subresource)))
        });
        resource_ok && (self.resource_names.is_empty() || self.resource_names.contains(&r.name))
    }
}

/// One thing a subject may do: a rule, through a binding, in a scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant<'a> {
    /// The binding.
    pub binding: &'a Binding,
    /// The role it references.
    pub role: &'a Role,
    /// Index of the rule in the role.
    pub rule_index: usize,
    /// The rule.
    pub rule: &'a Rule,
}

impl Grant<'_> {
    /// Namespace the grant is limited to (`None`: cluster-wide).
    pub fn scope(&self) -> Option<&str> {
        self.binding.namespace.as_deref()
    }

    /// Whether this grant allows the request, scope included.
    pub fn allows(&self, r: &Request) -> bool {
        match self.scope() {
            // A RoleBinding grants only namespaced requests in its namespace.
            Some(ns) if r.namespace != ns => false,
            _ => self.rule.allows(r),
        }
    }

    /// `ClusterRole x via RoleBinding ns/b, rule 0`.
    pub fn display(&self) -> String {
        format!(
            "{} via {}, rule {}",
            self.role.display(),
            self.binding.display(),
            self.rule_index
        )
    }
}

/// A cluster's RBAC objects (and service accounts and workloads, for escalation paths).
///
/// ```
/// use tripline_identity::k8s::{Rbac, Request, Subject};
/// let rbac = Rbac::from_objects(&[
///     serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
///         "metadata": {"name": "reader"}, "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}),
///     serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
///         "metadata": {"name": "b", "namespace": "prod"},
///         "roleRef": {"kind": "ClusterRole", "name": "reader"},
///         "subjects": [{"kind": "User", "name": "jane"}]}),
/// ], "inline");
/// let jane = Subject::user("jane");
/// assert!(rbac.allowed(&jane, &Request::new("get", "", "secrets").in_ns("prod")).is_some());
/// assert!(rbac.allowed(&jane, &Request::new("get", "", "secrets").in_ns("dev")).is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Rbac {
    /// Roles and ClusterRoles.
    pub roles: Vec<Role>,
    /// Bindings.
    pub bindings: Vec<Binding>,
    /// Service accounts (namespace, name).
    pub service_accounts: BTreeSet<(String, String)>,
    /// Other objects (workloads, services), kept for workload checks.
    pub others: Vec<(String, Value)>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn labels(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
        .collect()
}

impl Rbac {
    /// Loads YAML or JSON files and directories (`kubectl get -o json` lists, multi-document
    /// YAML).
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<Rbac, tripline_drift::k8s::LoadError> {
        let mut rbac = Rbac::default();
        for p in paths {
            let objects = tripline_drift::k8s::load(std::slice::from_ref(p), "default")?;
            let file = p.as_ref().display().to_string();
            let values: Vec<Value> = objects.into_values().collect();
            rbac.add_objects(&values, &file);
        }
        rbac.aggregate();
        Ok(rbac)
    }

    /// Builds from decoded objects.
    pub fn from_objects(objects: &[Value], file: &str) -> Rbac {
        let mut rbac = Rbac::default();
        rbac.add_objects(objects, file);
        rbac.aggregate();
        rbac
    }

    fn add_objects(&mut self, objects: &[Value], file: &str) {
        for o in objects {
            let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
            let meta = o.get("metadata");
            let name = meta
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let ns = meta
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .map(str::to_string);
            match kind {
                "Role" | "ClusterRole" => {
                    let rules = o
                        .get("rules")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|r| Rule {
                            verbs: strings(r.get("verbs")),
                            api_groups: strings(r.get("apiGroups")),
                            resources: strings(r.get("resources")),
                            resource_names: strings(r.get("resourceNames")),
                            non_resource_urls: strings(r.get("nonResourceURLs")),
                        })
                        .collect();
                    let aggregate_from = o
                        .pointer("/aggregationRule/clusterRoleSelectors")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|s| labels(s.get("matchLabels")))
                        .collect();
                    self.roles.push(Role {
                        namespace: if kind == "Role" {
                            Some(ns.unwrap_or_else(|| "default".into()))
                        } else {
                            None
                        },
                        name,
                        labels: labels(meta.and_then(|m| m.get("labels"))),
                        rules,
                        aggregate_from,
                        file: file.to_string(),
                    });
                }
                "RoleBinding" | "ClusterRoleBinding" => {
                    let namespace = if kind == "RoleBinding" {
                        Some(ns.unwrap_or_else(|| "default".into()))
                    } else {
                        None
                    };
                    let subjects = o
                        .get("subjects")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|s| {
                            let kind = s.get("kind").and_then(Value::as_str).unwrap_or("");
                            Subject {
                                kind: kind.to_string(),
                                name: s
                                    .get("name")
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                                    .to_string(),
                                namespace: (kind == "ServiceAccount").then(|| {
                                    s.get("namespace")
                                        .and_then(Value::as_str)
                                        .map(str::to_string)
                                        .or_else(|| namespace.clone())
                                        .unwrap_or_else(|| "default".into())
                                }),
                            }
                        })
                        .collect();
                    self.bindings.push(Binding {
                        namespace,
                        name,
                        role_kind: o
                            .pointer("/roleRef/kind")
                            .and_then(Value::as_str)
                            .unwrap_or("ClusterRole")
                            .to_string(),
                        role_name: o
                            .pointer("/roleRef/name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        subjects,
                        file: file.to_string(),
                    });
                }
                "ServiceAccount" => {
                    self.service_accounts
                        .insert((ns.unwrap_or_else(|| "default".into()), name));
                }
                _ => self.others.push((file.to_string(), o.clone())),
            }
        }
    }

    /// ClusterRole aggregation: a role with selectors gets the rules of every ClusterRole
    /// whose labels match (as the controller manager does).
    fn aggregate(&mut self) {
        let snapshot = self.roles.clone();
        for role in self
            .roles
            .iter_mut()
            .filter(|r| !r.aggregate_from.is_empty())
        {
            for sel in &role.aggregate_from {
                for other in snapshot
                    .iter()
                    .filter(|o| o.namespace.is_none() && o.name != role.name)
                {
                    if !sel.is_empty() && sel.iter().all(|(k, v)| other.labels.get(k) == Some(v)) {
                        for r in &other.rules {
                            if !role.rules.contains(r) {
                                role.rules.push(r.clone());
                            }
                        }
                    }
                }
            }
        }
    }

    /// The role a binding references (a RoleBinding's Role lives in its namespace).
    pub fn role_of(&self, b: &Binding) -> Option<&Role> {
        self.roles.iter().find(|r| {
            r.name == b.role_name
                && match b.role_kind.as_str() {
                    "Role" => r.namespace.is_some() && r.namespace == b.namespace,
                    _ => r.namespace.is_none(),
                }
        })
    }

    /// Every subject named by a binding, plus every service account, sorted.
    pub fn subjects(&self) -> Vec<Subject> {
        let mut out: BTreeSet<Subject> = self
            .bindings
            .iter()
            .flat_map(|b| b.subjects.iter().cloned())
            .collect();
        for (ns, name) in &self.service_accounts {
            out.insert(Subject::service_account(ns, name));
        }
        out.into_iter().collect()
    }

    /// Whether a binding subject applies to `who` (directly or through a group).
    fn names(&self, s: &Subject, who: &Subject) -> bool {
        if s == who {
            return true;
        }
        if s.kind == "User" && s.name == who.username() && who.kind == "ServiceAccount" {
            return true;
        }
        s.kind == "Group" && who.implicit_groups().contains(&s.name)
    }

    /// Every grant that applies to a subject.
    pub fn grants_of(&self, who: &Subject) -> Vec<Grant<'_>> {
        let mut out = Vec::new();
        for b in &self.bindings {
            if !b.subjects.iter().any(|s| self.names(s, who)) {
                continue;
            }
            let Some(role) = self.role_of(b) else {
                continue;
            };
            for (i, rule) in role.rules.iter().enumerate() {
                out.push(Grant {
                    binding: b,
                    role,
                    rule_index: i,
                    rule,
                });
            }
        }
        out
    }

    /// The first grant that allows a request, if any.
    pub fn allowed(&self, who: &Subject, r: &Request) -> Option<Grant<'_>> {
        self.grants_of(who).into_iter().find(|g| g.allows(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Rule {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        Rule {
            verbs: v(verbs),
            api_groups: v(groups),
            resources: v(resources),
            ..Rule::default()
        }
    }

    #[test]
    fn rules_match_as_the_authorizer_does() {
        let r = rule(&["get", "list"], &[""], &["pods", "pods/log"]);
        assert!(r.allows(&Request::new("get", "", "pods")));
        assert!(r.allows(&Request::new("get", "", "pods/log")));
        assert!(!r.allows(&Request::new("get", "", "pods/exec")));
        assert!(!r.allows(&Request::new("get", "apps", "pods")));
        assert!(!r.allows(&Request::new("create", "", "pods")));
        let sub = rule(&["*"], &["*"], &["*/exec"]);
        assert!(sub.allows(&Request::new("create", "", "pods/exec")));
        assert!(!sub.allows(&Request::new("create", "", "pods")));
        let mut named = rule(&["update"], &[""], &["configmaps"]);
        named.resource_names = vec!["coredns".into()];
        assert!(named.allows(&Request::new("update", "", "configmaps").named("coredns")));
        assert!(!named.allows(&Request::new("update", "", "configmaps").named("other")));
        let url = Rule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/logs/*".into()],
            ..Rule::default()
        };
        let mut req = Request::new("get", "", "");
        req.path = "/logs/kube.log".into();
        assert!(url.allows(&req));
    }

    #[test]
    fn aggregation_and_service_account_groups() {
        let objs: Vec<Value> = serde_yaml::from_str::<Vec<serde_yaml::Value>>(
            r#"
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: monitoring}
  aggregationRule:
    clusterRoleSelectors: [{matchLabels: {rbac.example.com/aggregate-to-monitoring: "true"}}]
  rules: []
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: secrets-reader, labels: {rbac.example.com/aggregate-to-monitoring: "true"}}
  rules: [{apiGroups: [""], resources: [secrets], verbs: [get]}]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRoleBinding
  metadata: {name: all-sas}
  roleRef: {kind: ClusterRole, name: monitoring}
  subjects: [{kind: Group, name: "system:serviceaccounts:ci"}]
"#,
        )
        .unwrap()
        .into_iter()
        .map(|v| serde_json::to_value(v).unwrap())
        .collect();
        let rbac = Rbac::from_objects(&objs, "t.yaml");
        let sa = Subject::service_account("ci", "builder");
        let g = rbac
            .allowed(&sa, &Request::new("get", "", "secrets").in_ns("prod"))
            .unwrap();
        assert_eq!(g.role.name, "monitoring");
        assert!(rbac
            .allowed(
                &Subject::service_account("web", "x"),
                &Request::new("get", "", "secrets")
            )
            .is_none());
    }
}
