//! The live side of Kubernetes drift read from the API server (kube-rs, the user's kubeconfig or
//! the in-cluster service account) instead of a `kubectl get -o json` dump.
//!
//! For every kind the desired manifests declare, the API server's discovery names its resource
//! and scope; then every object of that kind is listed in each namespace the manifests use (all
//! of them for cluster-scoped kinds), so undeclared objects of a managed kind are seen too, as
//! with a dump.

use std::collections::BTreeSet;
use std::path::PathBuf;

use kube::api::{Api, DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{pinned_kind, Scope};
use kube::{Client, Config};
use serde_json::Value;

use crate::k8s::{key_of, Objects};

/// Which cluster to talk to.
///
/// ```
/// let c = tripline_drift::k8s_live::Cluster::default();
/// assert!(c.kubeconfig.is_none()); // $KUBECONFIG, ~/.kube/config or in-cluster
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cluster {
    /// Kubeconfig file; `None` infers it as kubectl does.
    pub kubeconfig: Option<PathBuf>,
    /// Context in it; `None` for the current one.
    pub context: Option<String>,
}

/// A client for `cluster`.
pub async fn client(cluster: &Cluster) -> Result<Client, String> {
    let options = KubeConfigOptions {
        context: cluster.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &cluster.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None if cluster.context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| format!("kubeconfig: {e}"))?,
        None => Config::infer()
            .await
            .map_err(|e| format!("no cluster configured (kubeconfig or in-cluster): {e}"))?,
    };
    Client::try_from(config).map_err(|e| format!("kubernetes client: {e}"))
}

/// An API error as people read it: the server's message and code.
pub fn api_error(what: &str, e: kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{what}: {} ({})", s.message, s.code),
        e => format!("{what}: {e}"),
    }
}

/// Lists the live objects of every kind (and namespace) in `desired`.
pub fn fetch(desired: &Objects, cluster: &Cluster) -> Result<Objects, String> {
    // (apiVersion, kind) → namespaces the manifests put them in.
    let mut wanted: std::collections::BTreeMap<(String, String), BTreeSet<String>> =
        Default::default();
    for (key, v) in desired {
        let api = v
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("v1")
            .to_string();
        wanted
            .entry((api, key.kind.clone()))
            .or_default()
            .insert(key.namespace.clone());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async {
        let client = client(cluster).await?;
        let mut live = Objects::new();
        for ((api, kind), namespaces) in &wanted {
            let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
            let gvk = GroupVersionKind::gvk(group, version, kind);
            let (ar, caps) = pinned_kind(&client, &gvk)
                .await
                .map_err(|e| api_error(&format!("discover {kind} ({api})"), e))?;
            let apis: Vec<(String, Api<DynamicObject>)> = match caps.scope {
                Scope::Cluster => vec![(String::new(), Api::all_with(client.clone(), &ar))],
                Scope::Namespaced => namespaces
                    .iter()
                    .map(|ns| (ns.clone(), Api::namespaced_with(client.clone(), ns, &ar)))
                    .collect(),
            };
            for (ns, a) in apis {
                let list = a.list(&ListParams::default()).await.map_err(|e| {
                    let place = if ns.is_empty() {
                        String::new()
                    } else {
                        format!(" in {ns}")
                    };
                    api_error(&format!("list {}{place}", ar.plural), e)
                })?;
                for item in list.items {
                    let mut v = serde_json::to_value(&item).map_err(|e| e.to_string())?;
                    // List items carry no apiVersion and kind; the list's kind is theirs.
                    v["apiVersion"] = Value::String(api.clone());
                    v["kind"] = Value::String(kind.clone());
                    if let Some(k) = key_of(&v, &ns) {
                        live.insert(k, v);
                    }
                }
            }
        }
        Ok(live)
    })
}
