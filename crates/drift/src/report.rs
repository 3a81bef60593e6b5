//! Drift reports: text for people, JSON for tools.

use serde_json::json;

use crate::compare::{Finding, Severity};

/// One line per finding, worst first, then a count.
///
/// ```
/// assert_eq!(tripline_drift::report::text(&[]), "No drift.\n");
/// ```
pub fn text(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "No drift.\n".into();
    }
    let mut s = String::new();
    for f in findings {
        let sev = f.severity.as_str().to_uppercase();
        let change = format!("{:?}", f.change).to_lowercase();
        s.push_str(&format!(
            "{sev:<8} {change:<9} {:<14} {}\n",
            f.section, f.item
        ));
        for e in &f.evidence {
            s.push_str(&format!("         {e}\n"));
        }
        s.push_str(&format!("         hint: {}\n", f.hint));
    }
    let count = |sev| findings.iter().filter(|f| f.severity == sev).count();
    s.push_str(&format!(
        "{} findings: {} critical, {} high, {} medium, {} low\n",
        findings.len(),
        count(Severity::Critical),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low)
    ));
    s
}

/// `{"findings": [...], "summary": {...}}`.
pub fn json(findings: &[Finding]) -> serde_json::Value {
    serde_json::to_value(JsonReport::new(findings)).expect("findings serialize")
}

/// Writes [`json`]'s document without building it first (a run can have 100k findings).
pub fn write_json(findings: &[Finding], w: impl std::io::Write) -> serde_json::Result<()> {
    serde_json::to_writer(w, &JsonReport::new(findings))
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    findings: &'a [Finding],
    summary: Summary,
}

#[derive(serde::Serialize)]
struct Summary {
    critical: usize,
    high: usize,
    low: usize,
    medium: usize,
    total: usize,
}

impl JsonReport<'_> {
    fn new(findings: &[Finding]) -> JsonReport<'_> {
        let count = |sev| findings.iter().filter(|f| f.severity == sev).count();
        JsonReport {
            findings,
            summary: Summary {
                critical: count(Severity::Critical),
                high: count(Severity::High),
                low: count(Severity::Low),
                medium: count(Severity::Medium),
                total: findings.len(),
            },
        }
    }
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

fn rule_id(f: &Finding) -> String {
    format!(
        "drift/{}/{}",
        f.section,
        format!("{:?}", f.change).to_lowercase()
    )
}

/// SARIF 2.1.0, for code-scanning dashboards: one rule per section and kind of change, one
/// result per finding (files carry their path as the location).
pub fn sarif(findings: &[Finding], contract: &str) -> serde_json::Value {
    let mut rules: Vec<String> = findings.iter().map(rule_id).collect();
    rules.sort();
    rules.dedup();
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let location = if f.section == "files" {
                json!({"physicalLocation": {"artifactLocation": {"uri": format!("file://{}", f.item)}}})
            } else {
                json!({"logicalLocations": [{"name": f.item, "kind": f.section}]})
            };
            json!({
                "ruleId": rule_id(f),
                "level": sarif_level(f.severity),
                "message": {"text": format!("{:?} {}: {}", f.change, f.item, f.evidence.join("; "))},
                "locations": [location],
                "properties": {"severity": f.severity, "hint": f.hint, "contract": contract},
            })
        })
        .collect();
    json!({
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "tripline",
                "rules": rules.iter().map(|id| json!({"id": id, "shortDescription": {"text": id}})).collect::<Vec<_>>(),
            }},
            "results": results,
        }]
    })
}

/// A `wgpolicyk8s.io/v1alpha2` PolicyReport: one failed result per finding.
pub fn policy_report(findings: &[Finding], contract: &str, now_secs: u64) -> serde_json::Value {
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            json!({
                "policy": format!("drift/{}", f.section),
                "rule": format!("{:?}", f.change).to_lowercase(),
                "category": f.section,
                "message": format!("{:?} {}: {}", f.change, f.item, f.evidence.join("; ")),
                "result": "fail",
                "scored": true,
                "severity": f.severity,
                "source": "tripline",
                "timestamp": {"seconds": now_secs, "nanos": 0},
                "properties": {"item": f.item, "hint": f.hint, "contract": contract},
            })
        })
        .collect();
    json!({
        "apiVersion": "wgpolicyk8s.io/v1alpha2",
        "kind": "PolicyReport",
        "metadata": {
            "name": format!("tripline-drift-{contract}"),
            "labels": {"app.kubernetes.io/managed-by": "tripline"},
        },
        "summary": {"pass": 0, "fail": findings.len(), "warn": 0, "error": 0, "skip": 0},
        "results": results,
    })
}
