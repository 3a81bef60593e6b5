//! Kubernetes drift on rendered manifests against an API-server dump with server noise:
//! quiet where only the server filled things in, loud where security changed, attributed
//! from the audit log.

use std::path::PathBuf;

use tripline_drift::compare::{Change, Finding, Severity};
use tripline_drift::k8s::{drift, load, load_audit, IgnoreRule};

fn fixture(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/k8s")
        .join(p)
}

fn get<'a>(f: &'a [Finding], item: &str) -> &'a Finding {
    f.iter()
        .find(|x| x.item == item)
        .unwrap_or_else(|| panic!("no finding for {item}: {f:#?}"))
}

#[test]
fn server_noise_is_quiet_and_security_drift_is_high() {
    let desired = load(&[fixture("manifests")], "default").unwrap();
    let live = load(&[fixture("live.json")], "default").unwrap();
    assert_eq!(desired.len(), 7);
    let f = drift(&desired, &live, &[], &[]);
    let items: Vec<&str> = f.iter().map(|x| x.item.as_str()).collect();
    // Quiet: Service (defaults, typed targetPort), ServiceAccount, RoleBinding; the
    // controller-owned ReplicaSet and the per-namespace kube-root-ca.crt / default account.
    assert_eq!(
        items,
        [
            "Deployment shop/web",
            "NetworkPolicy shop/web-ingress",
            "Role shop/web-reader",
            "RoleBinding shop/debug-admin",
            "ConfigMap shop/web-config"
        ],
        "{f:#?}"
    );

    let d = get(&f, "Deployment shop/web");
    assert_eq!((d.change, d.severity), (Change::Changed, Severity::High));
    let ev = d.evidence.join("\n");
    for want in [
        ".spec.replicas: declared 3, live 5",
        ".spec.template.spec.containers[].image: declared registry.example.com/shop/web:1.4.2, live registry.example.com/shop/web:1.4.2-debug",
        ".spec.template.spec.containers[].securityContext.privileged: declared (absent), live true",
        ".spec.template.spec.containers[].env[]: declared (absent), live {\"name\":\"DB_PASSWORD\"",
    ] {
        assert!(ev.contains(want), "missing {want:?} in:\n{ev}");
    }
    // Defaults the server added (imagePullPolicy, dnsPolicy, strategy...) are not drift.
    assert!(
        !ev.contains("imagePullPolicy") && !ev.contains("dnsPolicy"),
        "{ev}"
    );
    assert_eq!(d.evidence.len(), 4, "{ev}\n---");

    let np = get(&f, "NetworkPolicy shop/web-ingress");
    assert_eq!((np.change, np.severity), (Change::Missing, Severity::High));
    let role = get(&f, "Role shop/web-reader");
    assert_eq!(
        (role.change, role.severity),
        (Change::Changed, Severity::High)
    );
    assert!(role.evidence[0].contains("secrets"), "{role:?}");
    let rb = get(&f, "RoleBinding shop/debug-admin");
    assert_eq!((rb.change, rb.severity), (Change::Added, Severity::High));
    let cm = get(&f, "ConfigMap shop/web-config");
    assert_eq!(
        (cm.change, cm.severity),
        (Change::Changed, Severity::Medium)
    );
}

#[test]
fn ignore_differences_and_attribution() {
    let desired = load(&[fixture("manifests")], "default").unwrap();
    let live = load(&[fixture("live.json")], "default").unwrap();
    let ignore: Vec<IgnoreRule> =
        serde_yaml::from_str(&std::fs::read_to_string(fixture("ignore.yaml")).unwrap()).unwrap();
    let audit = load_audit(&[fixture("audit.jsonl")]).unwrap();
    // Reads and failed or partial requests are not changes.
    assert_eq!(audit.len(), 5);
    let f = drift(&desired, &live, &ignore, &audit);

    let d = get(&f, "Deployment shop/web");
    assert!(!d.evidence.iter().any(|e| e.contains("replicas")), "{d:#?}");
    let who = d.attribution.as_ref().unwrap();
    assert_eq!(
        (who.user.as_str(), who.verb.as_str(), who.source_ip.as_str()),
        ("alice@example.com", "patch", "203.0.113.10")
    );
    assert!(d
        .evidence
        .last()
        .unwrap()
        .starts_with("last change: patch by alice@example.com (kubectl/v1.30.2"));
    let np = get(&f, "NetworkPolicy shop/web-ingress");
    assert_eq!(np.attribution.as_ref().unwrap().verb, "delete");
    assert_eq!(np.attribution.as_ref().unwrap().user, "mallory@example.com");
    let rb = get(&f, "RoleBinding shop/debug-admin");
    assert_eq!(rb.attribution.as_ref().unwrap().verb, "create");
    let role = get(&f, "Role shop/web-reader");
    assert_eq!(
        role.attribution.as_ref().unwrap().user,
        "system:serviceaccount:ci:deployer"
    );
    // The 409 was retried; the success two seconds later is the change.
    let cm = get(&f, "ConfigMap shop/web-config");
    assert_eq!(
        cm.attribution.as_ref().unwrap().time,
        "2026-11-24T01:00:02.000000Z"
    );
}

