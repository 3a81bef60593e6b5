//! Drives the upstream Falco expectation files in `data/falco/tests/` case by case.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value;
use tripline::replay::{self, ReplayConfig};
use tripline_event::{Priority, SourceSchema};
use tripline_pipeline::{Json, Pipeline, Syscall};
use tripline_rules::falco::{load, RulesFile};
use tripline_rules::{LoadReport, RuleMatching, Selection};
use tripline_sources::input::Limits;
use tripline_sources::{schemas, syscall, SourceKind};

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/falco/tests")
}

fn cases(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(tests_dir().join(file)).unwrap();
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    doc["cases"].as_sequence().unwrap().clone()
}

fn rules_files(case: &Value) -> Vec<RulesFile> {
    case["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| {
            let path = tests_dir().join(p.as_str().unwrap());
            RulesFile {
                name: p.as_str().unwrap().to_string(),
                content: std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            }
        })
        .collect()
}

fn selection(case: &Value) -> Vec<Selection> {
    let mut out = Vec::new();
    for cmd in case["options"]["rules_selection"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        for (verb, target) in cmd.as_mapping().unwrap() {
            for (kind, value) in target.as_mapping().unwrap() {
                let v = value.as_str().unwrap().to_string();
                out.push(match (verb.as_str().unwrap(), kind.as_str().unwrap()) {
                    ("enable", "rule") => Selection::EnableRule(v),
                    ("disable", "rule") => Selection::DisableRule(v),
                    ("enable", "tag") => Selection::EnableTag(v),
                    ("disable", "tag") => Selection::DisableTag(v),
                    other => panic!("unknown selection {other:?}"),
                });
            }
        }
    }
    out
}

/// Compares the listed keys of each expected load result with some reported diagnostic.
fn assert_diagnostics(id: &str, expected: &Value, got: &[tripline_rules::Diagnostic], what: &str) {
    for exp in expected.as_sequence().into_iter().flatten() {
        let found = got.iter().any(|d| {
            let field = |k: &str| exp[k].as_str();
            field("code").is_none_or(|c| c == d.code.as_str())
                && field("item_type").is_none_or(|t| t == d.item_type)
                && field("item_name").is_none_or(|n| n == d.item_name)
                && field("message").is_none_or(|m| m == d.message)
        });
        assert!(found, "{id}: expected {what} {exp:?} not among {got:#?}");
    }
}

fn run_load_case(case: &Value, sources: &[SourceSchema]) -> LoadReport {
    let id = case["id"].as_str().unwrap();
    let files = rules_files(case);
    let (_, report) = load(&files, sources);
    let expect = &case["expect"];
    let exit = if report.is_ok() { 0 } else { 1 };
    assert_eq!(
        exit,
        expect["exit_code"].as_i64().unwrap(),
        "{id}: exit code; errors: {:#?}",
        report.errors
    );
    assert_diagnostics(id, &expect["load_errors"], &report.errors, "error");
    assert_diagnostics(id, &expect["load_warnings"], &report.warnings, "warning");
    for i in expect["files_loading_ok"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        let f = &files[i.as_u64().unwrap() as usize];
        let (_, alone) = load(std::slice::from_ref(f), sources);
        assert!(
            alone.is_ok(),
            "{id}: file {} should load on its own: {:#?}",
            f.name,
            alone.errors
        );
    }
    report
}

fn counts(v: &Value) -> BTreeMap<String, u64> {
    v.as_mapping()
        .into_iter()
        .flatten()
        .map(|(k, n)| (k.as_str().unwrap().to_string(), n.as_u64().unwrap()))
        .collect()
}

