//! Kubernetes drift: desired manifests (as Helm or Kustomize render them) against live objects
//! (a `kubectl get -o json` dump), diffed the way Argo CD keeps diffs quiet, with severities
//! raised on the paths that decide what a workload may do.
//!
//! Normalisation: server-populated metadata (`uid`, `resourceVersion`, `generation`,
//! `creationTimestamp`, `managedFields`, the last-applied annotation, ...) and `status` are
//! dropped; only fields the manifest sets are compared, so server defaults do not show, except
//! live-only fields that grant privilege (`privileged: true`, `hostPath`, added capabilities,
//! ...), which are drift wherever they come from. Lists of named things (containers, env,
//! volumes, ports, mounts) are matched by their key, not by position.

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;
use serde_json::value::RawValue;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::compare::{Attribution, Change, Finding, Severity};

/// Identity of an object: API group, kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// API group (`apps`; empty for the core group).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Kinds without a namespace.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
    "CertificateSigningRequest",
];

/// A manifest or dump that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct LoadError {
    /// The file.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// What was expected.
    pub message: String,
}

/// Objects by identity.
pub type Objects = BTreeMap<ObjectKey, Value>;

/// Reads YAML or JSON files (multi-document, `List` objects expanded) from files or directory
/// trees. Objects without a namespace get `default_namespace` unless cluster-scoped.
pub fn load(paths: &[impl AsRef<Path>], default_namespace: &str) -> Result<Objects, LoadError> {
    let mut files = Vec::new();
    for p in paths {
        collect_files(p.as_ref(), &mut files);
    }
    files.sort();
    // Keyed in parallel and sorted once: inserting 100k objects one by one into the map
    // was the serial part of reading a dump.
    let mut out: Vec<(ObjectKey, Value)> = Vec::new();
    for f in files {
        let name = f.display().to_string();
        let text = std::fs::read_to_string(&f).map_err(|e| LoadError {
            file: name.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        // JSON (kubectl dumps) through serde_json: YAML parsers are several times slower.
        if text.trim_start().starts_with(['{', '[']) {
            for doc in serde_json::Deserializer::from_str(&text).into_iter::<&RawValue>() {
                let doc = doc.map_err(|e| LoadError {
                    file: name.clone(),
                    line: e.line(),
                    message: e.to_string(),
                })?;
                let values = parse_json_doc(doc).map_err(|e| LoadError {
                    file: name.clone(),
                    line: 0,
                    message: e.to_string(),
                })?;
                let keyed = values
                    .into_par_iter()
                    .map(|v| {
                        let mut keyed = Vec::with_capacity(1);
                        add(v, &name, default_namespace, &mut keyed).map(|_| keyed)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                out.extend(keyed.into_iter().flatten());
            }
            continue;
        }
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v = serde_yaml::Value::deserialize(doc).map_err(|e| LoadError {
                file: name.clone(),
                line: e.location().map_or(0, |l| l.line()),
                message: e.to_string(),
            })?;
            let v: Value = serde_json::to_value(v).map_err(|e| LoadError {
                file: name.clone(),
                line: 0,
                message: e.to_string(),
            })?;
            add(v, &name, default_namespace, &mut out)?;
        }
    }
    // Stable, so a later document still replaces an earlier one with the same key.
    out.par_sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out.into_iter().collect())
}

/// A `List` (or an array) of objects is split into its items and they are parsed in
/// parallel: a dump of 100k objects is tens of megabytes. The syntax was checked while the
/// document was split, so an item fails only on nesting deeper than serde_json allows.
fn parse_json_doc(doc: &RawValue) -> serde_json::Result<Vec<Value>> {
    #[derive(serde::Deserialize)]
    struct ListDoc<'a> {
        kind: Option<&'a str>,
        #[serde(borrow)]
        items: Option<Vec<&'a RawValue>>,
    }
    let items = match doc.get().trim_start().as_bytes().first() {
        Some(b'[') => serde_json::from_str::<Vec<&RawValue>>(doc.get()).ok(),
        _ => serde_json::from_str::<ListDoc>(doc.get())
            .ok()
            .filter(|l| l.kind == Some("List"))
            .and_then(|l| l.items),
    };
    match items {
        Some(items) => items
            .par_iter()
            .map(|item| serde_json::from_str(item.get()))
            .collect(),
        None => serde_json::from_str(doc.get()).map(|v| vec![v]),
    }
}

fn collect_files(p: &Path, out: &mut Vec<std::path::PathBuf>) {
    if p.is_dir() {
        if let Ok(d) = std::fs::read_dir(p) {
            for e in d.flatten() {
                collect_files(&e.path(), out);
            }
        }
    } else if p
        .extension()
        .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        || p.is_file()
    {
        out.push(p.to_path_buf());
    }
}

fn add(
    v: Value,
    file: &str,
    default_ns: &str,
    out: &mut Vec<(ObjectKey, Value)>,
) -> Result<(), LoadError> {
    let v = match v {
        Value::Null => return Ok(()),
        Value::Object(mut o) if o.get("kind").and_then(Value::as_str) == Some("List") => {
            if let Some(Value::Array(items)) = o.remove("items") {
                for item in items {
                    add(item, file, default_ns, out)?;
                }
            }
            return Ok(());
        }
        v => v,
    };
    let key = key_of(&v, default_ns).ok_or_else(|| LoadError {
        file: file.to_string(),
        line: 0,
        message: "expected a Kubernetes object with apiVersion, kind and metadata.name".into(),
    })?;
    out.push((key, v));
    Ok(())
}

/// The identity of an object.
pub fn key_of(v: &Value, default_ns: &str) -> Option<ObjectKey> {
    let api = v.get("apiVersion")?.as_str()?;
    let kind = v.get("kind")?.as_str()?.to_string();
    let meta = v.get("metadata")?;
    let name = meta.get("name")?.as_str()?.to_string();
    let group = api.rsplit_once('/').map_or("", |(g, _)| g).to_string();
    let namespace = if CLUSTER_SCOPED.contains(&kind.as_str()) {
        String::new()
    } else {
        meta.get("namespace")
            .and_then(Value::as_str)
            .unwrap_or(default_ns)
            .to_string()
    };
    Some(ObjectKey {
        group,
        kind,
        namespace,
        name,
    })
}

/// Argo CD-style `ignoreDifferences` entries.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IgnoreRule {
    /// API group; empty = core; absent = any.
    #[serde(default)]
    pub group: Option<String>,
    /// Kind; absent = any.
    #[serde(default)]
    pub kind: Option<String>,
    /// Name; absent = any.
    #[serde(default)]
    pub name: Option<String>,
    /// Namespace; absent = any.
    #[serde(default)]
    pub namespace: Option<String>,
    /// RFC 6901 pointers (`/spec/replicas`).
    #[serde(default)]
    pub json_pointers: Vec<String>,
    /// jq-like paths (`.spec.template.spec.containers[].image`).
    #[serde(default)]
    pub jq_path_expressions: Vec<String>,
    /// Field managers (`kube-controller-manager`, an HPA, an operator) whose fields, as the
    /// live object's `managedFields` records them, are not drift.
    #[serde(default)]
    pub managed_fields_managers: Vec<String>,
}

