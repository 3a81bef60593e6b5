//! Terraform-declared IAM against the live account, attributed from real CloudTrail records
//! (Stratus Red Team detonations).

use std::path::{Path, PathBuf};

use tripline_drift::compare::{Change, Severity};
use tripline_identity::aws::{drift, terraform, Account};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/aws-drift")
        .join(name)
}

fn stratus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/datasets/aws-cloudtrail-stratus-detonations")
        .join(name)
}

#[test]
fn terraform_declared_iam_drift_is_found_and_attributed() {
    let declared = terraform::load(&[fixture("terraform-show.json")]).unwrap();
    let live = Account::load(&fixture("account-authorization-details.json")).unwrap();
    let (trail, skipped) = drift::read_trail(&[
        stratus("aws.persistence.iam-backdoor-role.json"),
        stratus("aws.persistence.iam-create-admin-user.json"),
        // Reads only (GetPasswordData): no changes to attribute.
        stratus("aws.credential-access.ec2-get-password-data.json"),
    ])
    .unwrap();
    assert_eq!(skipped.count, 0);
    assert!(trail.iter().all(|c| !c.attribution.verb.starts_with("Get")));

    let findings = drift::drift(&declared, &live, &trail);
    let summary: Vec<(String, Change, Severity)> = findings
        .iter()
        .map(|f| (f.item.clone(), f.change, f.severity))
        .collect();
    let want = |item: &str, change, severity| (item.to_string(), change, severity);
    assert_eq!(
        summary,
        [
            want(
                "role stratus-red-team-backdoor-r-role",
                Change::Changed,
                Severity::Critical
            ),
            want("policy deploy-artifacts", Change::Changed, Severity::High),
            want("user app-deployer", Change::Changed, Severity::High),
            want("user malicious-iam-user", Change::Added, Severity::High),
            want("role ci-runner", Change::Missing, Severity::Medium),
        ],
        "{findings:#?}"
    );

    // The trust policy rewrite, and who made it: the CloudTrail record's identity and origin.
    let role = &findings[0];
    assert_eq!(
        role.evidence[0],
        "trust policy: live also trusts arn:aws:iam::193672423079:root"
    );
    let a = role.attribution.as_ref().unwrap();
    assert_eq!(a.verb, "UpdateAssumeRolePolicy");
    assert_eq!(a.time, "2024-08-01T13:29:57Z");
    assert_eq!(a.source_ip, "225.178.039.250");
    assert!(
        a.user.starts_with("arn:aws:iam::751203476945:user/"),
        "{a:?}"
    );
    assert!(a.user_agent.starts_with("stratus-red-team_"), "{a:?}");

    // Only the attachment nobody declared: the inline policy differs in order only, and the
    // group membership is as declared.
    assert_eq!(
        findings[2].evidence,
        ["attached policy arn:aws:iam::aws:policy/AdministratorAccess: not declared"]
    );
    assert!(findings[2].attribution.is_none());

    let user = &findings[3];
    assert_eq!(user.evidence[0], "an IAM user nobody declared");
    let a = user.attribution.as_ref().unwrap();
    assert!(
        ["CreateUser", "AttachUserPolicy", "CreateAccessKey"].contains(&a.verb.as_str()),
        "{a:?}"
    );
    assert!(a.user.ends_with(":user/christophe"), "{a:?}");

    assert!(
        findings[1].evidence[0].contains("\"s3:*\""),
        "{:?}",
        findings[1].evidence
    );

    // The service-linked role and AWS-managed policies are AWS's, not drift.
    assert!(findings.iter().all(|f| !f.item.contains("AWSServiceRole")));
    assert!(findings
        .iter()
        .all(|f| f.item != "policy AdministratorAccess"));
}

#[test]
fn matching_live_state_is_no_drift() {
    // The live account as declared: the same Terraform state read both ways gives nothing.
    let declared = terraform::load(&[fixture("terraform-show.json")]).unwrap();
    let findings = drift::drift(&declared, &declared, &[]);
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn raw_tfstate_reads_like_terraform_show() {
    // The same resources in a terraform.tfstate (version 4) layout.
    let show: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("terraform-show.json")).unwrap())
            .unwrap();
    let mut resources = Vec::new();
    let mut add = |module: Option<&str>, list: &serde_json::Value| {
        for r in list.as_array().unwrap() {
            let mut o = serde_json::json!({
                "mode": "managed", "type": r["type"], "name": r["name"],
                "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
                "instances": [{"schema_version": 0, "attributes": r["values"]}]
            });
            if let Some(m) = module {
                o["module"] = m.into();
            }
            resources.push(o);
        }
    };
    let root = &show["values"]["root_module"];
    add(None, &root["resources"]);
    add(Some("module.ci"), &root["child_modules"][0]["resources"]);
    let state = serde_json::json!({"version": 4, "terraform_version": "1.9.8", "serial": 7,
        "lineage": "5f0c", "outputs": {}, "resources": resources});
    let a = terraform::declared(&[("terraform.tfstate", &state)]).unwrap();
    let b = terraform::load(&[fixture("terraform-show.json")]).unwrap();
    let names =
        |x: &Account| -> Vec<String> { x.identities.iter().map(|i| i.name.clone()).collect() };
    assert_eq!(names(&a), names(&b));
    assert!(drift::drift(&a, &b, &[]).is_empty());
}

#[test]
fn bad_terraform_names_the_file_and_resource() {
    let state = serde_json::json!({"values": {"root_module": {"resources": [
        {"address": "aws_iam_role_policy_attachment.x", "type": "aws_iam_role_policy_attachment",
         "values": {"role": "ghost", "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}},
        {"address": "aws_iam_role.y", "type": "aws_iam_role",
         "values": {"name": "y", "assume_role_policy": "{not json"}}]}}});
    let e = terraform::declared(&[("main.json", &state)]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("main.json: aws_iam_role.y: assume_role_policy: not JSON"),
        "{e}"
    );
    let state = serde_json::json!({"values": {"root_module": {"resources": [
        {"address": "aws_iam_role_policy_attachment.x", "type": "aws_iam_role_policy_attachment",
         "values": {"role": "ghost", "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}}]}}});
    let e = terraform::declared(&[("main.json", &state)]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "main.json: aws_iam_role_policy_attachment.x: role ghost is not declared in this state (an aws_iam_role resource is needed)"
    );
    let e = terraform::declared(&[("x.json", &serde_json::json!({"a": 1}))]).unwrap_err();
    assert!(
        e.to_string()
            .contains("expected `terraform show -json` output"),
        "{e}"
    );
}
