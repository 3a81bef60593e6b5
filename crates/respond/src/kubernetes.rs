//! Kubernetes actions on the pod a finding names, through the API server with kube-rs and the
//! user's kubeconfig (or the in-cluster service account): delete the pod, label it, scale its
//! workload to zero, or cut it off the network with a deny-all NetworkPolicy.
//!
//! The pod comes from the evidence: `k8s.ns.name` and `k8s.pod.name` (live sensor, from the
//! container runtime), or `ka.target.namespace` and `ka.target.name` when an audit-log finding
//! is about a pod.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Map, Value};

/// The label that marks isolated pods, selected by the namespace's deny-all policy.
pub const ISOLATED_LABEL: &str = "tripline.dev/isolated";
/// The deny-all NetworkPolicy `network-isolate` creates once per namespace.
pub const ISOLATE_POLICY: &str = "tripline-isolate";
/// Field manager named in patches, so `kubectl` shows who changed the object.
const MANAGER: &str = "tripline";

/// A Kubernetes action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum K8sAction {
    /// Delete the pod (its controller, if any, replaces it).
    DeletePod,
    /// Add labels to the pod (for other tooling to act on).
    LabelPod,
    /// Scale the pod's Deployment, StatefulSet or ReplicaSet to zero replicas.
    ScaleToZero,
    /// Label the pod and make sure the namespace's deny-all policy selects it.
    NetworkIsolate,
}

pub use tripline_drift::k8s_live::Cluster;

/// The pod a finding is about, `(namespace, name)`.
///
/// ```
/// let mut f = serde_json::Map::new();
/// f.insert("k8s.ns.name".into(), "shop".into());
/// f.insert("k8s.pod.name".into(), "web-7d9f-x2x9q".into());
/// assert_eq!(tripline_respond::kubernetes::pod_of(&f), Some(("shop".into(), "web-7d9f-x2x9q".into())));
/// ```
pub fn pod_of(fields: &Map<String, Value>) -> Option<(String, String)> {
    let text = |k: &str| {
        fields
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && *s != "<NA>")
            .map(str::to_string)
    };
    if let (Some(ns), Some(name)) = (text("k8s.ns.name"), text("k8s.pod.name")) {
        return Some((ns, name));
    }
    if text("ka.target.resource").as_deref() == Some("pods") {
        return Some((text("ka.target.namespace")?, text("ka.target.name")?));
    }
    None
}

/// Runs `action` on the pod `ns/name`; the text says what changed.
pub fn run(
    action: K8sAction,
    cluster: &Cluster,
    ns: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async {
        let client = tripline_drift::k8s_live::client(cluster).await?;
        match action {
            K8sAction::DeletePod => delete_pod(client, ns, name).await,
            K8sAction::LabelPod => label_pod(client, ns, name, labels).await,
            K8sAction::ScaleToZero => scale_to_zero(client, ns, name).await,
            K8sAction::NetworkIsolate => isolate(client, ns, name).await,
        }
    })
}

fn api_err(what: &str, e: kube::Error) -> String {
    tripline_drift::k8s_live::api_error(what, e)
}

async fn delete_pod(client: Client, ns: &str, name: &str) -> Result<String, String> {
    let pods: Api<Pod> = Api::namespaced(client, ns);
    pods.delete(name, &DeleteParams::default())
        .await
        .map_err(|e| api_err(&format!("delete pod {ns}/{name}"), e))?;
    Ok(format!("deleted pod {ns}/{name}"))
}

