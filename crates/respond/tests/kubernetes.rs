//! Kubernetes actions against a stand-in API server that answers with recorded responses
//! (`tests/k8s-api/`) and records every request: the method, path, patch type and body each
//! action sends, the bearer token from the kubeconfig, and how API errors read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tripline_testkit::{ApiServer, Route};

use tripline_respond::kubernetes::{run, Cluster, K8sAction};

/// (method, path, status, recorded file).
type Routes = Vec<(&'static str, &'static str, u16, &'static str)>;

/// Serves `routes` from `tests/k8s-api/`; returns the kubeconfig to reach it and the server.
fn api_server(dir: &Path, routes: Routes) -> (PathBuf, ApiServer) {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/k8s-api");
    let server = ApiServer::start(
        routes
            .into_iter()
            .map(|(m, p, s, f)| Route::file(m, p, s, fixtures.join(f)))
            .collect(),
    );
    (server.kubeconfig(dir, "s3cret-test-token"), server)
}

fn cluster(kubeconfig: PathBuf) -> Cluster {
    Cluster {
        kubeconfig: Some(kubeconfig),
        context: None,
    }
}

const POD: &str = "/api/v1/namespaces/shop/pods/web-7d9f8b6c5-x2x9q";
const REPLICASET: &str = "/apis/apps/v1/namespaces/shop/replicasets/web-7d9f8b6c5";
const SCALE: &str = "/apis/apps/v1/namespaces/shop/deployments/web/scale";

#[test]
fn delete_pod() {
    let dir = tempfile::tempdir().unwrap();
    let (kc, log) = api_server(
        dir.path(),
        vec![("DELETE", POD, 200, "pod-web-deleting.json")],
    );
    let text = run(
        K8sAction::DeletePod,
        &cluster(kc),
        "shop",
        "web-7d9f8b6c5-x2x9q",
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(text, "deleted pod shop/web-7d9f8b6c5-x2x9q");
    let log = log.requests();
    assert_eq!(
        (log[0].method.as_str(), log[0].path.as_str()),
        ("DELETE", POD)
    );
    assert_eq!(log[0].authorization, "Bearer s3cret-test-token");
}

#[test]
fn label_pod_sends_a_merge_patch() {
    let dir = tempfile::tempdir().unwrap();
    let (kc, log) = api_server(
        dir.path(),
        vec![("PATCH", POD, 200, "pod-web-labelled.json")],
    );
    let labels = BTreeMap::from([("quarantine".to_string(), "true".to_string())]);
    let text = run(
        K8sAction::LabelPod,
        &cluster(kc),
        "shop",
        "web-7d9f8b6c5-x2x9q",
        &labels,
    )
    .unwrap();
    assert_eq!(
        text,
        "labelled pod shop/web-7d9f8b6c5-x2x9q quarantine=true"
    );
    let log = log.requests();
    assert_eq!(log[0].content_type, "application/merge-patch+json");
    let body: serde_json::Value = serde_json::from_str(&log[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"metadata": {"labels": {"quarantine": "true"}}})
    );
}

#[test]
fn scale_to_zero_follows_the_pod_to_its_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let (kc, log) = api_server(
        dir.path(),
        vec![
            ("GET", POD, 200, "pod-web.json"),
            ("GET", REPLICASET, 200, "replicaset-web.json"),
            ("PATCH", SCALE, 200, "scale-web.json"),
        ],
    );
    let text = run(
        K8sAction::ScaleToZero,
        &cluster(kc),
        "shop",
        "web-7d9f8b6c5-x2x9q",
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(
        text,
        "scaled Deployment shop/web to 0 replicas (had 3), the controller of pod web-7d9f8b6c5-x2x9q"
    );
    let log = log.requests();
    let calls: Vec<_> = log
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        calls,
        [
            format!("GET {POD}"),
            format!("GET {REPLICASET}"),
            format!("PATCH {SCALE}"),
        ]
    );
    let body: serde_json::Value = serde_json::from_str(&log[2].body).unwrap();
    assert_eq!(body, serde_json::json!({"spec": {"replicas": 0}}));
}

#[test]
fn network_isolate_creates_the_policy_once_and_labels_the_pod() {
    let dir = tempfile::tempdir().unwrap();
    let policies = "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies";
    let (kc, log) = api_server(
        dir.path(),
        vec![
            ("POST", policies, 201, "networkpolicy-created.json"),
            ("PATCH", POD, 200, "pod-web-labelled.json"),
        ],
    );
    let text = run(
        K8sAction::NetworkIsolate,
        &cluster(kc),
        "shop",
        "web-7d9f8b6c5-x2x9q",
        &BTreeMap::new(),
    )
    .unwrap();
    assert!(text.starts_with("isolated pod shop/web-7d9f8b6c5-x2x9q: labelled tripline.dev/isolated=true, selected by the deny-all NetworkPolicy shop/tripline-isolate (created)"), "{text}");
    let log = log.requests();
    let policy: serde_json::Value = serde_json::from_str(&log[0].body).unwrap();
    assert_eq!(
        policy["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"]["tripline.dev/isolated"],
        "true"
    );
    assert!(policy["spec"].get("ingress").is_none() && policy["spec"].get("egress").is_none());
    let patch: serde_json::Value = serde_json::from_str(&log[1].body).unwrap();
    assert_eq!(patch["metadata"]["labels"]["tripline.dev/isolated"], "true");

    // A second isolation in the namespace finds the policy there (409) and only labels.
    let dir2 = tempfile::tempdir().unwrap();
    let (kc, _) = api_server(
        dir2.path(),
        vec![
            ("POST", policies, 409, "status-409-networkpolicy.json"),
            ("PATCH", POD, 200, "pod-web-labelled.json"),
        ],
    );
    let text = run(
        K8sAction::NetworkIsolate,
        &cluster(kc),
        "shop",
        "web-7d9f8b6c5-x2x9q",
        &BTreeMap::new(),
    )
    .unwrap();
    assert!(text.contains("(already there)"), "{text}");
}

