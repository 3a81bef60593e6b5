//! `tripline policy eval`: Rego policies over snapshots and Kubernetes objects.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tripline_policy::{PolicySet, Violation};

/// Output of `tripline policy eval`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PolicyFormat {
    /// Lines for people.
    Text,
    /// A JSON array of results.
    Json,
    /// `wgpolicyk8s.io/v1alpha2` PolicyReport (YAML).
    #[value(name = "policyreport")]
    PolicyReport,
}

/// Whether a JSON document is a `tripline contract snapshot`.
fn is_snapshot(v: &Value) -> bool {
    v.get("root").is_some() && v.get("users").is_some() && v.get("files").is_some()
}

/// Evaluates `policies` (the default pack when empty) on `inputs`; prints the results and
/// returns the exit code: 0 nothing denied, 3 denied, 1 error.
pub fn eval(
    policies: &[PathBuf],
    rego_v0: bool,
    inputs: &[PathBuf],
    format: PolicyFormat,
    act_cfg: &crate::act::ActConfig,
) -> u8 {
    match run(policies, rego_v0, inputs) {
        Ok(v) => {
            // Stored before printing: a reader that closes stdout early loses nothing.
            if act_cfg.store.is_some() {
                let now = tripline_store::now_ns();
                let findings: Vec<_> = v.iter().map(|x| new_finding(x, now)).collect();
                if let Err(e) = crate::act::Act::store_once(act_cfg, &findings) {
                    eprintln!("error: {e:#}");
                    return 1;
                }
            }
            print(&v, format);
            if v.iter().any(|x| x.rule != "warn") {
                crate::drift::EXIT_DRIFT
            } else {
                0
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// A policy violation for the store: the rule is the package, the entity what was evaluated.
pub fn new_finding(v: &Violation, now_ns: i64) -> tripline_store::NewFinding {
    use tripline_event::Priority;
    let priority = match v.severity.to_ascii_lowercase().as_str() {
        "critical" => Priority::Critical,
        "high" => Priority::Error,
        "medium" => Priority::Warning,
        "low" => Priority::Notice,
        _ => Priority::Informational,
    };
    let mut fields = serde_json::Map::new();
    fields.insert("policy.package".into(), v.package.clone().into());
    fields.insert("policy.rule".into(), v.rule.clone().into());
    fields.insert("policy.subject".into(), v.subject.clone().into());
    fields.insert("details".into(), v.details.clone());
    tripline_store::NewFinding {
        kind: tripline_store::Kind::Policy,
        rule: v.package.clone(),
        priority,
        source: "policy".into(),
        time_ns: now_ns,
        hostname: String::new(),
        entity: v.subject.clone(),
        message: v.msg.clone(),
        fields,
        tags: vec!["policy".into(), v.rule.clone()],
        location: None,
    }
}

/// The policies of `paths` (the shipped pack for none, or for the path `default`).
pub fn policy_set(paths: &[PathBuf], rego_v0: bool) -> Result<PolicySet, String> {
    if paths.is_empty() || paths.iter().all(|p| p.as_os_str() == "default") {
        return Ok(PolicySet::default_pack());
    }
    let mut set = PolicySet::new(rego_v0);
    for p in paths {
        if p.as_os_str() == "default" {
            for (name, text) in tripline_policy::DEFAULT_PACK {
                set.add(name, text)?;
            }
        } else {
            set.add_path(p)?;
        }
    }
    Ok(set)
}

fn run(policies: &[PathBuf], rego_v0: bool, inputs: &[PathBuf]) -> Result<Vec<Violation>, String> {
    let mut set = policy_set(policies, rego_v0)?;
    let mut out = Vec::new();
    let mut manifests = Vec::new();
    for input in inputs {
        match read_snapshot(input) {
            Some(snapshot) => {
                out.extend(set.eval_snapshot(&snapshot, &input.display().to_string())?)
            }
            None => manifests.push(input.clone()),
        }
    }
    if !manifests.is_empty() {
        let objects =
            tripline_drift::k8s::load(&manifests, "default").map_err(|e| e.to_string())?;
        let objects: Vec<(String, Value)> = objects
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let prepared = set.prepare_objects(&objects)?;
        out.extend(set.eval_prepared(&prepared)?);
        // As in `drift`: the documents are freed by the exit, not one map at a time.
        std::mem::forget(prepared);
        std::mem::forget(objects);
    }
    Ok(out)
}

/// The file as a `tripline contract snapshot`, if it is one. The top-level keys are looked at
/// first, without building the document: a Kubernetes dump can be tens of megabytes.
fn read_snapshot(input: &Path) -> Option<Value> {
    #[derive(serde::Deserialize)]
    struct Keys<'a> {
        #[serde(borrow)]
        root: Option<&'a serde_json::value::RawValue>,
        #[serde(borrow)]
        users: Option<&'a serde_json::value::RawValue>,
        #[serde(borrow)]
        files: Option<&'a serde_json::value::RawValue>,
    }
    let text = std::fs::read_to_string(input).ok()?;
    let keys: Keys = serde_json::from_str(&text).ok()?;
    if keys.root.is_none() || keys.users.is_none() || keys.files.is_none() {
        return None;
    }
    serde_json::from_str::<Value>(&text)
        .ok()
        .filter(is_snapshot)
}

fn print(v: &[Violation], format: PolicyFormat) {
    // A closed pipe (`| head`) ends the output quietly (crate::stdout).
    match format {
        PolicyFormat::Text => {
            for x in v {
                crate::outln!(
                    "{:<8} {:<5} {}  {}",
                    x.severity.to_uppercase(),
                    x.rule,
                    x.package,
                    x.msg
                );
            }
            let denied = v.iter().filter(|x| x.rule != "warn").count();
            crate::outln!(
                "{} results: {denied} denied, {} warnings",
                v.len(),
                v.len() - denied
            );
        }
        PolicyFormat::Json => {
            #[derive(serde::Serialize)]
            struct Item<'a> {
                package: &'a str,
                rule: &'a str,
                msg: &'a str,
                severity: &'a str,
                subject: &'a str,
                details: &'a Value,
            }
            let items = v.iter().map(|x| Item {
                package: &x.package,
                rule: &x.rule,
                msg: &x.msg,
                severity: &x.severity,
                subject: &x.subject,
                details: &x.details,
            });
            use std::io::Write;
            let mut buffered = std::io::BufWriter::new(std::io::stdout().lock());
            let _ = serde_json::to_writer(&mut buffered, &items.collect::<Vec<_>>());
            let _ = writeln!(buffered);
        }
        PolicyFormat::PolicyReport => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let results: Vec<Value> = v
                .iter()
                .map(|x| {
                    let severity = match x.severity.as_str() {
                        s @ ("critical" | "high" | "medium" | "low" | "info") => s,
                        _ => "medium",
                    };
                    json!({
                        "policy": x.package,
                        "rule": x.rule,
                        "message": x.msg,
                        "result": if x.rule == "warn" { "warn" } else { "fail" },
                        "scored": true,
                        "severity": severity,
                        "source": "tripline",
                        "timestamp": {"seconds": now, "nanos": 0},
                        "properties": {"subject": x.subject},
                    })
                })
                .collect();
            let fail = v.iter().filter(|x| x.rule != "warn").count();
            let report = json!({
                "apiVersion": "wgpolicyk8s.io/v1alpha2",
                "kind": "PolicyReport",
                "metadata": {"name": "tripline-policy", "labels": {"app.kubernetes.io/managed-by": "tripline"}},
                "summary": {"pass": 0, "fail": fail, "warn": v.len() - fail, "error": 0, "skip": 0},
                "results": results,
            });
            crate::out!("{}", serde_yaml::to_string(&report).expect("yaml"));
        }
    }
}

/// Whether a path exists (for clearer errors than the loaders give).
pub fn check_inputs(inputs: &[PathBuf]) -> Result<(), String> {
    for i in inputs {
        if !Path::new(i).exists() {
            return Err(format!("{}: no such file or directory", i.display()));
        }
    }
    Ok(())
}
