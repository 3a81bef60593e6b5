//! Escalation paths on hand-built accounts with known answers, and granted-vs-used on a real
//! detonation log.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tripline_identity::analyze::{analyze, Inputs, Options};
use tripline_identity::aws::usage::AwsUsage;
use tripline_identity::aws::Account;
use tripline_identity::k8s::usage::K8sUsage;
use tripline_identity::k8s::{Rbac, Subject};
use tripline_identity::propose;

fn fixture(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(p)
}

fn data(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/datasets")
        .join(p)
}

#[test]
fn escalation_paths_have_the_known_answers() {
    let acct = Account::load(&fixture("paths-account.json")).unwrap();
    let rbac = Rbac::load(&[fixture("paths-rbac.yaml")]).unwrap();
    let inputs = Inputs {
        account: Some((acct, "paths-account.json".into())),
        rbac: Some(rbac),
        ..Inputs::default()
    };
    let report = analyze(&inputs, &Options::default());
    let paths: BTreeMap<&str, String> = report
        .paths
        .iter()
        .map(|p| (p.from.as_str(), p.display()))
        .collect();
    let arn = |n: &str| format!("arn:aws:iam::111122223333:{n}");
    let want = BTreeMap::from([
        (arn("user/dev"), format!("{} -[iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction]-> {}  (admin: allows every action on every resource)", arn("user/dev"), arn("role/lambda-admin"))),
        (arn("user/analyst"), format!("{} -[sts:AssumeRole]-> {} -[iam:CreateAccessKey]-> {}  (admin: allows every action on every resource)", arn("user/analyst"), arn("role/ops"), arn("user/breakglass"))),
        (arn("role/ops"), format!("{} -[iam:CreateAccessKey]-> {}  (admin: allows every action on every resource)", arn("role/ops"), arn("user/breakglass"))),
        (arn("user/denied"), format!("{} -[sts:AssumeRole]-> {}  (admin: can grant itself any permission (iam:PutRolePolicy on itself))", arn("user/denied"), arn("role/self-editor"))),
        // A RoleBinding chain: lead may create RoleBindings in ci and bind ClusterRoles, so it
        // can bind one that creates pods and run one as ci/deployer, a cluster admin.
        ("k8s:User lead".to_string(), "k8s:User lead -[bind a role in ci that creates pods, then run as the service account]-> k8s:ServiceAccount ci/deployer  (admin: `*` on `*` cluster-wide)".to_string()),
        ("k8s:User dev".to_string(), "k8s:User dev -[create a pod in ci running as the service account]-> k8s:ServiceAccount ci/deployer  (admin: `*` on `*` cluster-wide)".to_string()),
    ]);
    let got: BTreeMap<String, String> = paths
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    assert_eq!(got, want);
    // Admins, and those that are not.
    assert!(
        report.admins.contains_key("k8s:User ops"),
        "{:?}",
        report.admins
    );
    assert!(report.admins.contains_key(&arn("role/self-editor")));
    assert!(!report.admins.contains_key(&arn("user/passer")));
    assert!(
        !paths.contains_key(arn("user/passer").as_str()),
        "PassRole alone launches nothing"
    );
    assert!(
        !paths.contains_key("k8s:User webdev"),
        "a RoleBinding to a missing Role grants nothing"
    );
    // Findings rank the one-step paths first among the paths.
    let f = report
        .findings
        .iter()
        .find(|f| f.identity == arn("user/dev"))
        .unwrap();
    assert_eq!(f.check, "aws-escalation-path");
    assert_eq!(f.severity.as_str(), "critical");
    let trust = report
        .findings
        .iter()
        .find(|f| f.check == "aws-trust-any-principal")
        .unwrap();
    assert_eq!(trust.identity, arn("role/self-editor"));
}

#[test]
fn unused_permission_and_unused_role_are_reported() {
    let acct = Account::load(&fixture("unused-account.json")).unwrap();
    let usage = AwsUsage::read(&[data(
        "aws-cloudtrail-stratus-detonations/aws.persistence.iam-create-admin-user.json",
    )])
    .unwrap();
    let now = (usage.window.unwrap().1 / 1_000_000_000) as i64;
    let inputs = Inputs {
        account: Some((acct, "unused-account.json".into())),
        cloudtrail: Some(usage),
        ..Inputs::default()
    };
    let report = analyze(
        &inputs,
        &Options {
            now_secs: now,
            ..Options::default()
        },
    );
    let by_check = |c: &str| {
        report
            .findings
            .iter()
            .filter(|f| f.check == c)
            .collect::<Vec<_>>()
    };

    let unused = by_check("aws-unused-permissions");
    assert_eq!(unused.len(), 1, "{unused:?}");
    let f = unused[0];
    assert_eq!(f.identity, "arn:aws:iam::229654561268:user/christophe");
    assert_eq!(
        f.evidence["used"],
        serde_json::json!([
            "iam:AttachUserPolicy",
            "iam:CreateAccessKey",
            "iam:CreateUser"
        ])
    );
    assert_eq!(f.evidence["unused_services"], serde_json::json!(["s3"]));
    assert_eq!(f.evidence["partly_used_services"]["iam"], "3 of 4 used");

    let idle = by_check("aws-unused-identity");
    assert_eq!(idle.len(), 1, "{idle:?}");
    assert_eq!(
        idle[0].identity,
        "arn:aws:iam::229654561268:role/nightly-report"
    );
    // Minutes of logs cannot prove 90 idle days: reported, ranked low, and says so.
    assert_eq!(idle[0].severity.as_str(), "low");
    assert_eq!(idle[0].evidence["proven_for_whole_period"], false);

    // The proposal grants exactly what was used; the diff removes the rest.
    let (acct, _) = inputs.account.as_ref().unwrap();
    let used = inputs
        .cloudtrail
        .as_ref()
        .unwrap()
        .of("arn:aws:iam::229654561268:user/christophe");
    let p = propose::aws(acct, "arn:aws:iam::229654561268:user/christophe", used).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&p.proposed).unwrap();
    assert_eq!(
        doc["Statement"][0]["Action"],
        serde_json::json!([
            "iam:AttachUserPolicy",
            "iam:CreateAccessKey",
            "iam:CreateUser"
        ])
    );
    assert_eq!(doc["Statement"].as_array().unwrap().len(), 1);
    let diff = p.diff();
    assert!(
        diff.contains("-") && diff.contains("s3:GetObject") && diff.contains("iam:DeleteUser"),
        "{diff}"
    );
}