async fn label_pod(
    client: Client,
    ns: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Result<String, String> {
    let pods: Api<Pod> = Api::namespaced(client, ns);
    let labels = if labels.is_empty() {
        BTreeMap::from([("tripline.dev/flagged".to_string(), "true".to_string())])
    } else {
        labels.clone()
    };
    pods.patch(
        name,
        &PatchParams {
            field_manager: Some(MANAGER.into()),
            ..PatchParams::default()
        },
        &Patch::Merge(json!({"metadata": {"labels": labels}})),
    )
    .await
    .map_err(|e| api_err(&format!("label pod {ns}/{name}"), e))?;
    let shown: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Ok(format!("labelled pod {ns}/{name} {}", shown.join(",")))
}

/// The controller of an object, `(kind, name)`, from its owner references.
fn controller(
    owners: Option<&Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>>,
) -> Option<(String, String)> {
    owners?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| (o.kind.clone(), o.name.clone()))
}

async fn scale_to_zero(client: Client, ns: &str, name: &str) -> Result<String, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod = pods
        .get(name)
        .await
        .map_err(|e| api_err(&format!("get pod {ns}/{name}"), e))?;
    let mut owner = controller(pod.metadata.owner_references.as_ref())
        .ok_or_else(|| format!("pod {ns}/{name} has no controller to scale; delete it instead"))?;
    if owner.0 == "ReplicaSet" {
        let rs: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
        let r = rs
            .get(&owner.1)
            .await
            .map_err(|e| api_err(&format!("get replicaset {ns}/{}", owner.1), e))?;
        if let Some(d) = controller(r.metadata.owner_references.as_ref()) {
            owner = d;
        }
    }
    let scale = json!({"spec": {"replicas": 0}});
    let pp = PatchParams {
        field_manager: Some(MANAGER.into()),
        ..PatchParams::default()
    };
    let result = match owner.0.as_str() {
        "Deployment" => {
            Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(client, ns)
                .patch_scale(&owner.1, &pp, &Patch::Merge(&scale))
                .await
        }
        "StatefulSet" => {
            Api::<k8s_openapi::api::apps::v1::StatefulSet>::namespaced(client, ns)
                .patch_scale(&owner.1, &pp, &Patch::Merge(&scale))
                .await
        }
        "ReplicaSet" => {
            Api::<ReplicaSet>::namespaced(client, ns)
                .patch_scale(&owner.1, &pp, &Patch::Merge(&scale))
                .await
        }
        kind => {
            return Err(format!(
                "pod {ns}/{name} belongs to {kind} {}, which has no replicas to scale; delete or isolate the pod",
                owner.1
            ))
        }
    };
    let scale = result.map_err(|e| api_err(&format!("scale {} {ns}/{}", owner.0, owner.1), e))?;
    let was = scale
        .status
        .as_ref()
        .map(|s| s.replicas.to_string())
        .unwrap_or_else(|| "?".into());
    Ok(format!(
        "scaled {} {ns}/{} to 0 replicas (had {was}), the controller of pod {name}",
        owner.0, owner.1
    ))
}

async fn isolate(client: Client, ns: &str, name: &str) -> Result<String, String> {
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), ns);
    let policy: NetworkPolicy = serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": ISOLATE_POLICY, "namespace": ns,
                     "labels": {"app.kubernetes.io/managed-by": MANAGER}},
        "spec": {
            "podSelector": {"matchLabels": {ISOLATED_LABEL: "true"}},
            "policyTypes": ["Ingress", "Egress"]
        }
    }))
    .map_err(|e| e.to_string())?;
    let created = match policies.create(&PostParams::default(), &policy).await {
        Ok(_) => true,
        Err(kube::Error::Api(s)) if s.code == 409 => false,
        Err(e) => {
            return Err(api_err(
                &format!("create networkpolicy {ns}/{ISOLATE_POLICY}"),
                e,
            ))
        }
    };
    let labels = BTreeMap::from([(ISOLATED_LABEL.to_string(), "true".to_string())]);
    label_pod(client, ns, name, &labels).await?;
    Ok(format!(
        "isolated pod {ns}/{name}: labelled {ISOLATED_LABEL}=true, selected by the deny-all NetworkPolicy {ns}/{ISOLATE_POLICY} ({}); other policies that allow this pod's traffic still apply",
        if created { "created" } else { "already there" }
    ))
}