impl IgnoreRule {
    fn applies(&self, k: &ObjectKey) -> bool {
        self.group.as_ref().is_none_or(|g| *g == k.group)
            && self.kind.as_ref().is_none_or(|x| *x == k.kind)
            && self.name.as_ref().is_none_or(|x| *x == k.name)
            && self.namespace.as_ref().is_none_or(|x| *x == k.namespace)
    }

    /// Whether a difference at `path` (our dotted form, `[]` for list items) is ignored.
    fn ignores(&self, path: &str) -> bool {
        let dotted = |p: &str| -> String {
            // `/spec/template/spec/containers/0/image` → `.spec.template.spec.containers[].image`
            let mut s = String::new();
            for seg in p.split('/').filter(|s| !s.is_empty()) {
                let seg = seg.replace("~1", "/").replace("~0", "~");
                if seg.bytes().all(|b| b.is_ascii_digit()) {
                    s.push_str("[]");
                } else {
                    s.push('.');
                    s.push_str(&seg);
                }
            }
            s
        };
        self.json_pointers.iter().any(|p| under(path, &dotted(p)))
            || self
                .jq_path_expressions
                .iter()
                .any(|e| under(path, &e.replace("[*]", "[]")))
    }
}

/// The fields the `managers` own in a live object, in our dotted form (`.spec.replicas`,
/// `.spec.template.spec.containers[].image`), from its `metadata.managedFields` (`FieldsV1`:
/// `f:NAME` a field, `k:{...}`/`v:...` a list item, `.` the node itself).
///
/// ```
/// let live = serde_json::json!({"metadata": {"managedFields": [{"manager": "hpa", "fieldsType": "FieldsV1",
///     "fieldsV1": {"f:spec": {"f:replicas": {}}}}]}});
/// assert_eq!(tripline_drift::k8s::managed_paths(&live, &["hpa".into()]), [".spec.replicas"]);
/// ```
pub fn managed_paths(live: &Value, managers: &[String]) -> Vec<String> {
    fn walk(node: &Value, path: &str, out: &mut Vec<String>) {
        let Some(m) = node.as_object() else { return };
        if m.is_empty() {
            out.push(path.to_string());
            return;
        }
        for (k, v) in m {
            if let Some(name) = k.strip_prefix("f:") {
                walk(v, &format!("{path}.{name}"), out);
            } else if k.starts_with("k:") || k.starts_with("v:") || k.starts_with("i:") {
                walk(v, &format!("{path}[]"), out);
            }
        }
    }
    let mut out = Vec::new();
    if managers.is_empty() {
        return out;
    }
    for entry in live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let manager = entry.get("manager").and_then(Value::as_str).unwrap_or("");
        if managers.iter().any(|m| m == manager) {
            if let Some(f) = entry.get("fieldsV1") {
                walk(f, "", &mut out);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether `path` is `prefix` or below it.
fn under(path: &str, prefix: &str) -> bool {
    path == prefix
        || path.starts_with(&format!("{prefix}."))
        || path.starts_with(&format!("{prefix}["))
}

/// Metadata the API server writes: never drift.
const SERVER_METADATA: [&str; 9] = [
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "ownerReferences",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Annotations tools and controllers write: never drift.
const SERVER_ANNOTATIONS: [&str; 2] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
];

/// The declared metadata (names, labels, annotations) against the live one, without the
/// server's bookkeeping. Live-only metadata is not drift, so only declared keys are visited.
fn diff_metadata(d: &Value, l: Option<&Value>, out: &mut Vec<Diff>) {
    let Some(dm) = d.as_object() else {
        return diff(&mut ".metadata".to_string(), d, l, out);
    };
    for (k, dv) in dm {
        if SERVER_METADATA.contains(&k.as_str()) {
            continue;
        }
        let lv = l.and_then(|l| l.get(k));
        match (k.as_str(), dv.as_object()) {
            ("annotations", Some(da)) => {
                for (ak, av) in da {
                    if !SERVER_ANNOTATIONS.contains(&ak.as_str()) {
                        let mut path = format!(".metadata.annotations.{ak}");
                        diff(&mut path, av, lv.and_then(|a| a.get(ak)), out);
                    }
                }
            }
            _ => diff(&mut format!(".metadata.{k}"), dv, lv, out),
        }
    }
}

/// The keys that identify items of a list, by the list's name (strategic-merge keys; the
/// first one an item has is used: container ports have `containerPort`, Service ports `port`).
fn merge_keys(list: &str) -> Option<&'static [&'static str]> {
    Some(match list {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => &["name"],
        "volumeMounts" => &["mountPath"],
        "ports" => &["containerPort", "port", "name"],
        _ => return None,
    })
}

/// One difference at a path.
#[derive(Debug, Clone, PartialEq)]
struct Diff {
    path: String,
    declared: Option<Value>,
    live: Option<Value>,
}

/// `path` is a buffer: each level appends its segment and takes it off again, so only a
/// difference allocates its path.
fn diff(path: &mut String, d: &Value, l: Option<&Value>, out: &mut Vec<Diff>) {
    let Some(l) = l else {
        out.push(Diff {
            path: path.to_string(),
            declared: Some(d.clone()),
            live: None,
        });
        return;
    };
    match (d, l) {
        (Value::Object(dm), Value::Object(lm)) => {
            let len = path.len();
            for (k, dv) in dm {
                path.push('.');
                path.push_str(k);
                diff(path, dv, lm.get(k), out);
                path.truncate(len);
            }
            risky_additions(path, dm, lm, out);
        }
        (Value::Array(da), Value::Array(la)) => {
            let list = path.rsplit('.').next().unwrap_or_default();
            let len = path.len();
            match merge_keys(list) {
                Some(keys) => {
                    let find = |item: &Value, within: &[Value]| -> Option<usize> {
                        let key = keys.iter().find(|k| item.get(**k).is_some())?;
                        let id = item.get(*key)?;
                        within.iter().position(|x| x.get(*key) == Some(id))
                    };
                    path.push_str("[]");
                    for dv in da {
                        let lv = find(dv, la).map(|i| &la[i]);
                        diff(path, dv, lv, out);
                    }
                    // Live-only items: a container or volume nobody declared.
                    for lv in la {
                        if find(lv, da).is_none() {
                            out.push(Diff {
                                path: path.clone(),
                                declared: None,
                                live: Some(lv.clone()),
                            });
                        }
                    }
                    path.truncate(len);
                }
                None => {
                    if da.len() != la.len() {
                        out.push(Diff {
                            path: path.to_string(),
                            declared: Some(d.clone()),
                            live: Some(l.clone()),
                        });
                    } else {
                        path.push_str("[]");
                        for (dv, lv) in da.iter().zip(la) {
                            diff(path, dv, Some(lv), out);
                        }
                        path.truncate(len);
                    }
                }
            }
        }
        _ => {
            if !scalar_eq(d, l) {
                out.push(Diff {
                    path: path.to_string(),
                    declared: Some(d.clone()),
                    live: Some(l.clone()),
                });
            }
        }
    }
}

/// Manifests write `"80"` or `80`, `true` or `"true"`: the API server stores the typed form.
fn scalar_eq(a: &Value, b: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    a == b || (std::mem::discriminant(a) != std::mem::discriminant(b) && text(a) == text(b))
}

/// Live-only fields that grant privilege are drift even though the manifest never set them.
fn risky_additions(
    path: &str,
    d: &Map<String, Value>,
    l: &Map<String, Value>,
    out: &mut Vec<Diff>,
) {
    for (k, lv) in l {
        if d.contains_key(k) {
            continue;
        }
        let risky = match k.as_str() {
            "privileged" | "allowPrivilegeEscalation" | "hostNetwork" | "hostPID" | "hostIPC" => {
                lv == &Value::Bool(true)
            }
            "hostPath" => true,
            "runAsUser" => lv.as_i64() == Some(0),
            "capabilities" => lv
                .get("add")
                .is_some_and(|a| a.as_array().is_some_and(|a| !a.is_empty())),
            "envFrom" => true,
            // The server mirrors serviceAccountName into the deprecated serviceAccount.
            "serviceAccountName" | "serviceAccount" => {
                let declared = d.get("serviceAccountName").or(d.get("serviceAccount"));
                lv.as_str().is_some_and(|s| s != "default") && declared != Some(lv)
            }
            _ => false,
        };
        if risky {
            out.push(Diff {
                path: format!("{path}.{k}"),
                declared: None,
                live: Some(lv.clone()),
            });
            continue;
        }
        // A whole live-only block (`securityContext: {privileged: true}`): look inside.
        match lv {
            Value::Object(inner) => {
                risky_additions(&format!("{path}.{k}"), &Map::new(), inner, out)
            }
            Value::Array(items) => {
                for item in items.iter().filter_map(Value::as_object) {
                    risky_additions(&format!("{path}.{k}[]"), &Map::new(), item, out);
                }
            }
            _ => {}
        }
    }
}

/// Paths that decide what a workload may do.
fn security_relevant(key: &ObjectKey, path: &str) -> bool {
    const PARTS: &[&str] = &[
        ".securityContext",
        ".privileged",
        ".hostNetwork",
        ".hostPID",
        ".hostIPC",
        ".hostPath",
        ".capabilities",
        ".runAsUser",
        ".allowPrivilegeEscalation",
        ".serviceAccountName",
        ".serviceAccount",
        ".automountServiceAccountToken",
        ".image",
        ".envFrom",
        ".valueFrom",
        ".secretKeyRef",
        ".containers[]",
        ".initContainers[]",
        ".volumes[]",
    ];
    matches!(
        key.kind.as_str(),
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" | "NetworkPolicy"
    ) && (path.starts_with(".rules")
        || path.starts_with(".subjects")
        || path.starts_with(".roleRef")
        || path.starts_with(".spec")
        || path.starts_with(".aggregationRule"))
        || PARTS.iter().any(|p| path.contains(p))
}

fn show(v: &Option<Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            let s = v.to_string();
            if s.len() > 120 {
                format!("{}...", &s[..117])
            } else {
                s
            }
        }
    }
}

