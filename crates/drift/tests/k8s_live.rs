//! `--live-cluster`: the live objects come from an API server (a recording stand-in that serves
//! discovery documents and the same objects as `live.json`, as lists), and the drift must be
//! exactly what the `kubectl get -o json` dump gives.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};
use tripline_drift::k8s::{drift, load};
use tripline_drift::k8s_live::{fetch, Cluster};
use tripline_testkit::{ApiServer, Route};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/k8s")
}

/// An API server holding the objects of `live.json`: discovery plus one list per resource and
/// namespace.
fn cluster_of_the_dump() -> ApiServer {
    let d = fixtures().join("discovery");
    let mut routes = vec![
        Route::file("GET", "/api/v1", 200, d.join("api-v1.json")),
        Route::file("GET", "/apis/apps/v1", 200, d.join("apis-apps-v1.json")),
        Route::file(
            "GET",
            "/apis/rbac.authorization.k8s.io/v1",
            200,
            d.join("apis-rbac.authorization.k8s.io-v1.json"),
        ),
        Route::file(
            "GET",
            "/apis/networking.k8s.io/v1",
            200,
            d.join("apis-networking.k8s.io-v1.json"),
        ),
    ];
    let dump: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("live.json")).unwrap())
            .unwrap();
    let plural = |kind: &str| match kind {
        "NetworkPolicy" => "networkpolicies".to_string(),
        k => format!("{}s", k.to_lowercase()),
    };
    // path → (list kind, apiVersion, items without apiVersion/kind, as the server lists them)
    let mut lists: BTreeMap<String, (String, String, Vec<Value>)> = BTreeMap::new();
    for item in dump["items"].as_array().unwrap() {
        let api = item["apiVersion"].as_str().unwrap();
        let kind = item["kind"].as_str().unwrap();
        let ns = item["metadata"]["namespace"].as_str().unwrap();
        let prefix = if api == "v1" {
            "/api/v1".to_string()
        } else {
            format!("/apis/{api}")
        };
        let path = format!("{prefix}/namespaces/{ns}/{}", plural(kind));
        let mut bare = item.clone();
        bare.as_object_mut().unwrap().remove("apiVersion");
        bare.as_object_mut().unwrap().remove("kind");
        lists
            .entry(path)
            .or_insert_with(|| (format!("{kind}List"), api.to_string(), Vec::new()))
            .2
            .push(bare);
    }
    // Declared kinds with nothing live still list (empty).
    lists
        .entry("/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies".into())
        .or_insert((
            "NetworkPolicyList".into(),
            "networking.k8s.io/v1".into(),
            Vec::new(),
        ));
    for (path, (kind, api, items)) in lists {
        let body = json!({"kind": kind, "apiVersion": api, "metadata": {"resourceVersion": "52017"}, "items": items});
        routes.push(Route::json("GET", &path, 200, body.to_string()));
    }
    ApiServer::start(routes)
}

#[test]
fn the_live_cluster_gives_the_same_drift_as_its_dump() {
    let dir = tempfile::tempdir().unwrap();
    let server = cluster_of_the_dump();
    let cluster = Cluster {
        kubeconfig: Some(server.kubeconfig(dir.path(), "tl-reader-token")),
        context: None,
    };
    let desired = load(&[fixtures().join("manifests")], "default").unwrap();
    let from_api = fetch(&desired, &cluster).unwrap();
    let from_dump = load(&[fixtures().join("live.json")], "default").unwrap();
    // Only declared kinds are listed: the dump's controller-owned ReplicaSet is not fetched.
    let declared: std::collections::BTreeSet<&str> =
        desired.keys().map(|k| k.kind.as_str()).collect();
    assert_eq!(
        from_api.keys().collect::<Vec<_>>(),
        from_dump
            .keys()
            .filter(|k| declared.contains(k.kind.as_str()))
            .collect::<Vec<_>>()
    );
    let a = drift(&desired, &from_api, &[], &[]);
    assert!(!a.is_empty());
    assert_eq!(a, drift(&desired, &from_dump, &[], &[]));

    let reqs = server.requests();
    assert!(reqs
        .iter()
        .all(|r| r.method == "GET" && r.authorization == "Bearer tl-reader-token"));
    assert!(reqs
        .iter()
        .any(|r| r.path == "/apis/apps/v1/namespaces/shop/deployments"));
    assert!(reqs
        .iter()
        .any(|r| r.path == "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies"));
}

#[test]
fn a_kind_the_server_does_not_serve_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = ApiServer::start(vec![]);
    let cluster = Cluster {
        kubeconfig: Some(server.kubeconfig(dir.path(), "t")),
        context: None,
    };
    let desired = load(&[fixtures().join("manifests")], "default").unwrap();
    let e = fetch(&desired, &cluster).unwrap_err();
    assert!(e.starts_with("discover "), "{e}");
}
