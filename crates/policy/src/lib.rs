//! Rego policies (OPA v1 syntax, v0 on request) over host snapshots and Kubernetes objects,
//! with the conventions of conftest and Gatekeeper: every package's `deny`, `violation` and
//! `warn` rules are collected; an entry is a message string or an object with `msg` (plus
//! optional `severity` and anything else, kept as details).
//!
//! Kubernetes objects are evaluated one at a time as `input` (conftest style), with every
//! object of the run in `data.tripline.objects` for checks that join objects (a binding and its
//! role).
//!
//! ```
//! let mut set = tripline_policy::PolicySet::new(false);
//! set.add("t.rego", "package t\nimport rego.v1\ndeny contains \"no\" if input.x == 1").unwrap();
//! let v = set.eval_input(&serde_json::json!({"x": 1}), "doc").unwrap();
//! assert_eq!(v[0].msg, "no");
//! ```
#![warn(missing_docs)]

use std::path::Path;

use serde_json::Value;

/// The policies shipped with Tripline: Kubernetes RBAC risks, Pod Security Standards
/// (baseline, restricted) and a host baseline.
pub const DEFAULT_PACK: &[(&str, &str)] = &[
    (
        "lib/rbac.rego",
        include_str!("../../../policies/lib/rbac.rego"),
    ),
    (
        "kubernetes/rbac/rules.rego",
        include_str!("../../../policies/kubernetes/rbac/rules.rego"),
    ),
    (
        "kubernetes/rbac/secrets.rego",
        include_str!("../../../policies/kubernetes/rbac/secrets.rego"),
    ),
    (
        "kubernetes/rbac/events.rego",
        include_str!("../../../policies/kubernetes/rbac/events.rego"),
    ),
    (
        "kubernetes/rbac/csr.rego",
        include_str!("../../../policies/kubernetes/rbac/csr.rego"),
    ),
    (
        "kubernetes/rbac/sa_token.rego",
        include_str!("../../../policies/kubernetes/rbac/sa_token.rego"),
    ),
    (
        "kubernetes/rbac/proxy.rego",
        include_str!("../../../policies/kubernetes/rbac/proxy.rego"),
    ),
    (
        "kubernetes/rbac/webhooks.rego",
        include_str!("../../../policies/kubernetes/rbac/webhooks.rego"),
    ),
    (
        "kubernetes/rbac/coredns.rego",
        include_str!("../../../policies/kubernetes/rbac/coredns.rego"),
    ),
    (
        "kubernetes/pss/baseline.rego",
        include_str!("../../../policies/kubernetes/pss/baseline.rego"),
    ),
    (
        "kubernetes/pss/restricted.rego",
        include_str!("../../../policies/kubernetes/pss/restricted.rego"),
    ),
    (
        "host/baseline.rego",
        include_str!("../../../policies/host/baseline.rego"),
    ),
];

/// One policy result.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Package (`tripline.kubernetes.pss.baseline`).
    pub package: String,
    /// `deny`, `violation` or `warn`.
    pub rule: String,
    /// The message.
    pub msg: String,
    /// `severity` of the result, else high for deny/violation and low for warn.
    pub severity: String,
    /// What was evaluated (`Deployment shop/web`, or the input file).
    pub subject: String,
    /// The whole result entry.
    pub details: Value,
}

/// Loaded policies.
pub struct PolicySet {
    engine: regorus::Engine,
    packages: Vec<String>,
    /// `(package, rule)` paths that exist, found on the first evaluation (asking for a rule a
    /// package lacks is an error, and errors are not free).
    rules: Option<Vec<(String, &'static str)>>,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field("packages", &self.packages)
            .finish()
    }
}

impl PolicySet {
    /// An empty set; `rego_v0` accepts the pre-1.0 syntax (`deny[msg] { ... }`).
    pub fn new(rego_v0: bool) -> PolicySet {
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(rego_v0);
        PolicySet {
            engine,
            packages: Vec::new(),
            rules: None,
        }
    }

    /// The default pack.
    pub fn default_pack() -> PolicySet {
        let mut set = PolicySet::new(false);
        for (name, text) in DEFAULT_PACK {
            set.add(name, text).expect("the default pack parses");
        }
        set
    }

    /// Adds one policy module; the error names the file and line.
    pub fn add(&mut self, name: &str, rego: &str) -> Result<(), String> {
        let package = self
            .engine
            .add_policy(name.to_string(), rego.to_string())
            .map_err(|e| e.to_string())?;
        if !self.packages.contains(&package) {
            self.packages.push(package);
        }
        self.rules = None;
        Ok(())
    }