fn run_detect_case(case: &Value) {
    let id = case["id"].as_str().unwrap();
    let source = SourceKind::from_name(case["source"].as_str().unwrap()).unwrap();
    let (mut rules, report) = load(&rules_files(case), &schemas());
    assert!(
        report.is_ok(),
        "{id}: rules failed to load: {:#?}",
        report.errors
    );
    rules.select(&selection(case));
    if let Some(p) = case["options"]["min_priority"].as_str() {
        rules.set_min_priority(p.parse::<Priority>().unwrap());
    }
    let input = &case["input"];
    let inputs: Vec<String> = match input["paths"].as_sequence() {
        Some(paths) => paths
            .iter()
            .map(|p| tests_dir().join(p.as_str().unwrap()).display().to_string())
            .collect(),
        None => vec![tests_dir()
            .join(input["path"].as_str().unwrap())
            .display()
            .to_string()],
    };
    let expect = &case["expect"];
    for (matching, key) in [
        (RuleMatching::First, "alerts_by_rule"),
        (RuleMatching::All, "alerts_by_rule_when_rule_matching_all"),
    ] {
        let want = match (expect.get(key), matching) {
            (Some(v), _) => counts(v),
            (None, RuleMatching::All) => continue,
            (None, RuleMatching::First) => BTreeMap::new(),
        };
        let cfg = ReplayConfig {
            source,
            limits: Limits::default(),
        };
        let mut findings = Vec::new();
        let mut pipeline: Pipeline<Json> = Pipeline::falco(rules.clone(), matching, "test");
        let stats = replay::run(
            &mut pipeline,
            &inputs,
            &cfg,
            &mut |f| findings.push(f),
            &mut || {},
        );
        assert!(
            stats.input_errors.is_empty(),
            "{id}: {:?}",
            stats.input_errors
        );
        assert_eq!(
            stats.alerts_by_rule, want,
            "{id} ({key}); skipped: {:?}",
            stats.skipped
        );
        if matching == RuleMatching::First {
            if let Some(n) = expect["total_alerts"].as_u64() {
                assert_eq!(stats.alerts(), n, "{id}: total_alerts");
            }
            if let Some(n) = expect["events_parsed"].as_u64() {
                assert_eq!(
                    stats.events, n,
                    "{id}: events_parsed; skipped: {:?}",
                    stats.skipped
                );
            }
            for msg in expect["input_errors"].as_sequence().into_iter().flatten() {
                let msg = msg.as_str().unwrap();
                assert!(
                    stats.skipped.iter().any(|s| s.reason.contains(msg)),
                    "{id}: input error '{msg}' not reported: {:?}",
                    stats.skipped
                );
            }
            // Every alert is a complete Falco alert (what Falcosidekick requires).
            for f in &findings {
                assert!(f.time_ns > 0, "{id}: alert time");
                assert!(!f.message.is_empty(), "{id}: alert output");
            }
        }
    }
}

#[test]
fn k8s_audit_expectations() {
    let cases = cases("expectations-k8s_audit.yaml");
    assert_eq!(cases.len(), 45);
    for case in &cases {
        run_detect_case(case);
    }
}

#[test]
fn cloudtrail_expectations() {
    let cases = cases("expectations-cloudtrail.yaml");
    assert_eq!(cases.len(), 16);
    for case in &cases {
        run_detect_case(case);
    }
}

#[test]
fn syscall_load_expectations() {
    // These cases ran in Falco without plugins: only the syscall source exists.
    let sources = vec![syscall::schema().clone()];
    let load_cases: Vec<Value> = cases("expectations-syscall.yaml")
        .into_iter()
        .filter(|c| c["kind"].as_str() == Some("load"))
        .collect();
    assert_eq!(load_cases.len(), 27);
    for case in &load_cases {
        run_load_case(case, &sources);
    }
}

#[test]
fn every_upstream_rules_file_loads() {
    let dir = tests_dir().join("../rules");
    let read = |name: &str| RulesFile {
        name: name.into(),
        content: std::fs::read_to_string(dir.join(name)).unwrap(),
    };
    let all = schemas();
    for name in [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
        "k8s_audit_rules.yaml",
        "aws_cloudtrail_rules.yaml",
        "okta_rules.yaml",
        "github_rules.yaml",
        "gcp_auditlog_rules.yaml",
    ] {
        let (rules, report) = load(&[read(name)], &all);
        assert!(report.is_ok(), "{name}: {:#?}", report.errors);
        assert!(!rules.rules().is_empty(), "{name}: no rules");
    }
    let (rules, report) = load(
        &[
            read("k8s_audit_rules.yaml"),
            read("k8s_audit_rules_gke.yaml"),
        ],
        &all,
    );
    assert!(report.is_ok(), "gke: {:#?}", report.errors);
    assert_eq!(rules.rules().len(), 48);
}

/// Falco's `-o key=value` output settings used by a case.
fn format_options(case: &Value) -> tripline::format::FormatOptions {
    let mut opts = tripline::format::FormatOptions {
        // Falco's default text time is the clock time; the cases turn ISO 8601 on.
        iso8601: false,
        ..Default::default()
    };
    for o in case["options"]["config_overrides"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        let (k, v) = o.as_str().unwrap().split_once('=').unwrap();
        let on = v == "true";
        match k {
            "time_format_iso_8601" => opts.iso8601 = on,
            "json_include_output_property" => opts.include_output = on,
            "json_include_tags_property" => opts.include_tags = on,
            other => panic!("unknown override {other}"),
        }
    }
    opts
}

