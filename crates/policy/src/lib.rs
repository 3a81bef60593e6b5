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

use std::collections::{BTreeMap, BTreeSet, HashMap};
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
///
/// Policies are compiled once to regorus's register VM (RVM) and evaluated there, one object
/// at a time; a policy the RVM compiler does not support runs on the tree-walking interpreter
/// instead, with the same results.
pub struct PolicySet {
    rego_v0: bool,
    /// `(file name, text)`, in order: each evaluation thread builds its own engine from them,
    /// because regorus values shared between threads contend on their reference counts.
    modules: Vec<(String, String)>,
    packages: Vec<String>,
    /// The first engine: it checks each module as it is added.
    engine: regorus::Engine,
    /// The result rules that exist, found on the first evaluation.
    rules: Option<Vec<ResultRule>>,
    /// The evaluator of single inputs (snapshots), kept between calls, with its scope.
    single: Option<(Option<String>, Evaluator)>,
    /// Never compile to the RVM (to compare the two).
    interpreter_only: bool,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field("packages", &self.packages)
            .finish()
    }
}

/// The rule names collected from every package, as conftest and Gatekeeper name them.
const RESULT_RULES: [&str; 3] = ["deny", "violation", "warn"];

/// The generated package that gathers every `(package, rule)` result in one evaluation.
const GATHER: &str = "data.tripline_gather__.results";

impl PolicySet {
    /// An empty set; `rego_v0` accepts the pre-1.0 syntax (`deny[msg] { ... }`).
    pub fn new(rego_v0: bool) -> PolicySet {
        PolicySet {
            rego_v0,
            modules: Vec::new(),
            packages: Vec::new(),
            engine: new_engine(rego_v0),
            rules: None,
            single: None,
            interpreter_only: false,
        }
    }

    /// Evaluates on regorus's tree-walking interpreter only, never on the RVM (slower; the
    /// results are the same).
    pub fn interpreter_only(mut self, yes: bool) -> PolicySet {
        self.interpreter_only = yes;
        self.single = None;
        self
    }

