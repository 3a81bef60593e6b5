//! Container metadata (name, image, pod) read from the container runtimes' own state on disk.
//!
//! The kernel only tells us a container id (from the cgroup name). The runtimes keep what
//! Falco's container plugin asks their APIs for in files next to each container, so reading
//! them needs no socket, no API client and no network:
//!
//! | Runtime | File |
//! |---|---|
//! | docker | `/var/lib/docker/containers/<id>/config.v2.json` (+ `hostconfig.json`) |
//! | containerd (CRI, `ctr`, docker on containerd) | `/run/containerd/io.containerd.runtime.v2.task/<namespace>/<id>/config.json` (OCI spec, CRI annotations) |
//! | CRI-O | `/run/containers/storage/overlay-containers/<id>/userdata/config.json` (OCI spec, CRI-O annotations) |
//! | podman, CRI-O | `/var/lib/containers/storage/overlay-containers/containers.json` (containers/storage metadata) |

use std::path::{Path, PathBuf};

use serde_json::Value;

/// What a runtime says about one container.
///
/// ```
/// use tripline_syscall::runtime::ContainerInfo;
/// let info = ContainerInfo { image: Some("ghcr.io/acme/api:1.4@sha256:ab12".into()), ..ContainerInfo::default() };
/// assert_eq!(info.image_repository(), Some("ghcr.io/acme/api"));
/// assert_eq!(info.image_tag(), Some("1.4"));
/// assert_eq!(info.image_digest(), Some("sha256:ab12"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// `container.type`: docker, containerd, cri-o, podman.
    pub runtime: &'static str,
    /// `container.name`.
    pub name: Option<String>,
    /// `container.image`: the reference the container was started from.
    pub image: Option<String>,
    /// `container.image.id`.
    pub image_id: Option<String>,
    /// `container.privileged`, when the runtime records it.
    pub privileged: Option<bool>,
    /// `k8s.pod.name`.
    pub pod_name: Option<String>,
    /// `k8s.ns.name`.
    pub pod_namespace: Option<String>,
    /// `k8s.pod.uid`.
    pub pod_uid: Option<String>,
}

impl ContainerInfo {
    /// The image reference split as libsinsp splits it: `(repository, tag, digest)`.
    fn image_parts(&self) -> (Option<&str>, Option<&str>, Option<&str>) {
        let Some(image) = self.image.as_deref() else {
            return (None, None, None);
        };
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (image, None),
        };
        // A ':' after the last '/' starts the tag; one before it is a registry port.
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        match rest[slash..].rfind(':') {
            Some(i) => (
                Some(&rest[..slash + i]),
                Some(&rest[slash + i + 1..]),
                digest,
            ),
            None => (Some(rest), None, digest),
        }
    }

    /// `container.image.repository`.
    pub fn image_repository(&self) -> Option<&str> {
        self.image_parts().0.filter(|r| !r.is_empty())
    }

    /// `container.image.tag`.
    pub fn image_tag(&self) -> Option<&str> {
        self.image_parts().1
    }

    /// `container.image.digest`.
    pub fn image_digest(&self) -> Option<&str> {
        self.image_parts().2
    }
}

/// Where the runtimes keep their state: `/` on a live host, or a mounted host root.
#[derive(Debug, Clone)]
pub struct RuntimeDirs {
    root: PathBuf,
}

impl RuntimeDirs {
    /// The running machine's runtimes.
    pub fn host() -> RuntimeDirs {
        RuntimeDirs::under("/")
    }

    /// Runtimes whose state lives under `root` (a mounted host filesystem, a test tree).
    pub fn under(root: impl Into<PathBuf>) -> RuntimeDirs {
        RuntimeDirs { root: root.into() }
    }