fn run_capture_case(case: &Value) {
    use tripline::replay::{run_capture, CaptureConfig};
    let id = case["id"].as_str().unwrap();
    // Falco ran these without plugins: only the syscall source exists.
    let sources = vec![syscall::schema().clone()];
    let (mut rules, report) = load(&rules_files(case), &sources);
    assert!(report.is_ok(), "{id}: {:#?}", report.errors);
    rules.select(&selection(case));
    if let Some(p) = case["options"]["min_priority"].as_str() {
        rules.set_min_priority(p.parse::<Priority>().unwrap());
    }
    let options = &case["options"];
    let cfg = CaptureConfig {
        all_events: options["all_events"].as_bool().unwrap_or(false),
    };
    let capture = tests_dir()
        .join(case["capture"].as_str().unwrap())
        .display()
        .to_string();
    let mut findings = Vec::new();
    let mut pipeline: Pipeline<Syscall> = Pipeline::falco(rules, RuleMatching::First, "test");
    let stats = run_capture(
        &mut pipeline,
        &[capture],
        &cfg,
        &mut |f| findings.push(f),
        &mut || {},
    );
    assert!(
        stats.input_errors.is_empty(),
        "{id}: {:?}",
        stats.input_errors
    );
    let expect = &case["expect"];
    assert_eq!(expect["exit_code"].as_i64(), Some(0), "{id}: exit code");
    if let Some(n) = expect["total_alerts"].as_u64() {
        assert_eq!(
            stats.alerts(),
            n,
            "{id}: total_alerts {:?}",
            stats.alerts_by_rule
        );
    }
    if let Some(n) = expect["total_alerts_min"].as_u64() {
        assert!(stats.alerts() >= n, "{id}: total_alerts_min {n}");
    }
    for (rule, n) in counts(&expect["rule_counts"]) {
        let got = stats.alerts_by_rule.get(&rule).copied().unwrap_or(0);
        assert_eq!(got, n, "{id}: alerts of {rule}");
    }
    // Falco's rule-file spelling (INFO for Informational).
    let priorities: Vec<String> = findings
        .iter()
        .map(|f| {
            f.priority
                .name()
                .to_uppercase()
                .replace("INFORMATIONAL", "INFO")
        })
        .collect();
    for p in expect["priorities_with_alerts"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        let p = p.as_str().unwrap();
        assert!(priorities.iter().any(|q| q == p), "{id}: no {p} alert");
    }
    for p in expect["priorities_without_alerts"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        let p = p.as_str().unwrap();
        assert!(
            !priorities.iter().any(|q| q == p),
            "{id}: unexpected {p} alert"
        );
    }
    // What Falco would print on stdout: JSON lines or text lines.
    let opts = format_options(case);
    let json = options["json_output"].as_bool().unwrap_or(false);
    let stdout: Vec<String> = findings
        .iter()
        .map(|f| {
            if json {
                tripline::format::json_alert(f, &opts).to_string()
            } else {
                tripline::format::text_line(f, &opts)
            }
        })
        .collect();
    if let Some(file) = expect["stdout_contains_lines_of"].as_str() {
        let want = std::fs::read_to_string(tests_dir().join(file)).unwrap();
        for line in want.lines().filter(|l| !l.is_empty()) {
            assert!(
                stdout.iter().any(|l| l == line),
                "{id}: missing line {line:?} in {stdout:#?}"
            );
        }
    }
    for re in expect["stdout_matches"].as_sequence().into_iter().flatten() {
        let re = regex::Regex::new(re.as_str().unwrap()).unwrap();
        assert!(
            stdout.iter().any(|l| re.is_match(l)),
            "{id}: no line matches {re} in {stdout:#?}"
        );
    }
    for re in expect["stdout_not_matches"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        let re = regex::Regex::new(re.as_str().unwrap()).unwrap();
        assert!(
            !stdout.iter().any(|l| re.is_match(l)),
            "{id}: a line matches {re}"
        );
    }
}

#[test]
fn syscall_capture_expectations() {
    let detect: Vec<Value> = cases("expectations-syscall.yaml")
        .into_iter()
        .filter(|c| c["kind"].as_str() == Some("detect"))
        .collect();
    assert_eq!(detect.len(), 53);
    for case in &detect {
        run_capture_case(case);
    }
}
