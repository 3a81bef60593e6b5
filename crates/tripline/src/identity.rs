//! `tripline identity analyze|paths|propose`: identity sprawl across AWS IAM and Kubernetes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde_json::{json, Map, Value};
use tripline_event::Priority;
use tripline_identity::analyze::{self, Inputs, Options, Report};
use tripline_identity::aws::credentials::CredentialReport;
use tripline_identity::aws::usage::AwsUsage;
use tripline_identity::aws::Account;
use tripline_identity::finding::{IdentityFinding, Platform, Severity};
use tripline_identity::k8s::usage::K8sUsage;
use tripline_identity::k8s::Rbac;
use tripline_identity::propose;
use tripline_store::{Kind, NewFinding};

/// Where the identities and their usage come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `aws iam get-account-authorization-details` output.
    pub aws_auth: Option<PathBuf>,
    /// IAM credential report CSV.
    pub credential_report: Option<PathBuf>,
    /// CloudTrail files or directories.
    pub cloudtrail: Vec<PathBuf>,
    /// RBAC dumps (`kubectl get roles,clusterroles,rolebindings,clusterrolebindings,serviceaccounts -A -o json`).
    pub k8s_rbac: Vec<PathBuf>,
    /// Kubernetes audit logs.
    pub k8s_audit: Vec<PathBuf>,
}

/// Loads every input given, saying on stderr what was read and how long it took.
pub fn load(src: &Sources) -> anyhow::Result<Inputs> {
    if src.aws_auth.is_none() && src.k8s_rbac.is_empty() {
        anyhow::bail!(
            "nothing to analyze: give --aws-auth FILE (aws iam get-account-authorization-details) \
             and/or --k8s-rbac FILE (kubectl get roles,clusterroles,rolebindings,clusterrolebindings,serviceaccounts -A -o json)"
        );
    }
    let mut inputs = Inputs::default();
    let t = Instant::now();
    if let Some(p) = &src.aws_auth {
        let acct = Account::load(p)?;
        eprintln!(
            "AWS: {} users, {} groups, {} roles, {} managed policies ({:.1}s)",
            acct.identities
                .iter()
                .filter(|i| i.kind == tripline_identity::aws::IdentityKind::User)
                .count(),
            acct.identities
                .iter()
                .filter(|i| i.kind == tripline_identity::aws::IdentityKind::Group)
                .count(),
            acct.identities
                .iter()
                .filter(|i| i.kind == tripline_identity::aws::IdentityKind::Role)
                .count(),
            acct.policies.len(),
            t.elapsed().as_secs_f64()
        );
        inputs.account = Some((acct, p.display().to_string()));
    }
    if let Some(p) = &src.credential_report {
        inputs.credential_report = Some(CredentialReport::load(p)?);
    }
    if !src.cloudtrail.is_empty() {
        let t = Instant::now();
        let u = AwsUsage::read(&src.cloudtrail)?;
        eprintln!(
            "CloudTrail: {} records, {} principals, {} skipped ({:.1}s)",
            u.records,
            u.principals.len(),
            u.skipped_count,
            t.elapsed().as_secs_f64()
        );
        for s in u.skipped.iter().take(5) {
            eprintln!("  skipped {s}");
        }
        inputs.cloudtrail = Some(u);
    }
    if !src.k8s_rbac.is_empty() {
        let rbac = Rbac::load(&src.k8s_rbac).map_err(|e| anyhow::anyhow!("{e}"))?;
        eprintln!(
            "Kubernetes: {} roles, {} bindings, {} service accounts",
            rbac.roles.len(),
            rbac.bindings.len(),
            rbac.service_accounts.len()
        );
        inputs.rbac = Some(rbac);
    }
    if !src.k8s_audit.is_empty() {
        let u = K8sUsage::read(&src.k8s_audit)?;
        eprintln!(
            "Kubernetes audit: {} requests, {} users",
            u.events,
            u.users.len()
        );
        inputs.k8s_audit = Some(u);
    }
    Ok(inputs)
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Ranked list for people.
    Text,
    /// The whole report.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// The store priority of a severity.
pub fn priority(s: Severity) -> Priority {
    match s {
        Severity::Critical => Priority::Critical,
        Severity::High => Priority::Error,
        Severity::Medium => Priority::Warning,
        Severity::Low => Priority::Notice,
    }
}

/// A finding for the store and outputs.
pub fn new_finding(f: &IdentityFinding, now_ns: i64) -> NewFinding {
    let mut fields = Map::new();
    fields.insert("identity".into(), Value::String(f.identity.clone()));
    fields.insert("check".into(), Value::String(f.check.clone()));
    fields.insert("evidence".into(), f.evidence.clone());
    fields.insert("remediation".into(), Value::String(f.remediation.clone()));
    let (source, platform) = match f.platform {
        Platform::Aws => ("aws_iam", "aws"),
        Platform::K8s => ("k8s_rbac", "k8s"),
    };
    NewFinding {
        kind: Kind::Identity,
        rule: f.check.clone(),
        priority: priority(f.severity),
        source: source.into(),
        time_ns: now_ns,
        hostname: String::new(),
        entity: f.identity.clone(),
        message: f.title.clone(),
        fields,
        tags: vec!["identity".into(), platform.into()],
        location: f.location.clone(),
    }
}

/// The ranked text report.
pub fn text(report: &Report) -> String {
    let mut s = String::new();
    if report.findings.is_empty() {
        s.push_str("No identity findings.\n");
    }
    for f in &report.findings {
        s.push_str(&format!(
            "{:<8} {:<28} {}\n",
            f.severity.as_str().to_uppercase(),
            f.check,
            f.title
        ));
        if let Some(path) = f.evidence.get("path").and_then(Value::as_str) {
            s.push_str(&format!("         path: {path}\n"));
        }
        s.push_str(&format!("         fix: {}\n", f.remediation));
    }
    let count = |sev: Severity| report.findings.iter().filter(|f| f.severity == sev).count();
    s.push_str(&format!(
        "\n{} findings: {} critical, {} high, {} medium, {} low; {} admin-equivalent identities; {} escalation paths\n",
        report.findings.len(),
        count(Severity::Critical),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low),
        report.admins.len(),
        report.paths.len()
    ));
    s
}