    /// The host root the runtimes' state is read under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    /// Looks a container up by its full id in every runtime's state; `None` when no runtime
    /// knows it (it has exited, or its runtime keeps state elsewhere).
    pub fn lookup(&self, full_id: &str) -> Option<ContainerInfo> {
        if full_id.len() != 64 || !full_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.docker(full_id)
            .or_else(|| self.containerd(full_id))
            .or_else(|| self.crio_bundle(full_id))
            .or_else(|| self.containers_storage(full_id))
    }

    /// Every container the runtimes keep state for (running ones for docker, containerd and
    /// CRI-O; podman's storage also lists stopped ones), by full id, sorted.
    pub fn containers(&self) -> Vec<(String, ContainerInfo)> {
        let mut ids = std::collections::BTreeSet::new();
        let mut names = |dir: PathBuf| {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                ids.insert(e.file_name().to_string_lossy().into_owned());
            }
        };
        names(self.path("/var/lib/docker/containers"));
        for ns in std::fs::read_dir(self.path("/run/containerd/io.containerd.runtime.v2.task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            names(ns.path());
        }
        names(self.path("/run/containers/storage/overlay-containers"));
        for dir in [
            "/var/lib/containers/storage/overlay-containers",
            "/run/containers/storage/overlay-containers",
        ] {
            if let Some(list) = read_json(&self.path(dir).join("containers.json")) {
                for c in list.as_array().into_iter().flatten() {
                    if let Some(id) = c.get("id").and_then(Value::as_str) {
                        ids.insert(id.to_string());
                    }
                }
            }
        }
        ids.into_iter()
            .filter_map(|id| {
                let info = self.lookup(&id)?;
                let running = info.runtime != "docker" || self.docker_running(&id);
                running.then_some((id, info))
            })
            .collect()
    }

    fn docker_running(&self, id: &str) -> bool {
        read_json(
            &self
                .path("/var/lib/docker/containers")
                .join(id)
                .join("config.v2.json"),
        )
        .and_then(|c| c.pointer("/State/Running").and_then(Value::as_bool))
        .unwrap_or(false)
    }