    /// `rvm` when the policies run compiled on regorus's register VM, else `interpreter`.
    pub fn engine_name(&mut self) -> Result<&'static str, String> {
        let rules = self.rules()?;
        let e = Evaluator::new(
            self.rego_v0,
            &self.modules,
            &rules,
            None,
            self.interpreter_only,
        )?;
        Ok(match e.backend {
            Backend::Vm(_) => "rvm",
            Backend::Interpreter(_) => "interpreter",
        })
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
        self.modules.push((name.to_string(), rego.to_string()));
        self.rules = None;
        self.single = None;
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
        self.eval_single(input, subject, None)
    }

    /// Evaluates a `tripline contract snapshot` document (the shipped Kubernetes packages are
    /// skipped: they do not apply).
    pub fn eval_snapshot(
        &mut self,
        input: &Value,
        subject: &str,
    ) -> Result<Vec<Violation>, String> {
        self.eval_single(input, subject, Some("data.tripline.host."))
    }

    fn eval_single(
        &mut self,
        input: &Value,
        subject: &str,
        scope: Option<&str>,
    ) -> Result<Vec<Violation>, String> {
        let rules = self.rules()?;
        let mut evaluator = match self.single.take() {
            Some((s, e)) if s.as_deref() == scope => e,
            _ => Evaluator::new(
                self.rego_v0,
                &self.modules,
                &rules,
                scope,
                self.interpreter_only,
            )?,
        };
        let result = evaluator.eval(to_rego(input), subject);
        self.single = Some((scope.map(str::to_string), evaluator));
        result
    }

    /// The result rules that exist, with their package's `tripline_kinds`. Asking for a rule
    /// a package lacks is an error, so they are found once, by asking each.
    fn rules(&mut self) -> Result<Vec<ResultRule>, String> {
        if let Some(r) = &self.rules {
            return Ok(r.clone());
        }
        let missing = |e: &dyn std::fmt::Display| e.to_string().contains("not a valid rule path");
        let mut found = Vec::new();
        for package in &self.packages {
            let kinds = match self.engine.eval_rule(format!("{package}.tripline_kinds")) {
                Err(e) if missing(&e) => None,
                Err(e) => return Err(format!("{package}.tripline_kinds: {e}")),
                Ok(v) => Some(
                    v.as_set()
                        .map_err(|_| format!("{package}.tripline_kinds: expected a set of kinds"))?
                        .iter()
                        .filter_map(|k| k.as_string().ok().map(|k| k.to_string()))
                        .collect(),
                ),
            };
            for rule in RESULT_RULES {
                match self.engine.eval_rule(format!("{package}.{rule}")) {
                    Err(e) if missing(&e) => {}
                    _ => found.push(ResultRule {
                        package: package.clone(),
                        rule,
                        kinds: kinds.clone(),
                    }),
                }
            }
        }
        self.rules = Some(found.clone());
        Ok(found)
    }

    /// Evaluates every package on each object (conftest style), with all objects in
    /// `data.tripline.objects`. Objects are shared out over the machine's cores; results keep
    /// the objects' order. Same as [`PolicySet::prepare_objects`] then
    /// [`PolicySet::eval_prepared`].
    pub fn eval_objects(&mut self, objects: &[(String, Value)]) -> Result<Vec<Violation>, String> {
        let prepared = self.prepare_objects(objects)?;
        self.eval_prepared(&prepared)
    }

    /// Builds `data.tripline` for [`PolicySet::eval_prepared`] from `(subject, object)` pairs.
    ///
    /// Roles and ClusterRoles are converted to Rego values here, for `data.tripline.roles`;
    /// so is every object when some policy may read `data.tripline.objects`. Other objects
    /// are converted by the evaluating thread just before their turn and freed after it,
    /// so the converted copy of a large dump is never resident at once, and objects of
    /// kinds no package applies to (see `tripline_kinds`) are never converted. Keeping the
    /// result apart lets a command that exits next skip freeing it.
    ///
    /// ```
    /// let mut set = tripline_policy::PolicySet::new(false);
    /// set.add("p.rego", "package p\nimport rego.v1\ntripline_kinds := {\"Pod\"}\ndeny contains \"pod\" if true").unwrap();
    /// let objects = [
    ///     ("cm".to_string(), serde_json::json!({"kind": "ConfigMap"})),
    ///     ("role".to_string(), serde_json::json!({"kind": "Role", "metadata": {"name": "r"}})),
    /// ];
    /// let prepared = set.prepare_objects(&objects).unwrap();
    /// assert_eq!(prepared.converted(), 1); // the Role, for `data.tripline.roles`
    /// assert!(set.eval_prepared(&prepared).unwrap().is_empty());
    /// ```
    pub fn prepare_objects<'a>(
        &mut self,
        objects: &'a [(String, Value)],
    ) -> Result<PreparedObjects<'a>, String> {
        self.rules()?;
        let all = self
            .modules
            .iter()
            .any(|(_, text)| may_read_all_objects(text));
        fn kind(o: &Value) -> &str {
            o.get("kind").and_then(Value::as_str).unwrap_or_default()
        }
        use rayon::prelude::*;
        let converted: Vec<Option<regorus::Value>> = objects
            .par_iter()
            .map(|(_, o)| (all || matches!(kind(o), "Role" | "ClusterRole")).then(|| to_rego(o)))
            .collect();
        // Roles by `Kind/namespace/name`, so binding checks need not scan every object.
        let mut roles = BTreeMap::new();
        for ((_, o), value) in objects.iter().zip(&converted) {
            let kind = kind(o);
            let Some(value) = value
                .as_ref()
                .filter(|_| kind == "Role" || kind == "ClusterRole")
            else {
                continue;
            };
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
            let key = format!("{kind}/{ns}/{}", meta("name"));
            roles.insert(regorus::Value::from(key), value.clone());
        }
        let mut tripline = BTreeMap::from([("roles".into(), regorus::Value::from(roles))]);
        if all {
            let every: Vec<regorus::Value> = converted.iter().flatten().cloned().collect();
            tripline.insert("objects".into(), regorus::Value::from(every));
        }
        let data = regorus::Value::from(BTreeMap::from([(
            regorus::Value::from("tripline"),
            regorus::Value::from(tripline),
        )]));
        Ok(PreparedObjects {
            objects,
            converted,
            data,
        })
    }

    /// Evaluates every package on prepared objects; see [`PolicySet::eval_objects`].
    pub fn eval_prepared(
        &mut self,
        prepared: &PreparedObjects<'_>,
    ) -> Result<Vec<Violation>, String> {
        let rules = self.rules()?;
        let objects = prepared.objects;
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(objects.len().div_ceil(MIN_OBJECTS_PER_THREAD))
            .max(1);
        let (modules, rego_v0, rules) = (&self.modules, self.rego_v0, &rules);
        let interpreter_only = self.interpreter_only;
        // Thread t takes objects t, t + threads, ...: objects come sorted by kind, and kinds
        // differ a lot in cost, so halves would leave one thread with most of the work.
        type Part = Result<Vec<(usize, Vec<Violation>)>, String>;
        let parts: Vec<Part> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let data = &prepared.data;
                    s.spawn(move || {
                        let scope = Some("data.tripline.kubernetes.");
                        // One evaluator per kind, with the rules whose package applies to it;
                        // `None` when none does (nothing to evaluate).
                        let mut by_kind: HashMap<String, Option<Evaluator>> = HashMap::new();
                        let mut out = Vec::new();
                        for i in (t..objects.len()).step_by(threads) {
                            let (subject, o) = &objects[i];
                            let kind = o.get("kind").and_then(Value::as_str).unwrap_or_default();
                            if !by_kind.contains_key(kind) {
                                let rules: Vec<ResultRule> = rules
                                    .iter()
                                    .filter(|r| r.kinds.as_ref().is_none_or(|k| k.contains(kind)))
                                    .cloned()
                                    .collect();
                                let mut e = Evaluator::new(
                                    rego_v0,
                                    modules,
                                    &rules,
                                    scope,
                                    interpreter_only,
                                )?;
                                let e = if e.rules.is_empty() {
                                    None
                                } else {
                                    e.set_data(data.clone())?;
                                    Some(e)
                                };
                                by_kind.insert(kind.to_string(), e);
                            }
                            if let Some(e) = by_kind.get_mut(kind).and_then(Option::as_mut) {
                                let input = match &prepared.converted[i] {
                                    Some(v) => v.clone(),
                                    None => to_rego(o),
                                };
                                let v = e.eval(input, subject)?;
                                if !v.is_empty() {
                                    out.push((i, v));
                                }
                            }
                        }
                        Ok(out)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| Err("policy evaluation panicked".into()))
                })
                .collect()
        });
        let mut by_object = Vec::new();
        for part in parts {
            by_object.extend(part?);
        }
        by_object.sort_unstable_by_key(|(i, _)| *i);
        Ok(by_object.into_iter().flat_map(|(_, v)| v).collect())
    }
}

