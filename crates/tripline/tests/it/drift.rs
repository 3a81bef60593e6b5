//! `tripline contract learn` and `tripline drift` as a pipeline runs them: learn at build,
//! drift at run time, exit 3 on drift.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn tripline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(args)
        .output()
        .unwrap()
}

fn json_findings(out: &Output) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    v["findings"].as_array().unwrap().clone()
}

/// On this machine: a SUID copy under a watched glob, a changed config file and a new listener
/// on 0.0.0.0 are each found with a high severity; before them, the watched tree is clean.
#[test]
fn live_machine_drift() {
    let dir = tempfile::tempdir().unwrap();
    let watched = dir.path().join("app");
    std::fs::create_dir_all(watched.join("bin")).unwrap();
    std::fs::create_dir_all(watched.join("etc")).unwrap();
    std::fs::write(watched.join("etc/app.conf"), "listen = 127.0.0.1\n").unwrap();
    std::fs::copy("/bin/true", watched.join("bin/tool")).unwrap();
    let glob = format!("{}/**", watched.display());
    let contract = dir.path().join("contract.yaml");
    let out = tripline(&[
        "contract",
        "learn",
        "--include",
        &glob,
        "-o",
        contract.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&contract).unwrap();
    assert!(text.starts_with("apiVersion: tripline.dev/v1\nkind: RuntimeContract\n"));

    let drift = || {
        tripline(&[
            "drift",
            "--contract",
            contract.to_str().unwrap(),
            "--format",
            "json",
        ])
    };
    // Other processes (other tests) may open and close sockets meanwhile: only the watched
    // files, accounts and the like must be stable.
    let clean = drift();
    let stable: Vec<_> = json_findings(&clean)
        .into_iter()
        .filter(|f| f["section"] != "listeners")
        .collect();
    assert_eq!(stable, Vec::<serde_json::Value>::new());

    let suid = watched.join("bin/.tool");
    std::fs::copy(watched.join("bin/tool"), &suid).unwrap();
    std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::write(watched.join("etc/app.conf"), "listen = 0.0.0.0\n").unwrap();
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let out = drift();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings = json_findings(&out);
    let get = |section: &str, item: &str| {
        findings
            .iter()
            .find(|f| f["section"] == section && f["item"].as_str().unwrap().contains(item))
            .unwrap_or_else(|| panic!("no {section} {item} in {findings:#?}"))
            .clone()
    };
    let s = get("files", "/bin/.tool");
    assert_eq!(
        (s["change"].as_str(), s["severity"].as_str()),
        (Some("added"), Some("high"))
    );
    let c = get("files", "/etc/app.conf");
    assert_eq!(c["change"], "changed");
    assert!(c["evidence"][0]
        .as_str()
        .unwrap()
        .starts_with("sha256: declared "));
    let l = get("listeners", &format!("tcp 0.0.0.0:{port}"));
    assert_eq!(
        (l["change"].as_str(), l["severity"].as_str()),
        (Some("added"), Some("high"))
    );
    drop(listener);
}

#[test]
fn exit_codes_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    let contract = dir.path().join("c.yaml");
    let c = contract.to_str().unwrap();
    let r = root.to_str().unwrap();
    let out = tripline(&[
        "contract",
        "learn",
        "--root",
        r,
        "--include",
        "/etc/**",
        "-o",
        c,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tripline(&["drift", "--contract", c, "--root", r]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "No drift.\n");

    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\nadmin:x:0:0::/root:/bin/sh\n",
    )
    .unwrap();
    let out = tripline(&["drift", "--contract", c, "--root", r]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("CRITICAL added     users          admin\n"),
        "{text}"
    );

    let out = tripline(&["drift", "--contract", c, "--root", r, "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(3));
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(
        (result["ruleId"].as_str(), result["level"].as_str()),
        (Some("drift/users/added"), Some("error"))
    );
    let out = tripline(&[
        "drift",
        "--contract",
        c,
        "--root",
        r,
        "--format",
        "policyreport",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let report: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).unwrap();
    assert_eq!(report["apiVersion"], "wgpolicyk8s.io/v1alpha2");
    assert_eq!(report["kind"], "PolicyReport");
    assert_eq!(report["summary"]["fail"], 2); // the account, and /etc/passwd itself
    let r0 = &report["results"][0];
    assert_eq!(
        (
            r0["policy"].as_str(),
            r0["result"].as_str(),
            r0["severity"].as_str()
        ),
        (Some("drift/users"), Some("fail"), Some("critical"))
    );

    std::fs::write(&contract, "apiVersion: tripline.dev/v1\nkind: RuntimeContract\nmetadata: {name: x}\nspec:\n  users: [{name: root, uid: zero}]\n").unwrap();
    let out = tripline(&["drift", "--contract", c, "--root", r]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("c.yaml:5: spec.users[0].uid: "), "{err}");
}

#[test]
fn kubernetes_drift_from_the_command_line() {
    let k = concat!(env!("CARGO_MANIFEST_DIR"), "/../drift/tests/k8s");
    let out = tripline(&[
        "drift",
        "--manifests",
        &format!("{k}/manifests"),
        "--live",
        &format!("{k}/live.json"),
        "--audit",
        &format!("{k}/audit.jsonl"),
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings = json_findings(&out);
    assert_eq!(findings.len(), 5);
    let rb = findings
        .iter()
        .find(|f| f["item"] == "RoleBinding shop/debug-admin")
        .unwrap();
    assert_eq!(rb["attribution"]["user"], "mallory@example.com");
    assert_eq!(rb["attribution"]["source_ip"], "192.0.2.66");
    // --policy: the shipped pack on the live objects, in the same report.
    let out = tripline(&[
        "drift",
        "--manifests",
        &format!("{k}/manifests"),
        "--live",
        &format!("{k}/live.json"),
        "--policy",
        "default",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let with_policy = json_findings(&out);
    let (policy, drift): (Vec<_>, Vec<_>) =
        with_policy.iter().partition(|f| f["section"] == "policy");
    assert_eq!(drift.len(), 5);
    let privileged = policy
        .iter()
        .find(|f| f["evidence"][0].as_str().unwrap().contains("is privileged"))
        .unwrap_or_else(|| panic!("{policy:#?}"));
    assert_eq!(privileged["change"], "forbidden");
    assert!(privileged["evidence"][0]
        .as_str()
        .unwrap()
        .starts_with("tripline.kubernetes.pss.baseline deny: "));
    // Neither a contract nor manifests: a usage error.
    let out = tripline(&["drift"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn aws_iam_drift_from_the_command_line() {
    let f = concat!(env!("CARGO_MANIFEST_DIR"), "/../identity/tests/aws-drift");
    let trail = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/datasets/aws-cloudtrail-stratus-detonations/aws.persistence.iam-backdoor-role.json"
    );
    let args = |format: &'static str| {
        tripline(&[
            "drift",
            "--terraform",
            &format!("{f}/terraform-show.json"),
            "--aws-auth",
            &format!("{f}/account-authorization-details.json"),
            "--audit",
            trail,
            "--format",
            format,
        ])
    };
    let out = args("json");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings = json_findings(&out);
    assert_eq!(findings.len(), 5);
    assert_eq!(findings[0]["item"], "role stratus-red-team-backdoor-r-role");
    assert_eq!(findings[0]["severity"], "critical");
    assert_eq!(findings[0]["attribution"]["verb"], "UpdateAssumeRolePolicy");
    let text = String::from_utf8_lossy(&args("text").stdout).to_string();
    assert!(
        text.contains("last change: UpdateAssumeRolePolicy by arn:aws:iam::751203476945:user/"),
        "{text}"
    );
    let sarif: serde_json::Value = serde_json::from_slice(&args("sarif").stdout).unwrap();
    assert_eq!(
        sarif["runs"][0]["results"][0]["ruleId"],
        "drift/aws-iam/changed"
    );
    // The live side is needed, and a broken state names the file.
    let out = tripline(&["drift", "--terraform", &format!("{f}/terraform-show.json")]);
    assert_eq!(out.status.code(), Some(2));
    let out = tripline(&[
        "drift",
        "--terraform",
        trail,
        "--aws-auth",
        &format!("{f}/account-authorization-details.json"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("aws.persistence.iam-backdoor-role.json: (document): expected `terraform show -json` output"), "{err}");
}

#[test]
fn policy_eval_from_the_command_line() {
    let k = concat!(env!("CARGO_MANIFEST_DIR"), "/../drift/tests/k8s");
    let out = tripline(&[
        "policy",
        "eval",
        "--input",
        &format!("{k}/live.json"),
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(results
        .iter()
        .any(|r| r["package"] == "tripline.kubernetes.pss.baseline"
            && r["msg"] == "Deployment shop/web: container web is privileged"));
    assert!(results
        .iter()
        .any(|r| r["msg"] == "Subject: ServiceAccount-web can read secrets"));
    // With a store, every violation is kept as a policy finding the gate can read.
    let sdir = tempfile::tempdir().unwrap();
    let store = sdir.path().join("s.db").display().to_string();
    let out = tripline(&[
        "policy",
        "eval",
        "--input",
        &format!("{k}/live.json"),
        "--store",
        &store,
    ]);
    assert_eq!(out.status.code(), Some(3));
    let mut db = tripline_store::Store::open(&store).unwrap();
    let stored = db
        .query(&tripline_store::Query {
            kind: Some(tripline_store::Kind::Policy),
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    let counted: i64 = stored.iter().map(|f| f.count).sum();
    assert_eq!(counted as usize, results.len(), "every violation is stored");
    assert!(stored
        .iter()
        .any(|f| f.rule == "tripline.kubernetes.pss.baseline"
            && f.message == "Deployment shop/web: container web is privileged"));
    let out = tripline(&[
        "policy",
        "eval",
        "--input",
        &format!("{k}/manifests"),
        "--format",
        "policyreport",
    ]);
    let report: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).unwrap();
    assert_eq!(report["kind"], "PolicyReport");
    // The declared manifests are clean of baseline violations (not of restricted ones).
    let results = report["results"].as_sequence().unwrap();
    assert!(
        results
            .iter()
            .all(|r| r["policy"] != "tripline.kubernetes.pss.baseline"),
        "{results:?}"
    );

    // Own policies, v0 syntax; a syntax error names the file and line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.rego"),
        "package mine\ndeny[msg] { input.kind == \"Service\"; msg := \"no services\" }\n",
    )
    .unwrap();
    let p = dir.path().to_str().unwrap();
    let out = tripline(&[
        "policy",
        "eval",
        "--rego-v0",
        "--policy",
        p,
        "--input",
        &format!("{k}/manifests"),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("HIGH     deny  mine  no services"));
    std::fs::write(
        dir.path().join("p.rego"),
        "package mine\ndeny contains msg if {\n  input.kind ==\n}\n",
    )
    .unwrap();
    let out = tripline(&[
        "policy",
        "eval",
        "--policy",
        p,
        "--input",
        &format!("{k}/manifests"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("p.rego:"), "{err}");
}

/// The pipeline loop for a host file: learn with kept sources at build, and at run time a
/// changed config is stored as a drift finding, restored by an automatic `restore` action
/// (audited in the store), and the next drift run is clean.
#[test]
fn drift_findings_are_stored_and_restored_from_the_contract_source() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc/app")).unwrap();
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    std::fs::write(root.join("etc/app/app.conf"), "tls = on\n").unwrap();
    let contract = dir.path().join("contract.yaml");
    let sources = dir.path().join("sources");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let out = tripline(&[
        "contract",
        "learn",
        "--root",
        &s(&root),
        "--include",
        "/etc/app/**",
        "--keep-sources",
        &s(&sources),
        "-o",
        &s(&contract),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(&contract)
        .unwrap()
        .contains("source: "));

    std::fs::write(root.join("etc/app/app.conf"), "tls = off\n").unwrap();
    let config = dir.path().join("act.yaml");
    std::fs::write(
        &config,
        format!(
            "actions:\n  - rule: files changed\n    action: restore\n    approval: automatic\n    quarantine_dir: {}\n",
            dir.path().join("q").display()
        ),
    )
    .unwrap();
    let store = dir.path().join("store.db");
    let drift = || {
        tripline(&[
            "drift",
            "--contract",
            &s(&contract),
            "--root",
            &s(&root),
            "--store",
            &s(&store),
            "--config",
            &s(&config),
        ])
    };
    let out = drift();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("action restore on /etc/app/app.conf: done: restored"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/app/app.conf")).unwrap(),
        "tls = on\n"
    );

    // The finding and the action's audit record are in the store; the gate sees the finding.
    let mut db = tripline_store::Store::open(&s(&store)).unwrap();
    let actions = db.actions(None, 10).unwrap();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(
        (actions[0].action.as_str(), actions[0].target.as_str()),
        ("restore", "/etc/app/app.conf")
    );
    assert_eq!(actions[0].status, tripline_store::actions::Status::Done);
    let gate = tripline(&["gate", "--store", &s(&store), "--format", "sarif"]);
    assert_eq!(gate.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&gate.stdout).contains("tripline/drift/files-changed"));

    let again = drift();
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