    fn docker(&self, id: &str) -> Option<ContainerInfo> {
        let dir = self.path("/var/lib/docker/containers").join(id);
        let config = read_json(&dir.join("config.v2.json"))?;
        let host = read_json(&dir.join("hostconfig.json"));
        let labels = config.pointer("/Config/Labels");
        let label = |k: &str| {
            labels
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Some(ContainerInfo {
            runtime: "docker",
            name: str_at(&config, "/Name").map(|n| n.trim_start_matches('/').to_string()),
            image: str_at(&config, "/Config/Image").map(str::to_string),
            image_id: str_at(&config, "/Image").map(str::to_string),
            privileged: host
                .as_ref()
                .and_then(|h| h.get("Privileged"))
                .and_then(Value::as_bool),
            pod_name: label("io.kubernetes.pod.name"),
            pod_namespace: label("io.kubernetes.pod.namespace"),
            pod_uid: label("io.kubernetes.pod.uid"),
        })
    }

    fn containerd(&self, id: &str) -> Option<ContainerInfo> {
        let tasks = self.path("/run/containerd/io.containerd.runtime.v2.task");
        let spec = std::fs::read_dir(&tasks)
            .ok()?
            .flatten()
            .find_map(|ns| read_json(&ns.path().join(id).join("config.json")))?;
        let a = |k: &str| annotation(&spec, k);
        Some(ContainerInfo {
            runtime: "containerd",
            name: a("io.kubernetes.cri.container-name"),
            image: a("io.kubernetes.cri.image-name"),
            image_id: None,
            privileged: Some(privileged_spec(&spec)),
            pod_name: a("io.kubernetes.cri.sandbox-name"),
            pod_namespace: a("io.kubernetes.cri.sandbox-namespace"),
            pod_uid: a("io.kubernetes.cri.sandbox-uid"),
        })
    }

    fn crio_bundle(&self, id: &str) -> Option<ContainerInfo> {
        let spec = read_json(
            &self
                .path("/run/containers/storage/overlay-containers")
                .join(id)
                .join("userdata/config.json"),
        )?;
        let a = |k: &str| annotation(&spec, k);
        let image_name = a("io.kubernetes.cri-o.ImageName");
        let runtime = if a("io.kubernetes.cri-o.ContainerType").is_some() {
            "cri-o"
        } else {
            "podman"
        };
        Some(ContainerInfo {
            runtime,
            name: a("io.kubernetes.container.name")
                .or_else(|| a("io.kubernetes.cri-o.ContainerName")),
            image: image_name.or_else(|| a("io.kubernetes.cri-o.Image")),
            image_id: a("io.kubernetes.cri-o.ImageRef"),
            privileged: Some(privileged_spec(&spec)),
            pod_name: a("io.kubernetes.pod.name"),
            pod_namespace: a("io.kubernetes.pod.namespace"),
            pod_uid: a("io.kubernetes.pod.uid"),
        })
    }

    fn containers_storage(&self, id: &str) -> Option<ContainerInfo> {
        for dir in [
            "/var/lib/containers/storage/overlay-containers",
            "/run/containers/storage/overlay-containers",
        ] {
            let Some(list) = read_json(&self.path(dir).join("containers.json")) else {
                continue;
            };
            let Some(c) = list
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
            else {
                continue;
            };
            // `metadata` is itself JSON, as a string.
            let meta: Value = c
                .get("metadata")
                .and_then(Value::as_str)
                .and_then(|m| serde_json::from_str(m).ok())
                .unwrap_or(Value::Null);
            let m = |k: &str| str_at(&meta, k).map(str::to_string);
            return Some(ContainerInfo {
                runtime: if m("/pod-name").is_some() {
                    "cri-o"
                } else {
                    "podman"
                },
                name: m("/name").or_else(|| {
                    c.pointer("/names/0")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                }),
                image: m("/image-name"),
                image_id: m("/image-id").or_else(|| str_at(c, "/image").map(str::to_string)),
                privileged: None,
                pod_name: m("/pod-name"),
                pod_namespace: None,
                pod_uid: None,
            });
        }
        None
    }
}

/// State files are small; a larger one is not what we expect and is not read.
const MAX_STATE_FILE: u64 = 4 << 20;

fn read_json(path: &Path) -> Option<Value> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_STATE_FILE {
        return None;
    }
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn str_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn annotation(spec: &Value, key: &str) -> Option<String> {
    spec.get("annotations")?
        .get(key)?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// An OCI spec is privileged when its process holds CAP_SYS_ADMIN in the bounding set, as
/// `--privileged` grants every capability.
fn privileged_spec(spec: &Value) -> bool {
    spec.pointer("/process/capabilities/bounding")
        .and_then(Value::as_array)
        .is_some_and(|caps| caps.iter().any(|c| c.as_str() == Some("CAP_SYS_ADMIN")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(image: &str) -> ContainerInfo {
        ContainerInfo {
            image: Some(image.into()),
            ..ContainerInfo::default()
        }
    }

    #[test]
    fn image_references() {
        let i = info("nginx");
        assert_eq!(
            (i.image_repository(), i.image_tag(), i.image_digest()),
            (Some("nginx"), None, None)
        );
        let i = info("localhost:5000/team/app:2.0");
        assert_eq!(i.image_repository(), Some("localhost:5000/team/app"));
        assert_eq!(i.image_tag(), Some("2.0"));
        let i = info("localhost:5000/app@sha256:00ff");
        assert_eq!(i.image_repository(), Some("localhost:5000/app"));
        assert_eq!(i.image_tag(), None);
        assert_eq!(i.image_digest(), Some("sha256:00ff"));
        assert_eq!(ContainerInfo::default().image_repository(), None);
    }

    #[test]
    fn ids_that_are_not_container_ids_are_not_looked_up() {
        let dirs = RuntimeDirs::under("/nonexistent");
        assert_eq!(dirs.lookup("../../etc"), None);
        assert_eq!(dirs.lookup(&"a".repeat(64)), None);
    }
}