/// Kubernetes objects ready for [`PolicySet::eval_prepared`], from
/// [`PolicySet::prepare_objects`].
pub struct PreparedObjects<'a> {
    objects: &'a [(String, Value)],
    /// By object: its Rego value, when it was needed before evaluation.
    converted: Vec<Option<regorus::Value>>,
    /// `data.tripline`: the roles, and every object when a policy may read them.
    data: regorus::Value,
}

impl PreparedObjects<'_> {
    /// How many objects were converted ahead of evaluation (for `data.tripline`).
    pub fn converted(&self) -> usize {
        self.converted.iter().flatten().count()
    }
}

impl std::fmt::Debug for PreparedObjects<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedObjects")
            .field("objects", &self.objects.len())
            .field("converted", &self.converted())
            .finish()
    }
}

/// Whether a module may read `data.tripline.objects`: it names `objects`, or reads the root
/// `data` or `data.tripline` whole (`data[x]`, `walk(data, ...)`, `import data.tripline`).
/// Wrong only towards converting too much.
fn may_read_all_objects(rego: &str) -> bool {
    let word = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_');
    // `path` used as a whole: not part of a longer name, and not followed by `.field`.
    let whole = |path: &str| {
        let bytes = rego.as_bytes();
        rego.match_indices(path).any(|(i, _)| {
            let before = i.checked_sub(1).map(|j| bytes[j]);
            let after = bytes.get(i + path.len()).copied();
            // `x.data` is a field of something else.
            !word(before) && before != Some(b'.') && !word(after) && after != Some(b'.')
        })
    };
    rego.contains("objects") || whole("data") || whole("data.tripline")
}

#[cfg(test)]
mod tests {
    #[test]
    fn what_may_read_every_object() {
        use super::may_read_all_objects as reads;
        assert!(reads("x := count(data.tripline.objects)"));
        assert!(reads("import data.tripline\nx := tripline[k]"));
        assert!(reads("t := data.tripline\n"));
        assert!(reads("x := data[k]"));
        assert!(reads("x := walk(data)"));
        assert!(!reads("r := data.tripline.roles[k]\nm := input.data.key"));
        assert!(!reads("import data.tripline.lib.rbac\nmetadata := 1"));
        // The shipped pack converts only what its packages are routed to.
        for (name, text) in super::DEFAULT_PACK {
            assert!(!reads(text), "{name}");
        }
    }
}

/// Below this many objects per thread, starting another thread costs more than it saves.
const MIN_OBJECTS_PER_THREAD: usize = 256;

fn new_engine(rego_v0: bool) -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(rego_v0);
    engine
}

/// A `deny`, `violation` or `warn` rule of a package.
#[derive(Debug, Clone)]
struct ResultRule {
    /// `data.` path of the package.
    package: String,
    rule: &'static str,
    /// The package's `tripline_kinds`: the only kinds of object it is evaluated on.
    kinds: Option<BTreeSet<String>>,
}

/// One thread's compiled policies.
struct Evaluator {
    backend: Backend,
    /// The rules gathered, by index.
    rules: Vec<ResultRule>,
}

enum Backend {
    /// The policies compiled to RVM bytecode, with one entry point that gathers every result.
    Vm(Box<regorus::rvm::vm::RegoVM>),
    /// The interpreter, for policies the RVM compiler does not take.
    Interpreter(Box<regorus::Engine>),
}