#[test]
fn only_replicas_changed_is_low() {
    let desired = load(&[fixture("manifests")], "default").unwrap();
    let mut live = desired.clone();
    let key = live
        .keys()
        .find(|k| k.kind == "Deployment")
        .cloned()
        .unwrap();
    live.get_mut(&key).unwrap()["spec"]["replicas"] = 9.into();
    let f = drift(&desired, &live, &[], &[]);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(
        (f[0].change, f[0].severity),
        (Change::Changed, Severity::Low)
    );
}

#[test]
fn malformed_manifest_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata: [unclosed\n",
    )
    .unwrap();
    let e = load(&[dir.path()], "default").unwrap_err();
    assert!(e.file.ends_with("bad.yaml") && e.line >= 5, "{e}");
    std::fs::write(dir.path().join("bad.yaml"), "kind: ConfigMap\ndata: {}\n").unwrap();
    let e = load(&[dir.path()], "default").unwrap_err();
    assert!(
        e.message.contains("apiVersion, kind and metadata.name"),
        "{e}"
    );
}

#[test]
fn a_later_document_replaces_an_earlier_one_with_the_same_identity() {
    let dir = tempfile::tempdir().unwrap();
    let cm = |v: &str| {
        format!(
            r#"{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "c"}}, "data": {{"v": "{v}"}}}}"#
        )
    };
    let list = format!(r#"{{"kind": "List", "items": [{}, {}]}}"#, cm("1"), cm("2"));
    std::fs::write(dir.path().join("a.json"), list).unwrap();
    std::fs::write(dir.path().join("b.json"), cm("3")).unwrap();
    let v = |objects: &tripline_drift::k8s::Objects| {
        assert_eq!(objects.len(), 1);
        objects.values().next().unwrap()["data"]["v"].clone()
    };
    assert_eq!(
        v(&load(&[dir.path().join("a.json")], "default").unwrap()),
        "2"
    );
    assert_eq!(v(&load(&[dir.path()], "default").unwrap()), "3");
}

#[test]
fn managed_fields_managers_own_their_fields() {
    let desired = load(&[fixture("manifests")], "default").unwrap();
    let mut live = load(&[fixture("live.json")], "default").unwrap();
    let key = live
        .keys()
        .find(|k| k.kind == "Deployment" && k.name == "web")
        .unwrap()
        .clone();
    // The HPA (through kube-controller-manager, on the scale subresource) set replicas, and a
    // rollout controller owns the web container's image, as `managedFields` records them.
    let d = live.get_mut(&key).unwrap();
    d["spec"]["replicas"] = 7.into();
    d["metadata"]["managedFields"] = serde_json::json!([
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
         "time": "2026-11-24T02:00:00Z", "fieldsType": "FieldsV1", "subresource": "scale",
         "fieldsV1": {"f:spec": {"f:replicas": {}}}},
        {"manager": "rollouts-controller", "operation": "Update", "apiVersion": "apps/v1",
         "time": "2026-11-24T02:00:00Z", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
             "k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}}}}}}
    ]);
    let evidence = |ignore: &[IgnoreRule]| -> Vec<String> {
        let f = drift(&desired, &live, ignore, &[]);
        get(&f, "Deployment shop/web").evidence.clone()
    };
    let all = evidence(&[]);
    assert!(
        all.iter().any(|e| e.starts_with(".spec.replicas")),
        "{all:?}"
    );
    assert!(
        all.iter().any(|e| e.contains("containers[].image")),
        "{all:?}"
    );

    let rules: Vec<IgnoreRule> = serde_yaml::from_str(
        "- group: apps\n  kind: Deployment\n  managedFieldsManagers: [kube-controller-manager]\n",
    )
    .unwrap();
    let some = evidence(&rules);
    assert!(
        !some.iter().any(|e| e.starts_with(".spec.replicas")),
        "{some:?}"
    );
    assert!(
        some.iter().any(|e| e.contains("containers[].image")),
        "{some:?}"
    );
    // The privileged container is still drift: no manager owns it.
    assert!(some.iter().any(|e| e.contains("privileged")), "{some:?}");

    let rules: Vec<IgnoreRule> = serde_yaml::from_str(
        "- kind: Deployment\n  managedFieldsManagers: [kube-controller-manager, rollouts-controller]\n",
    )
    .unwrap();
    let fewer = evidence(&rules);
    assert!(
        !fewer.iter().any(|e| e.contains("containers[].image")),
        "{fewer:?}"
    );
    assert!(fewer.iter().any(|e| e.contains("privileged")), "{fewer:?}");
}