/// One declared object against its live copy: a finding when it is missing or differs.
fn diff_object(
    key: &ObjectKey,
    d: &Value,
    l: Option<&Value>,
    ignore: &[IgnoreRule],
) -> Option<(ObjectKey, Finding)> {
    let rules: Vec<&IgnoreRule> = ignore.iter().filter(|r| r.applies(key)).collect();
    let Some(l) = l else {
        return Some((key.clone(), Finding {
            section: "kubernetes",
            change: Change::Missing,
            item: key.to_string(),
            severity: if key.kind == "NetworkPolicy" {
                Severity::High
            } else {
                Severity::Medium
            },
            evidence: vec!["declared, not in the cluster".into()],
            hint: "re-sync from Git (kubectl apply / argocd app sync), or remove it from the manifests".into(),
            attribution: None,
        }));
    };
    // Live-only fields are ignored by the diff, so neither side is copied or normalised:
    // only declared fields are visited, skipping what the server owns.
    let mut diffs = Vec::new();
    if let (Some(dm), Some(lm)) = (d.as_object(), l.as_object()) {
        for (k, dv) in dm {
            match k.as_str() {
                "apiVersion" | "kind" | "status" => {}
                "metadata" => diff_metadata(dv, lm.get(k), &mut diffs),
                _ => diff(&mut format!(".{k}"), dv, lm.get(k), &mut diffs),
            }
        }
        if let Some(lspec) = lm.get("spec").and_then(Value::as_object) {
            if dm.get("spec").is_none() {
                risky_additions(".spec", &Map::new(), lspec, &mut diffs);
            }
        }
    }
    let managers: Vec<String> = rules
        .iter()
        .flat_map(|r| r.managed_fields_managers.iter().cloned())
        .collect();
    let managed = if managers.is_empty() {
        Vec::new()
    } else {
        managed_paths(l, &managers)
    };
    diffs.retain(|x| {
        !rules.iter().any(|r| r.ignores(&x.path)) && !managed.iter().any(|m| under(&x.path, m))
    });
    if diffs.is_empty() {
        return None;
    }
    let severity = if diffs.iter().any(|x| security_relevant(key, &x.path)) {
        Severity::High
    } else if diffs.iter().all(|x| x.path.ends_with(".replicas")) {
        Severity::Low
    } else {
        Severity::Medium
    };
    Some((
        key.clone(),
        Finding {
            section: "kubernetes",
            change: Change::Changed,
            item: key.to_string(),
            severity,
            evidence: diffs
                .iter()
                .map(|x| {
                    format!(
                        "{}: declared {}, live {}",
                        x.path,
                        show(&x.declared),
                        show(&x.live)
                    )
                })
                .collect(),
            hint: "find who changed it (--audit), then re-sync from Git or update the manifests"
                .into(),
            attribution: None,
        },
    ))
}