#[test]
fn kubernetes_proposal_from_the_audit2rbac_demo() {
    let usage = K8sUsage::read(&[data("k8s-audit-audit2rbac-demo/demo.log")]).unwrap();
    let rbac = Rbac::default();
    let bob = Subject::user("bob");
    let p = propose::k8s(&rbac, &bob, usage.users.get("bob"));
    let docs: Vec<serde_json::Value> = serde_yaml::Deserializer::from_str(&p.proposed)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    // bob listed pods in default (allowed twice) and read discovery endpoints; the 403s are
    // not granted.
    let role = docs.iter().find(|d| d["kind"] == "Role").unwrap();
    assert_eq!(role["metadata"]["namespace"], "default");
    assert_eq!(
        role["rules"],
        serde_json::json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}])
    );
    // Discovery reads are granted to everyone by default: nothing cluster-wide is proposed,
    // and the refused list of nodes is not granted.
    assert_eq!(docs.len(), 2, "{}", p.proposed);
    assert_eq!(
        docs[1]["subjects"][0],
        serde_json::json!({"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"})
    );
    assert!(!p.proposed.contains("nodes"), "{}", p.proposed);
}

#[test]
fn access_keys_old_stale_and_never_used() {
    let acct = Account::load(&fixture("paths-account.json")).unwrap();
    let header = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";
    let row = |user: &str, k1: &str, k2: &str| {
        format!("{user},arn:aws:iam::111122223333:user/{user},2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,{k1},{k2},false,N/A,false,N/A")
    };
    let csv = [
        header.to_string(),
        // Rotated 2 years ago, used yesterday: old.
        row(
            "dev",
            "true,2024-11-24T00:00:00+00:00,2026-11-23T00:00:00+00:00,us-east-1,s3",
            "false,N/A,N/A,N/A,N/A",
        ),
        // Active, never used, a month old: never used.
        row(
            "analyst",
            "true,2026-10-24T00:00:00+00:00,N/A,N/A,N/A",
            "false,N/A,N/A,N/A,N/A",
        ),
        // Within the 365-day age limit, last used 200 days ago: stale. The inactive second key
        // is ignored.
        row(
            "passer",
            "true,2026-06-01T00:00:00+00:00,2026-05-08T00:00:00+00:00,us-east-1,iam",
            "false,2020-01-01T00:00:00+00:00,N/A,N/A,N/A",
        ),
        // A fresh, used key: nothing.
        row(
            "breakglass",
            "true,2026-11-01T00:00:00+00:00,2026-11-20T00:00:00+00:00,us-east-1,sts",
            "false,N/A,N/A,N/A,N/A",
        ),
    ]
    .join("\n");
    let report_csv =
        tripline_identity::aws::credentials::CredentialReport::parse(csv.as_bytes(), "report.csv")
            .unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T00:00:00Z")
        .unwrap()
        .timestamp();
    let inputs = Inputs {
        account: Some((acct, "paths-account.json".into())),
        credential_report: Some(report_csv),
        ..Inputs::default()
    };
    let report = analyze(
        &inputs,
        &Options {
            now_secs: now,
            key_max_age_days: 365,
            ..Options::default()
        },
    );
    let keys: std::collections::BTreeSet<(String, String)> = report
        .findings
        .iter()
        .filter(|f| f.check.starts_with("aws-access-key"))
        .map(|f| {
            (
                f.check.clone(),
                f.identity.rsplit('/').next().unwrap().to_string(),
            )
        })
        .collect();
    let want: std::collections::BTreeSet<(String, String)> = [
        ("aws-access-key-old", "dev"),
        ("aws-access-key-never-used", "analyst"),
        ("aws-access-key-stale", "passer"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(keys, want);
    // The report also shows who is idle: passer's last use is 200 days old.
    assert!(report
        .findings
        .iter()
        .any(|f| f.check == "aws-unused-identity" && f.identity.ends_with("user/passer")));
    assert!(!report
        .findings
        .iter()
        .any(|f| f.check == "aws-unused-identity" && f.identity.ends_with("user/breakglass")));
}
