//! RBAC risk checks against kubescape's rule tests: the same subjects alert, case by case.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use tripline_identity::k8s::{risk, Rbac};

fn dataset() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/datasets/k8s-rbac-kubescape-tests")
}

/// kubescape rule → our check.
const RULES: &[(&str, &str)] = &[
    ("rule-can-access-proxy-subresource", "k8s-proxy-subresource"),
    ("rule-can-approve-cert-signing-request", "k8s-approve-csr"),
    ("rule-can-create-pod", "k8s-create-pods"),
    (
        "rule-can-create-service-account-token",
        "k8s-create-sa-token",
    ),
    ("rule-can-delete-k8s-events-v1", "k8s-delete-events"),
    ("rule-can-list-get-secrets-v1", "k8s-read-secrets"),
    ("rule-can-modify-admission-webhooks", "k8s-modify-webhooks"),
    ("rule-can-update-configmap-v1", "k8s-modify-coredns"),
    ("rule-can-ssh-to-pod-v1", "ssh"),
];

#[test]
fn every_kubescape_case_alerts_on_the_same_subjects() {
    let mut cases = 0;
    let mut alerts = 0;
    for (rule, check) in RULES {
        let tests = dataset().join(rule).join("test");
        let mut dirs: Vec<_> = std::fs::read_dir(&tests)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        dirs.sort();
        for case in dirs {
            let rbac = Rbac::load(&[case.join("input")]).unwrap();
            let expected: Value =
                serde_json::from_slice(&std::fs::read(case.join("expected.json")).unwrap())
                    .unwrap();
            let want: BTreeSet<(String, String)> = expected
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    let o = &a["alertObject"]["externalObjects"];
                    if o.is_null() {
                        let k = &a["alertObject"]["k8sApiObjects"][0];
                        (
                            k["kind"].as_str().unwrap().to_string(),
                            k["metadata"]["name"].as_str().unwrap().to_string(),
                        )
                    } else {
                        (
                            o["kind"].as_str().unwrap().to_string(),
                            o["name"].as_str().unwrap().to_string(),
                        )
                    }
                })
                .collect();
            let got: BTreeSet<(String, String)> = if *check == "ssh" {
                risk::ssh_exposed(&rbac)
                    .into_iter()
                    .map(|e| (e.kind, e.name))
                    .collect()
            } else {
                risk::check(&rbac)
                    .into_iter()
                    .filter(|f| f.check == *check)
                    .map(|f| (f.subject.kind, f.subject.name))
                    .collect()
            };
            assert_eq!(got, want, "{}", case.display());
            cases += 1;
            alerts += want.len();
        }
    }
    assert_eq!(cases, 26);
    assert_eq!(alerts, 24);
}