/// Desired against live: one finding per drifted object, with every differing path as
/// evidence. Live objects of kinds and namespaces the manifests manage, but which no manifest
/// declares, are `added`.
///
/// ```
/// use serde_json::json;
/// use tripline_drift::k8s::{drift, key_of, Objects};
/// let desired = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
///     "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}});
/// let mut live = desired.clone();
/// live["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
/// live["metadata"]["uid"] = json!("7c1e"); // server noise: ignored
/// let (d, l): (Objects, Objects) = (
///     [(key_of(&desired, "default").unwrap(), desired)].into(),
///     [(key_of(&live, "default").unwrap(), live)].into(),
/// );
/// let f = drift(&d, &l, &[], &[]);
/// assert_eq!(f.len(), 1);
/// assert!(f[0].evidence[0].contains("securityContext"));
/// ```
pub fn drift(
    desired: &Objects,
    live: &Objects,
    ignore: &[IgnoreRule],
    audit: &[AuditRecord],
) -> Vec<Finding> {
    // Both maps are sorted by identity: one merge pairs each declared object with its live
    // copy and finds the undeclared ones, with no lookups.
    let mut pairs = Vec::with_capacity(desired.len());
    let mut undeclared = Vec::new();
    let mut live_objects = live.iter().peekable();
    for (key, d) in desired {
        while let Some(u) = live_objects.next_if(|(l, _)| *l < key) {
            undeclared.push(u);
        }
        let l = live_objects.next_if(|(l, _)| *l == key).map(|(_, l)| l);
        pairs.push((key, d, l));
    }
    undeclared.extend(live_objects);
    // Objects are compared on every core; findings are sorted at the end.
    let mut out: Vec<(ObjectKey, Finding)> = pairs
        .par_iter()
        .filter_map(|&(key, d, l)| diff_object(key, d, l, ignore))
        .collect();
    // Undeclared objects, where the manifests manage that kind in that namespace.
    let managed: std::collections::BTreeSet<(&str, &str, &str)> = desired
        .keys()
        .map(|k| (k.group.as_str(), k.kind.as_str(), k.namespace.as_str()))
        .collect();
    let added = undeclared.par_iter().filter_map(|&(key, l)| {
        if !managed.contains(&(
                key.group.as_str(),
                key.kind.as_str(),
                key.namespace.as_str(),
            ))
        {
            return None;
        }
        // Objects every namespace gets from the control plane are not drift.
        let builtin = matches!(
            (key.kind.as_str(), key.name.as_str()),
            ("ConfigMap", "kube-root-ca.crt") | ("ServiceAccount", "default")
        );
        if builtin {
            return None;
        }
        // Objects created by controllers (ReplicaSets, Pods of a Deployment) are not drift.
        if l.pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|o| !o.is_empty())
        {
            return None;
        }
        let rbac = matches!(
            key.kind.as_str(),
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
        );
        Some((key.clone(), Finding {
            section: "kubernetes",
            change: Change::Added,
            item: key.to_string(),
            severity: if rbac || key.namespace == "kube-system" {
                Severity::High
            } else {
                Severity::Medium
            },
            evidence: vec!["in the cluster, not in the manifests".into()],
            hint: "find who created it (--audit); delete it, or add it to the manifests after review".into(),
            attribution: None,
        }))
    });
    out.par_extend(added);
    let mut out: Vec<Finding> = out
        .into_iter()
        .map(|(key, mut f)| {
            if let Some(a) = last_change(audit, &key) {
                f.evidence.push(format!(
                    "last change: {} by {} ({}) from {} at {}",
                    a.verb, a.user, a.user_agent, a.source_ip, a.time
                ));
                f.attribution = Some(a);
            }
            f
        })
        .collect();
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.item.cmp(&b.item)));
    out
}

