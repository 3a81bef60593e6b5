//! Every case of `data/sigma/tests/expectations.json`, with all upstream rules loaded and each
//! event routed by its case's log source: the set of rule ids that fire on each line must be
//! exactly the expected set.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tripline_sigma::{load, LoadOptions, LogSource, SigmaRuleset};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sigma")
}

fn rule_files(dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rule_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
}

fn upstream_rules() -> SigmaRuleset {
    let mut files = Vec::new();
    rule_files(&data().join("rules"), &mut files);
    let docs = load(&files, LoadOptions::default());
    assert!(docs.errors.is_empty(), "load errors: {:#?}", docs.errors);
    assert!(docs.skipped.is_empty(), "skipped: {:#?}", docs.skipped);
    assert_eq!(docs.rules.len(), 283, "every upstream rule loads");
    SigmaRuleset::new(docs)
}

#[test]
fn all_upstream_rules_load() {
    let set = upstream_rules();
    assert_eq!(set.rules().len(), 283);
}

#[test]
fn expectations() {
    let mut set = upstream_rules();
    let path = data().join("tests/expectations.json");
    let exp: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut failures = Vec::new();
    let mut lines = 0;
    let mut nonempty = 0;
    for case in exp["cases"].as_array().unwrap() {
        let file = case["file"].as_str().unwrap();
        let ls = &case["logsource"];
        let stream = LogSource::new(
            ls["category"].as_str(),
            ls["product"].as_str(),
            ls["service"].as_str(),
        );
        let text = std::fs::read_to_string(data().join("tests").join(file)).unwrap();
        let events: Vec<&str> = text.lines().collect();
        for e in case["events"].as_array().unwrap() {
            let line = e["line"].as_u64().unwrap() as usize;
            let ev: Value = serde_json::from_str(events[line - 1]).unwrap();
            let mut got = set.ids_matching(&ev, &stream);
            nonempty += usize::from(!got.is_empty());
            got.sort();
            let mut want: Vec<String> = e["expected"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            want.sort();
            lines += 1;
            if got != want {
                failures.push(format!("{file}:{line}: expected {want:?}, got {got:?}"));
            }
        }
    }
    assert!(lines > 1000, "{lines} lines");
    assert!(nonempty > 700, "only {nonempty} lines matched any rule");
    assert!(
        failures.is_empty(),
        "{} of {lines} lines differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The auditd cases that came from real logs: Tripline's audit.log decoder must produce exactly
/// the JSON events the expectations were computed on.
#[test]
fn auditd_logs_decode_to_the_case_events() {
    let path = data().join("tests/expectations.json");
    let exp: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut checked = 0;
    for case in exp["cases"].as_array().unwrap() {
        let Some(raw) = case["raw_log"].as_str() else {
            continue;
        };
        let log = std::fs::read_to_string(data().join("tests").join(raw)).unwrap();
        let jsonl =
            std::fs::read_to_string(data().join("tests").join(case["file"].as_str().unwrap()))
                .unwrap();
        let want: Vec<Value> = jsonl
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let got: Vec<Value> = log
            .lines()
            .filter_map(tripline_sources::auditd::parse_line)
            .map(Value::Object)
            .collect();
        assert_eq!(got.len(), want.len(), "{raw}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{raw}:{}", i + 1);
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked}");
}