impl Evaluator {
    /// `scope`: of the shipped `data.tripline.*` packages, only those under this prefix run.
    fn new(
        rego_v0: bool,
        modules: &[(String, String)],
        rules: &[ResultRule],
        scope: Option<&str>,
        interpreter_only: bool,
    ) -> Result<Evaluator, String> {
        let rules: Vec<ResultRule> = rules
            .iter()
            .filter(|ResultRule { package, .. }| {
                let shipped = package.starts_with("data.tripline.")
                    && !package.starts_with("data.tripline.lib.");
                !(shipped && scope.is_some_and(|s| !package.starts_with(s)))
            })
            .cloned()
            .collect();
        let mut engine = new_engine(rego_v0);
        for (name, text) in modules {
            engine
                .add_policy(name.clone(), text.clone())
                .map_err(|e| e.to_string())?;
        }
        // `results` holds `[index, value]` for each rule that is defined for the input.
        let mut gather = String::from("package tripline_gather__\n\nimport rego.v1\n\n");
        for (i, ResultRule { package, rule, .. }) in rules.iter().enumerate() {
            gather.push_str(&format!(
                "results contains [{i}, x] if x := {package}.{rule}\n"
            ));
        }
        let mut vm_engine = engine.clone();
        let program = vm_engine
            .add_policy("tripline_gather__.rego".into(), gather)
            .and_then(|_| vm_engine.compile_with_entrypoint(&GATHER.into()))
            .map_err(|e| e.to_string())
            .and_then(|policy| {
                regorus::languages::rego::compiler::Compiler::compile_from_policy(
                    &policy,
                    &[GATHER],
                )
                .map_err(|e| e.to_string())
            });
        let backend = match program {
            Ok(program) if !interpreter_only => {
                let mut vm = regorus::rvm::vm::RegoVM::new();
                vm.load_program(program);
                Backend::Vm(Box::new(vm))
            }
            _ => Backend::Interpreter(Box::new(engine)),
        };
        Ok(Evaluator { backend, rules })
    }

    fn set_data(&mut self, data: regorus::Value) -> Result<(), String> {
        match &mut self.backend {
            Backend::Vm(vm) => vm.set_data(data).map_err(|e| e.to_string()),
            Backend::Interpreter(engine) => {
                engine.clear_data();
                engine.add_data(data).map_err(|e| e.to_string())
            }
        }
    }

    fn eval(&mut self, input: regorus::Value, subject: &str) -> Result<Vec<Violation>, String> {
        let mut out = Vec::new();
        match &mut self.backend {
            Backend::Vm(vm) => {
                vm.set_input(input);
                let results = vm.execute().map_err(|e| e.to_string())?;
                for pair in results.as_set().into_iter().flatten() {
                    let (Ok(pair), _) = (pair.as_array(), ()) else {
                        continue;
                    };
                    let index = pair.first().and_then(|i| i.as_u64().ok());
                    let Some(ResultRule { package, rule, .. }) =
                        index.and_then(|i| self.rules.get(i as usize))
                    else {
                        continue;
                    };
                    if let Some(value) = pair.get(1) {
                        push_results(package, rule, value, subject, &mut out)?;
                    }
                }
            }
            Backend::Interpreter(engine) => {
                engine.set_input(input);
                for ResultRule { package, rule, .. } in &self.rules {
                    let value = engine
                        .eval_rule(format!("{package}.{rule}"))
                        .map_err(|e| format!("{package}.{rule}: {e}"))?;
                    push_results(package, rule, &value, subject, &mut out)?;
                }
            }
        }
        Ok(out)
    }
}

/// A rule's value (a set of entries, one entry, or undefined) as violations.
fn push_results(
    package: &str,
    rule: &str,
    value: &regorus::Value,
    subject: &str,
    out: &mut Vec<Violation>,
) -> Result<(), String> {
    let json = serde_json::to_value(value).map_err(|e| e.to_string())?;
    let items = match json {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        Value::String(s) if s == "<undefined>" => Vec::new(),
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
    Ok(())
}

/// A JSON value as a regorus value, without going through text.
fn to_rego(v: &Value) -> regorus::Value {
    match v {
        Value::Null => regorus::Value::Null,
        Value::Bool(b) => regorus::Value::from(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                regorus::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                regorus::Value::from(u)
            } else {
                regorus::Value::from(n.as_f64().unwrap_or_default())
            }
        }
        Value::String(s) => regorus::Value::from(s.as_str()),
        Value::Array(items) => regorus::Value::from(items.iter().map(to_rego).collect::<Vec<_>>()),
        Value::Object(map) => regorus::Value::from(
            map.iter()
                .map(|(k, v)| (regorus::Value::from(k.as_str()), to_rego(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}
