//! Processing pipelines: the shipped Kubernetes pipeline makes SigmaHQ's hostPath rule fire on
//! a real audit event it cannot match as written; transformations compose as documented.

use std::path::Path;

use serde_json::{json, Value};
use tripline_sigma::pipeline::Pipeline;
use tripline_sigma::{load, load_with, LoadOptions, LogSource, SigmaRuleset};

fn repo(p: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn kubernetes_pipeline_fixes_rules_that_name_missing_fields() {
    let rule_path =
        "data/sigma/rules/application/kubernetes/audit/kubernetes_audit_hostpath_mount.yml";
    let files = vec![(rule_path.to_string(), repo(rule_path))];
    let event_text =
        repo("data/falco/tests/k8s_audit/events/create_nginx_pod_sensitive_mount.json");
    let events: Vec<Value> = event_text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stream = LogSource::new(Some("application"), Some("kubernetes"), Some("audit"));
    let fired = |set: &mut SigmaRuleset| {
        events
            .iter()
            .filter(|e| !set.ids_matching(*e, &stream).is_empty())
            .count()
    };

    let mut plain = SigmaRuleset::new(load(&files, LoadOptions::default()));
    assert_eq!(
        fired(&mut plain),
        0,
        "as written, the rule names a field audit events lack"
    );

    let pipe_path = "data/sigma/pipelines/kubernetes-audit.yml";
    let pipeline = Pipeline::from_yaml(pipe_path, &repo(pipe_path)).unwrap();
    let docs = load_with(&files, &[pipeline], LoadOptions::default());
    assert!(docs.errors.is_empty(), "{:?}", docs.errors);
    let mut mapped = SigmaRuleset::new(docs);
    assert!(
        fired(&mut mapped) > 0,
        "with the pipeline the hostPath pod creation is detected"
    );
}

#[test]
fn transformations_compose() {
    let pipeline = Pipeline::from_yaml(
        "p.yml",
        r#"
name: test
transformations:
  - type: field_name_mapping
    mapping: {Image: [process.executable, process.path]}
  - type: field_name_prefix_mapping
    mapping: {Parent: parent.}
  - type: change_logsource
    product: myapp
    service: exec
    rule_conditions: [{type: logsource, category: process_creation}]
  - type: add_condition
    conditions: {event.kind: exec}
  - type: drop_detection_item
    field_name_conditions: [{type: include_fields, fields: [Hashes]}]
"#,
    )
    .unwrap();
    let rule = "title: t\nid: t1\nlogsource: {product: linux, category: process_creation}\n\
                detection:\n  sel:\n    Image|endswith: /curl\n    ParentImage|endswith: /sh\n    Hashes: abc\n  condition: sel\n";
    let docs = load_with(
        &[("r.yml".into(), rule.into())],
        &[pipeline],
        LoadOptions::default(),
    );
    assert!(docs.errors.is_empty(), "{:?}", docs.errors);
    let mut set = SigmaRuleset::new(docs);
    let stream = LogSource::new(Some("process_creation"), Some("myapp"), Some("exec"));
    // One-to-many: either mapped name may carry the value. Hashes was dropped.
    let a = json!({"event": {"kind": "exec"}, "process": {"path": "/usr/bin/curl"}, "parent": {"Image": "/bin/sh"}});
    assert_eq!(set.ids_matching(&a, &stream), ["t1"]);
    // The added condition must hold.
    let b = json!({"event": {"kind": "other"}, "process": {"path": "/usr/bin/curl"}, "parent": {"Image": "/bin/sh"}});
    assert!(set.ids_matching(&b, &stream).is_empty());
    // The rule now belongs to the new log source only.
    let linux = LogSource::new(Some("process_creation"), Some("linux"), None);
    assert!(set.ids_matching(&a, &linux).is_empty());
}

#[test]
fn rule_failure_and_bad_pipelines() {
    let fail = Pipeline::from_yaml(
        "f.yml",
        "name: f\ntransformations:\n  - type: rule_failure\n    message: no such data here\n    rule_conditions: [{type: logsource, product: windows}]\n",
    )
    .unwrap();
    let win = "title: w\nlogsource: {product: windows}\ndetection:\n  s: {a: 1}\n  condition: s\n";
    let docs = load_with(
        &[("w.yml".into(), win.into())],
        &[fail],
        LoadOptions::default(),
    );
    assert_eq!(docs.errors.len(), 1);
    assert!(docs.errors[0].to_string().contains("no such data here"));
    let err = Pipeline::from_yaml("x.yml", "name: x\ntransformations:\n  - type: teleport\n")
        .unwrap_err();
    assert_eq!(err.line, 3);
    assert!(err.message.contains("teleport"));
}