/// SARIF 2.1.0, one result per finding, located at the input that declared the identity.
pub fn sarif(report: &Report) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let p = priority(f.severity);
            let id = format!("tripline/identity/{}", f.check);
            let rule_index = *index.entry(id.clone()).or_insert_with(|| {
                rules.push(json!({
                    "id": id,
                    "name": f.check,
                    "shortDescription": {"text": f.check.replace('-', " ")},
                    "help": {"text": f.remediation},
                    "properties": {"security-severity": crate::gate::security_severity(p), "tags": ["security", "identity"]}
                }));
                rules.len() - 1
            });
            let n = new_finding(f, 0);
            let mut r = json!({
                "ruleId": id,
                "ruleIndex": rule_index,
                "level": if p >= Priority::Error { "error" } else if p >= Priority::Warning { "warning" } else { "note" },
                "message": {"text": format!("{} Fix: {}", f.title, f.remediation)},
                "partialFingerprints": {"triplineFingerprint/v1": n.fingerprint()},
                "properties": {"identity": f.identity, "security-severity": crate::gate::security_severity(p), "evidence": f.evidence},
            });
            if let Some(loc) = &f.location {
                r["locations"] = json!([{"physicalLocation": {"artifactLocation": {"uri": loc}}}]);
            }
            r
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "Tripline", "informationUri": "https://tripline.dev",
                                 "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "results": results
        }]
    })
}

/// Runs the analysis.
pub fn analyze(src: &Sources, opts: &Options) -> anyhow::Result<Report> {
    let inputs = load(src)?;
    let t = Instant::now();
    let report = analyze::analyze(&inputs, opts);
    eprintln!("Analysis: {:.1}s", t.elapsed().as_secs_f64());
    Ok(report)
}

/// Writes proposals for one identity (an ARN, a role or user name, or a Kubernetes subject)
/// into `dir`: `<stem>.proposed.<ext>`, `<stem>.current.<ext>` and `<stem>.diff`.
pub fn propose_to(src: &Sources, identity: &str, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let inputs = load(src)?;
    let mut proposals = Vec::new();
    if let Some((acct, _)) = &inputs.account {
        let who = acct
            .principals()
            .find(|p| p.arn == identity || p.name == identity)
            .map(|p| p.arn.clone());
        if let Some(arn) = who {
            let used = inputs.cloudtrail.as_ref().and_then(|u| u.of(&arn));
            if inputs.cloudtrail.is_none() {
                eprintln!("warning: no --cloudtrail given: the proposal grants nothing");
            }
            proposals.extend(propose::aws(acct, &arn, used));
        }
    }
    if proposals.is_empty() {
        if let Some(rbac) = &inputs.rbac {
            let subject = analyze::k8s_subject(rbac, identity).or_else(|| {
                // A user seen only in the audit log.
                inputs
                    .k8s_audit
                    .as_ref()
                    .filter(|a| a.users.contains_key(identity))
                    .map(|_| tripline_identity::k8s::Subject::user(identity))
            });
            if let Some(s) = subject {
                let used = inputs
                    .k8s_audit
                    .as_ref()
                    .and_then(|a| a.users.get(&s.username()));
                if inputs.k8s_audit.is_none() {
                    eprintln!("warning: no --k8s-audit given: the proposal grants nothing");
                }
                proposals.push(propose::k8s(rbac, &s, used));
            }
        }
    }
    if proposals.is_empty() {
        anyhow::bail!("{identity}: no such AWS user or role, or Kubernetes subject, in the inputs");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    let mut written = Vec::new();
    for p in proposals {
        for (name, text) in [
            (format!("{}.proposed.{}", p.stem, p.ext), p.proposed.clone()),
            (format!("{}.current.{}", p.stem, p.ext), p.current.clone()),
            (format!("{}.diff", p.stem), p.diff()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("{}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}