#[test]
fn api_errors_are_explained_and_never_show_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let (kc, _) = api_server(
        dir.path(),
        vec![
            ("GET", POD, 200, "pod-web.json"),
            ("GET", REPLICASET, 200, "replicaset-web.json"),
            ("PATCH", SCALE, 403, "status-403-scale.json"),
            (
                "DELETE",
                "/api/v1/namespaces/shop/pods/gone-5c4b3a2d1-zzzzz",
                404,
                "status-404-pod.json",
            ),
            (
                "GET",
                "/api/v1/namespaces/shop/pods/node-agent-8k2lp",
                200,
                "pod-agent.json",
            ),
        ],
    );
    let c = cluster(kc);
    let none = BTreeMap::new();
    let e = run(
        K8sAction::ScaleToZero,
        &c,
        "shop",
        "web-7d9f8b6c5-x2x9q",
        &none,
    )
    .unwrap_err();
    assert!(
        e.starts_with("scale Deployment shop/web: deployments.apps \"web\" is forbidden"),
        "{e}"
    );
    assert!(e.ends_with("(403)"), "{e}");
    assert!(!e.contains("s3cret"), "{e}");
    let e = run(
        K8sAction::DeletePod,
        &c,
        "shop",
        "gone-5c4b3a2d1-zzzzz",
        &none,
    )
    .unwrap_err();
    assert_eq!(
        e,
        "delete pod shop/gone-5c4b3a2d1-zzzzz: pods \"gone-5c4b3a2d1-zzzzz\" not found (404)"
    );
    let e = run(
        K8sAction::ScaleToZero,
        &c,
        "shop",
        "node-agent-8k2lp",
        &none,
    )
    .unwrap_err();
    assert!(
        e.contains("belongs to DaemonSet node-agent, which has no replicas to scale"),
        "{e}"
    );
    assert!(!e.contains("s3cret"));
    let e = run(
        K8sAction::DeletePod,
        &cluster(dir.path().join("missing-kubeconfig")),
        "shop",
        "web",
        &none,
    )
    .unwrap_err();
    assert!(e.contains("missing-kubeconfig"), "{e}");
}

/// The whole path: a live-sensor finding whose evidence names its pod, an automatic
/// `delete-pod` binding from YAML, the executor, and the audit record in the store.
#[test]
fn an_approved_action_from_the_store_deletes_the_findings_pod() {
    use tripline_event::Priority;
    use tripline_respond::actions::{ActionBinding, Executor};
    use tripline_store::{Ingest, NewFinding, Store};

    let dir = tempfile::tempdir().unwrap();
    let (kc, log) = api_server(
        dir.path(),
        vec![("DELETE", POD, 200, "pod-web-deleting.json")],
    );
    let binding: ActionBinding = serde_yaml::from_str(&format!(
        "rule: Terminal shell in container\naction: delete-pod\napproval: automatic\nkubeconfig: {}\n",
        kc.display()
    ))
    .unwrap();
    let url = dir.path().join("s.db").display().to_string();
    let mut store = Store::open(&url).unwrap();
    let mut f = NewFinding::new(
        "Terminal shell in container",
        Priority::Notice,
        "syscall",
        "A shell was spawned in a container with an attached terminal",
    );
    for (k, v) in [
        ("proc.name", "sh"),
        ("container.id", "a1b2c3d4e5f6"),
        ("k8s.ns.name", "shop"),
        ("k8s.pod.name", "web-7d9f8b6c5-x2x9q"),
    ] {
        f.fields.insert(k.into(), v.into());
    }
    assert!(binding.applies(&f));
    assert_eq!(binding.target(&f), "pod shop/web-7d9f8b6c5-x2x9q");
    let Ingest::New(id) = store.ingest(&f).unwrap() else {
        panic!("not stored")
    };
    store
        .request_action(
            id,
            binding.action.name(),
            &binding.target(&f),
            !binding.needs_approval(),
        )
        .unwrap();
    let done = Executor::new(Store::open(&url).unwrap(), vec![binding])
        .run_approved()
        .unwrap();
    assert_eq!(done.len(), 1);
    assert!(done[0].ok, "{done:?}");
    assert_eq!(done[0].text, "deleted pod shop/web-7d9f8b6c5-x2x9q");
    assert_eq!(log.requests()[0].method, "DELETE");
    let audit = store.actions(None, 10).unwrap();
    assert_eq!(audit[0].status, tripline_store::actions::Status::Done);
    assert_eq!(
        audit[0].result.as_deref(),
        Some("deleted pod shop/web-7d9f8b6c5-x2x9q")
    );
}
