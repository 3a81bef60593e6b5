//! `tripline identity` from the command line: ranked findings, SARIF that validates, the
//! store, exit codes, paths and proposals.

use crate::{stderr, tripline};

use serde_json::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/datasets");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../identity/tests/fixtures");

fn auth() -> String {
    format!("{DATA}/aws-iam-authorization-details/account-authorization-details.json")
}

#[test]
fn analyze_ranks_findings_and_sarif_validates() {
    let out = tripline(&[
        "identity",
        "analyze",
        "--aws-auth",
        &auth(),
        "--format",
        "sarif",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = serde_json::to_string(
        &serde_json::from_str::<Value>(include_str!(
            "../../../../data/schemas/sarif-2.1.0-rtm.5.json"
        ))
        .unwrap(),
    )
    .unwrap()
    .replace(
        "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$",
        "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$",
    );
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(results.len() > 100);
    // Ranked: the first result is critical, located at the input file, with a fingerprint.
    assert_eq!(results[0]["level"], "error");
    assert_eq!(results[0]["properties"]["security-severity"], "9.0");
    assert!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("account-authorization-details.json")
    );
    assert!(results[0]["partialFingerprints"]["triplineFingerprint/v1"].is_string());
    let ids: std::collections::BTreeSet<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    for id in [
        "tripline/identity/aws-escalation-path",
        "tripline/identity/aws-privilege-escalation",
        "tripline/identity/aws-credentials-exposure",
        "tripline/identity/aws-resource-exposure",
        "tripline/identity/aws-data-exfiltration",
        "tripline/identity/aws-trust-cross-account",
        "tripline/identity/aws-admin-equivalent",
    ] {
        assert!(ids.contains(id), "{id} missing from {ids:?}");
    }
}

#[test]
fn findings_reach_the_store_and_fail_on_gates() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db").display().to_string();
    let rbac = format!("{FIXTURES}/paths-rbac.yaml");
    let out = tripline(&[
        "identity",
        "analyze",
        "--k8s-rbac",
        &rbac,
        "--store",
        &store,
        "--fail-on",
        "critical",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CRITICAL k8s-escalation-path"), "{text}");
    // The gate reads them back, as identity findings.
    let gate = tripline(&[
        "gate", "--store", &store, "--kind", "identity", "--format", "json",
    ]);
    assert_eq!(gate.status.code(), Some(3), "{}", stderr(&gate));
    let v: Value = serde_json::from_slice(&gate.stdout).unwrap();
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"k8s-escalation-path"), "{rules:?}");
    // A second run folds into the same findings instead of duplicating them.
    let again = tripline(&[
        "identity",
        "analyze",
        "--k8s-rbac",
        &rbac,
        "--store",
        &store,
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("0 new findings"),
        "{}",
        stderr(&again)
    );
    // Below the threshold: success.
    let out = tripline(&["identity", "analyze", "--k8s-rbac", &format!("{DATA}/k8s-rbac-kubescape-tests/rule-can-delete-k8s-events-v1/test/clusterrole-clusterrolebinding/input"), "--fail-on", "high"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn paths_and_proposals_from_the_command_line() {
    let acct = format!("{FIXTURES}/paths-account.json");
    let out = tripline(&[
        "identity",
        "paths",
        "--to",
        "admin",
        "--aws-auth",
        &acct,
        "--from",
        "analyst",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "arn:aws:iam::111122223333:user/analyst -[sts:AssumeRole]-> arn:aws:iam::111122223333:role/ops -[iam:CreateAccessKey]-> arn:aws:iam::111122223333:user/breakglass  (admin: allows every action on every resource)"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = tripline(&[
        "identity",
        "propose",
        "--identity",
        "christophe",
        "--aws-auth",
        &format!("{FIXTURES}/unused-account.json"),
        "--cloudtrail",
        &format!(
            "{DATA}/aws-cloudtrail-stratus-detonations/aws.persistence.iam-create-admin-user.json"
        ),
        "-o",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let proposed: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("user-christophe.proposed.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        proposed["Statement"][0]["Action"],
        serde_json::json!([
            "iam:AttachUserPolicy",
            "iam:CreateAccessKey",
            "iam:CreateUser"
        ])
    );
    let diff = std::fs::read_to_string(dir.path().join("user-christophe.diff")).unwrap();
    assert!(
        diff.starts_with("--- current/user-christophe.json\n+++ proposed/user-christophe.json\n"),
        "{diff}"
    );
    assert!(
        diff.lines()
            .any(|l| l.starts_with('-') && l.contains("iam:DeleteUser")),
        "{diff}"
    );
    // Bad input: a clear error naming the file and what was expected.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"UserDetailList": [{"UserName": "x", "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": {"Statement": [{"Effect": "Allow"}]}}]}]}"#).unwrap();
    let out = tripline(&["identity", "analyze", "--aws-auth", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("bad.json: UserDetailList[0].UserPolicyList[0].PolicyDocument.Statement[0]: expected Action or NotAction"), "{}", stderr(&out));
}
