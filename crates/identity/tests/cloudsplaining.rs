//! Risky grants per policy match Cloudsplaining 0.9.1's report on its example account.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use tripline_identity::aws::{risk, Account, Catalog, PolicyDocument};

fn dataset() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/datasets/aws-iam-authorization-details")
}

/// Cloudsplaining's default exclusions: AWS service-role policies and AdministratorAccess.
fn excluded(name: &str, path: &str) -> bool {
    name.starts_with("AWSServiceRoleFor")
        || name.ends_with("ServiceRolePolicy")
        || name.ends_with("ServiceLinkedRolePolicy")
        || name == "AdministratorAccess"
        || name == "MyRole"
        || path.starts_with("/service-role")
        || path.starts_with("/aws-service-role")
}

fn set(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn ours(r: &risk::PolicyRisks) -> BTreeMap<&'static str, BTreeSet<String>> {
    let mut m = BTreeMap::new();
    m.insert(
        "PrivilegeEscalation",
        r.privilege_escalation
            .iter()
            .map(|e| e.method.clone())
            .collect(),
    );
    m.insert(
        "DataExfiltration",
        r.data_exfiltration.iter().cloned().collect(),
    );
    m.insert(
        "ResourceExposure",
        r.resource_exposure.iter().cloned().collect(),
    );
    m.insert(
        "CredentialsExposure",
        r.credentials_exposure.iter().cloned().collect(),
    );
    m
}

fn theirs(findings: Option<&Value>) -> BTreeMap<&'static str, BTreeSet<String>> {
    let f = findings.cloned().unwrap_or(Value::Null);
    let mut m = BTreeMap::new();
    m.insert(
        "PrivilegeEscalation",
        f.get("PrivilegeEscalation")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e["type"].as_str().map(str::to_string))
            .collect(),
    );
    for k in [
        "DataExfiltration",
        "ResourceExposure",
        "CredentialsExposure",
    ] {
        m.insert(k, set(f.get(k)));
    }
    m
}

#[test]
fn risky_grants_match_cloudsplaining_per_policy() {
    let cat = Catalog::get();
    let acct = Account::load(&dataset().join("account-authorization-details.json")).unwrap();
    let expected: Value = serde_json::from_slice(
        &std::fs::read(dataset().join("expected-cloudsplaining-0.9.1.json")).unwrap(),
    )
    .unwrap();
    let policies = expected["policies"].as_object().unwrap();

    // Every policy cloudsplaining judged: managed ones by name, inline ones by name.
    let mut docs: Vec<(String, &PolicyDocument, bool, &str)> = Vec::new();
    for arn in &acct.policy_order {
        let p = &acct.policies[arn];
        let kind = if p.aws_managed {
            "aws_managed_policies"
        } else {
            "customer_managed_policies"
        };
        docs.push((
            format!("{kind}/{}", p.name),
            &p.document,
            excluded(&p.name, &p.path),
            "",
        ));
    }
    for who in &acct.identities {
        for p in &who.grants.inline {
            // The default exclusions name `MyRole`; they apply to the owners of inline policies too.
            let skip = excluded(&who.name, &who.path);
            docs.push((
                format!("inline_policies/{}", p.name),
                &p.document,
                skip,
                &who.name,
            ));
        }
    }

    let mut compared = 0;
    let mut mismatches = Vec::new();
    let mut categories = BTreeMap::<&str, BTreeSet<&str>>::new();
    // Cloudsplaining keys inline policies by name: of several inline policies with one name,
    // or identical documents under several names, it reports one, attached to its owners.
    let attached = |key: &str, owner: &str| {
        policies.get(key).is_some_and(|p| {
            ["users", "groups", "roles"]
                .iter()
                .any(|k| set(p["attached_to"].get(*k)).contains(owner))
        })
    };
    for (key, doc, is_excluded, owner) in &docs {
        if *is_excluded {
            continue;
        }
        if key.starts_with("inline_policies/") && !attached(key, owner) {
            let judged_elsewhere = policies
                .keys()
                .any(|k| k.starts_with("inline_policies/") && attached(k, owner));
            if policies.contains_key(key) || judged_elsewhere {
                continue;
            }
        }
        let r = risk::analyze(cat, doc);
        let expected = theirs(policies.get(key).map(|p| &p["findings"]));
        let mut got = ours(&r);
        // A deliberate difference: cloudsplaining's credentials list spells these two actions
        // with the service "gamelist" (a typo), so it can never report them. We do.
        for a in ["gamelift:GetComputeAccess", "gamelift:GetComputeAuthToken"] {
            if got["CredentialsExposure"].contains(a)
                && !expected["CredentialsExposure"].contains(a)
                && r.credentials_exposure
                    .iter()
                    .any(|x| x == "gamelift:GetInstanceAccess")
            {
                got.get_mut("CredentialsExposure").unwrap().remove(a);
            }
        }
        compared += 1;
        for (cat_name, want) in &expected {
            if !want.is_empty() {
                categories.entry(cat_name).or_default().insert(key.as_str());
            }
            if got[cat_name] != *want {
                let missing: Vec<_> = want.difference(&got[cat_name]).take(5).collect();
                let extra: Vec<_> = got[cat_name].difference(want).take(5).collect();
                mismatches.push(format!(
                    "{key} {cat_name}: missing {missing:?} extra {extra:?}"
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // The comparison covered the reference's findings, category by category.
    assert!(compared >= 64, "compared {compared} policies");
    assert_eq!(categories["PrivilegeEscalation"].len(), 37);
    assert_eq!(categories["ResourceExposure"].len(), 47);
    assert_eq!(categories["DataExfiltration"].len(), 15);
    assert_eq!(categories["CredentialsExposure"].len(), 13);
}