/// One write to the API server, from an audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// `create`, `update`, `patch` or `delete`.
    pub verb: String,
    /// Resource (plural, lower case: `deployments`).
    pub resource: String,
    /// Namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// Object name.
    pub name: String,
    /// Who.
    pub user: String,
    /// With what client.
    pub user_agent: String,
    /// From where.
    pub source_ip: String,
    /// When (RFC 3339, sortable).
    pub time: String,
}

/// Reads the successful writes of Kubernetes audit logs (`Event` per line, or `EventList`
/// objects), one record per completed request.
pub fn load_audit(paths: &[impl AsRef<Path>]) -> Result<Vec<AuditRecord>, LoadError> {
    let mut out = Vec::new();
    for p in paths {
        let name = p.as_ref().display().to_string();
        let text = std::fs::read_to_string(p.as_ref()).map_err(|e| LoadError {
            file: name.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(line).map_err(|e| LoadError {
                file: name.clone(),
                line: n + 1,
                message: format!("expected an audit Event or EventList as JSON: {e}"),
            })?;
            let events = match v.get("items").and_then(Value::as_array) {
                Some(items) => items.clone(),
                None => vec![v],
            };
            out.extend(events.iter().filter_map(audit_record));
        }
    }
    out.sort_by(|a, b| a.time.cmp(&b.time));
    Ok(out)
}

fn audit_record(e: &Value) -> Option<AuditRecord> {
    let verb = e.get("verb")?.as_str()?;
    if !matches!(verb, "create" | "update" | "patch" | "delete") {
        return None;
    }
    // One record per request: the completed stage, and only if it succeeded.
    if e.get("stage")
        .and_then(Value::as_str)
        .is_some_and(|s| s != "ResponseComplete")
    {
        return None;
    }
    if e.pointer("/responseStatus/code")
        .and_then(Value::as_i64)
        .is_some_and(|c| c >= 400)
    {
        return None;
    }
    let obj = e.get("objectRef")?;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    Some(AuditRecord {
        verb: verb.to_string(),
        resource: text(obj.get("resource")),
        namespace: text(obj.get("namespace")),
        name: text(obj.get("name")),
        user: text(e.pointer("/user/username")),
        user_agent: text(e.get("userAgent")),
        source_ip: text(e.pointer("/sourceIPs/0")),
        time: text(
            e.get("stageTimestamp")
                .or(e.get("requestReceivedTimestamp")),
        ),
    })
}

/// `Deployment` → `deployments`, `NetworkPolicy` → `networkpolicies`, `Ingress` → `ingresses`.
fn plural(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    if let Some(stem) = k.strip_suffix('y') {
        format!("{stem}ies")
    } else if k.ends_with('s') {
        format!("{k}es")
    } else {
        format!("{k}s")
    }
}

/// The latest successful write to the object.
fn last_change(audit: &[AuditRecord], key: &ObjectKey) -> Option<Attribution> {
    let resource = plural(&key.kind);
    audit
        .iter()
        .rev()
        .find(|a| a.resource == resource && a.namespace == key.namespace && a.name == key.name)
        .map(|a| Attribution {
            user: a.user.clone(),
            verb: a.verb.clone(),
            user_agent: a.user_agent.clone(),
            source_ip: a.source_ip.clone(),
            time: a.time.clone(),
        })
}
