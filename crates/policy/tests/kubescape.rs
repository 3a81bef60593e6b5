//! Tripline's own RBAC policies on kubescape's regolibrary test cases: for every case the same
//! alerts (subject and message) as the upstream expected output.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tripline_policy::PolicySet;

fn dataset() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/datasets/k8s-rbac-kubescape-tests")
}

fn objects(dir: &Path) -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(doc).unwrap();
            if !v.is_null() {
                out.push((f.display().to_string(), v));
            }
        }
    }
    out
}

#[test]
fn rbac_cases_match_upstream_expectations() {
    // kubescape rule → our package. (rule-can-ssh-to-pod-v1 is about Services exposing port
    // 22, not RBAC, and has no counterpart here.)
    let rules = [
        ("rule-can-access-proxy-subresource", "can_access_proxy"),
        ("rule-can-approve-cert-signing-request", "can_approve_csr"),
        ("rule-can-create-pod", "can_create_pods"),
        (
            "rule-can-create-service-account-token",
            "can_create_sa_token",
        ),
        ("rule-can-delete-k8s-events-v1", "can_delete_events"),
        ("rule-can-list-get-secrets-v1", "can_read_secrets"),
        ("rule-can-modify-admission-webhooks", "can_modify_webhooks"),
        ("rule-can-update-configmap-v1", "can_modify_coredns"),
    ];
    let mut cases = 0;
    for (rule, package) in rules {
        let tests = dataset().join(rule).join("test");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&tests)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        dirs.sort();
        for case in dirs {
            let expected: Vec<Value> =
                serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap())
                    .unwrap();
            let mut want: Vec<String> = expected
                .iter()
                .map(|a| a["alertMessage"].as_str().unwrap().to_string())
                .collect();
            let mut set = PolicySet::default_pack();
            let found = set.eval_objects(&objects(&case.join("input"))).unwrap();
            let mut got: Vec<String> = found
                .iter()
                .filter(|v| v.package == format!("tripline.kubernetes.rbac.{package}"))
                .map(|v| v.msg.clone())
                .collect();
            want.sort();
            got.sort();
            assert_eq!(got, want, "{rule} {}", case.display());
            // Each alert names its subject as kubescape does (kind and name).
            let mut subjects: Vec<(String, String)> = expected
                .iter()
                .map(|a| {
                    let s = &a["alertObject"]["externalObjects"];
                    (
                        s["kind"].as_str().unwrap().into(),
                        s["name"].as_str().unwrap().into(),
                    )
                })
                .collect();
            let mut ours: Vec<(String, String)> = found
                .iter()
                .filter(|v| v.package == format!("tripline.kubernetes.rbac.{package}"))
                .map(|v| {
                    let s = &v.details["subject"];
                    (
                        s["kind"].as_str().unwrap().into(),
                        s["name"].as_str().unwrap().into(),
                    )
                })
                .collect();
            subjects.sort();
            ours.sort();
            assert_eq!(ours, subjects, "{rule} {}", case.display());
            cases += 1;
        }
    }
    assert_eq!(cases, 24);
}
