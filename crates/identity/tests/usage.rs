//! Usage from real logs: every record is charged to the right identity and action.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use tripline_identity::aws::usage::{action_of, AwsUsage};
use tripline_identity::k8s::usage::K8sUsage;

fn data(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/datasets")
        .join(p)
}

fn records(path: &PathBuf) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    match v {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("Records") {
            Some(Value::Array(a)) => a,
            _ => panic!("no Records"),
        },
        _ => panic!("not CloudTrail"),
    }
}

#[test]
fn stratus_detonations_every_call_is_counted_once() {
    let labels: Value = serde_json::from_slice(
        &std::fs::read(data("aws-cloudtrail-stratus-detonations/labels.json")).unwrap(),
    )
    .unwrap();
    let mut files = 0;
    for l in labels.as_array().unwrap() {
        let path = data(&format!(
            "aws-cloudtrail-stratus-detonations/{}",
            l["file"].as_str().unwrap()
        ));
        let u = AwsUsage::read(std::slice::from_ref(&path)).unwrap();
        assert_eq!(
            u.records,
            l["events"].as_u64().unwrap(),
            "{}",
            path.display()
        );
        assert_eq!(u.skipped_count, 0);
        // Expected per action: the labels' event-name counts, less records no principal made.
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        for (name, n) in l["event_names"].as_object().unwrap() {
            let (svc, ev) = name.split_once(':').unwrap();
            *want
                .entry(action_of(&format!("{svc}.amazonaws.com"), ev))
                .or_default() += n.as_u64().unwrap();
        }
        for r in records(&path) {
            let t = r["userIdentity"]["type"].as_str().unwrap_or("");
            if !matches!(t, "IAMUser" | "AssumedRole" | "Root" | "FederatedUser") {
                let a = action_of(
                    r["eventSource"].as_str().unwrap(),
                    r["eventName"].as_str().unwrap(),
                );
                *want.get_mut(&a).unwrap() -= 1;
            }
        }
        want.retain(|_, n| *n > 0);
        let mut got: BTreeMap<String, u64> = BTreeMap::new();
        for p in u.principals.values() {
            for (a, x) in &p.actions {
                *got.entry(a.clone()).or_default() += x.calls + x.denied;
            }
        }
        assert_eq!(got, want, "{}", path.display());
        files += 1;
    }
    assert_eq!(files, 23);

    // Hand-checked: the instance role was refused GetPasswordData 30 times (never used it);
    // christophe assumed roles twice and was denied twice.
    let u = AwsUsage::read(&[data(
        "aws-cloudtrail-stratus-detonations/aws.credential-access.ec2-get-password-data.json",
    )])
    .unwrap();
    let role =
        &u.principals["arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role"];
    assert_eq!(role.kind, "AssumedRole");
    let gp = &role.actions["ec2:GetPasswordData"];
    assert_eq!((gp.calls, gp.denied), (0, 30));
    let ar = &u.principals["arn:aws:iam::457448411975:user/christophe"].actions["sts:AssumeRole"];
    assert_eq!((ar.calls, ar.denied), (2, 2));
    assert_eq!(u.access_keys["AKIAWOGXN38MFN92ING5"].calls, 4);
}

#[test]
fn invictus_identities_are_exactly_those_in_the_logs() {
    let dir = data("aws-cloudtrail-invictus-stratus-run/CloudTrail");
    let u = AwsUsage::read(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(u.records, 2093);
    let mut want: BTreeSet<String> = BTreeSet::new();
    let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        for r in records(&f) {
            let ui = &r["userIdentity"];
            let who = match ui["type"].as_str() {
                Some("IAMUser") => ui["arn"].as_str().unwrap().to_string(),
                Some("AssumedRole") if ui["sessionContext"]["sessionIssuer"]["arn"].is_string() => {
                    ui["sessionContext"]["sessionIssuer"]["arn"]
                        .as_str()
                        .unwrap()
                        .to_string()
                }
                Some("AssumedRole") => {
                    // arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION
                    let arn = ui["arn"].as_str().unwrap();
                    let account = arn.split(':').nth(4).unwrap();
                    let role = arn.split('/').nth(1).unwrap();
                    format!("arn:aws:iam::{account}:role/{role}")
                }
                _ => continue,
            };
            pairs.insert((
                who.clone(),
                action_of(
                    r["eventSource"].as_str().unwrap(),
                    r["eventName"].as_str().unwrap(),
                ),
            ));
            want.insert(who);
        }
    }
    let got: BTreeSet<String> = u.principals.keys().cloned().collect();
    assert_eq!(got, want);
    let got_pairs: BTreeSet<(String, String)> = u
        .principals
        .iter()
        .flat_map(|(p, x)| x.actions.keys().map(move |a| (p.clone(), a.clone())))
        .collect();
    assert_eq!(got_pairs, pairs);
    assert_eq!(
        u.unattributed,
        2093 - u
            .principals
            .values()
            .flat_map(|p| p.actions.values())
            .map(|a| a.calls + a.denied)
            .sum::<u64>()
    );
    // S3 and Lambda event names are IAM actions.
    let bert = &u.principals["arn:aws:iam::123837392027:user/bert-jan"];
    assert!(
        bert.actions.contains_key("s3:ListAllMyBuckets")
            || bert.actions.keys().any(|a| a.starts_with("s3:"))
    );
    assert!(!u
        .principals
        .values()
        .any(|p| p.actions.keys().any(|a| a.contains("20150331"))));
}

#[test]
fn audit2rbac_demo_usage_per_impersonated_user() {
    let u = K8sUsage::read(&[data("k8s-audit-audit2rbac-demo/demo.log")]).unwrap();
    assert_eq!(u.events, 37);
    let users: BTreeSet<&str> = u.users.keys().map(String::as_str).collect();
    assert_eq!(
        users,
        BTreeSet::from(["alice", "bob", "system:serviceaccount:ns1:sa1"])
    );
    let alice = &u.users["alice"];
    assert!(alice
        .requests
        .values()
        .all(|r| r.calls == 0 && r.denied == 1));
    let bob = &u.users["bob"];
    let pods = bob
        .requests
        .iter()
        .find(|(r, _)| r.resource == "pods" && r.namespace == "default")
        .unwrap()
        .1;
    assert_eq!((pods.calls, pods.denied), (2, 2));
    let discovery: u64 = bob
        .requests
        .iter()
        .filter(|(r, _)| r.resource.is_empty())
        .map(|(_, x)| x.calls)
        .sum();
    assert_eq!(discovery, 23);
}