    /// Adds every `.rego` file under `path` (tests, `*_test.rego`, are skipped).
    pub fn add_path(&mut self, path: &Path) -> Result<(), String> {
        if path.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .flatten()
                .map(|e| e.path())
                .collect();
            entries.sort();
            for e in entries {
                self.add_path(&e)?;
            }
            return Ok(());
        }
        let name = path.display().to_string();
        if !name.ends_with(".rego") || name.ends_with("_test.rego") {
            return Ok(());
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
        self.add(&name, &text)
    }

    /// Packages loaded, in order.
    pub fn packages(&self) -> &[String] {
        &self.packages
    }

    /// Evaluates every package on one input document.
    pub fn eval_input(&mut self, input: &Value, subject: &str) -> Result<Vec<Violation>, String> {
        self.eval_scoped(input, subject, None)
    }

    /// Evaluates a `tripline contract snapshot` document (the shipped Kubernetes packages are
    /// skipped: they do not apply).
    pub fn eval_snapshot(
        &mut self,
        input: &Value,
        subject: &str,
    ) -> Result<Vec<Violation>, String> {
        self.eval_scoped(input, subject, Some("data.tripline.host."))
    }

    /// `scope`: of the shipped `data.tripline.*` packages, only those under this prefix run.
    fn eval_scoped(
        &mut self,
        input: &Value,
        subject: &str,
        scope: Option<&str>,
    ) -> Result<Vec<Violation>, String> {
        let input = regorus::Value::from_json_str(&input.to_string()).map_err(|e| e.to_string())?;
        self.engine.set_input(input);
        let mut out = Vec::new();
        let rules = match self.rules.take() {
            Some(r) => r,
            None => {
                let mut found = Vec::new();
                for package in &self.packages {
                    for rule in ["deny", "violation", "warn"] {
                        match self.engine.eval_rule(format!("{package}.{rule}")) {
                            Err(e) if e.to_string().contains("not a valid rule path") => {}
                            _ => found.push((package.clone(), rule)),
                        }
                    }
                }
                found
            }
        };
        let result = self.eval_rules(&rules, subject, scope, &mut out);
        self.rules = Some(rules);
        result.map(|_| out)
    }

    fn eval_rules(
        &mut self,
        rules: &[(String, &'static str)],
        subject: &str,
        scope: Option<&str>,
        out: &mut Vec<Violation>,
    ) -> Result<(), String> {
        for (package, rule) in rules {
            let (package, rule) = (package.clone(), *rule);
            let shipped =
                package.starts_with("data.tripline.") && !package.starts_with("data.tripline.lib.");
            if shipped && scope.is_some_and(|s| !package.starts_with(s)) {
                continue;
            }
            {
                let path = format!("{package}.{rule}");
                let value = match self.engine.eval_rule(path) {
                    Ok(v) => v,
                    Err(e) => return Err(format!("{package}.{rule}: {e}")),
                };
                let json = value.to_json_str().map_err(|e| e.to_string())?;
                let json: Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
                let items = match json {
                    Value::Array(items) => items,
                    Value::Null => Vec::new(),
                    other => vec![other],
                };
                for item in items {
                    let msg = match &item {
                        Value::String(s) => s.clone(),
                        Value::Object(o) => o
                            .get("msg")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        other => other.to_string(),
                    };
                    let severity = item
                        .get("severity")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| if rule == "warn" { "low" } else { "high" }.into());
                    out.push(Violation {
                        package: package.trim_start_matches("data.").to_string(),
                        rule: rule.to_string(),
                        msg,
                        severity,
                        subject: subject.to_string(),
                        details: item,
                    });
                }
            }
        }
        Ok(())
    }

    /// Evaluates every package on each object (conftest style), with all objects in
    /// `data.tripline.objects`.
    pub fn eval_objects(&mut self, objects: &[(String, Value)]) -> Result<Vec<Violation>, String> {
        let all: Vec<&Value> = objects.iter().map(|(_, o)| o).collect();
        // Roles by `Kind/namespace/name`, so binding checks need not scan every object.
        let mut roles = serde_json::Map::new();
        for o in &all {
            let kind = o.get("kind").and_then(Value::as_str).unwrap_or_default();
            if kind == "Role" || kind == "ClusterRole" {
                let meta = |k: &str| {
                    o.pointer(&format!("/metadata/{k}"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                };
                let ns = if kind == "Role" {
                    meta("namespace")
                } else {
                    ""
                };
                roles.insert(format!("{kind}/{ns}/{}", meta("name")), (*o).clone());
            }
        }
        let data = serde_json::json!({"tripline": {"objects": all, "roles": roles}});
        self.engine.clear_data();
        self.engine
            .add_data(regorus::Value::from_json_str(&data.to_string()).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for (subject, o) in objects {
            out.extend(self.eval_scoped(o, subject, Some("data.tripline.kubernetes."))?);
        }
        Ok(out)
    }
}
