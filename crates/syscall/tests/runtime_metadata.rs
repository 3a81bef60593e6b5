//! Container name, image and pod fields from runtime state files (`tests/runtimes/`, laid out
//! as on a host), through the same state and field names rules use.

use std::path::PathBuf;

use tripline_event::{Event, FieldArg};
use tripline_syscall::runtime::RuntimeDirs;
use tripline_syscall::{Exec, State};

const DOCKER: &str = "3f4e1b2a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
const CONTAINERD: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const CRIO: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const PODMAN: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

const FIELDS: [&str; 11] = [
    "container.id",
    "container.name",
    "container.type",
    "container.image",
    "container.image.repository",
    "container.image.tag",
    "container.image.digest",
    "container.privileged",
    "k8s.pod.name",
    "k8s.ns.name",
    "k8s.pod.uid",
];

fn state() -> State {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/runtimes");
    State::new(0).with_runtime_dirs(RuntimeDirs::under(root))
}

/// The fields of an exec by pid 4000 in cgroup `leaf`, as `name=value` (`<NA>` when empty).
fn fields_of_exec(state: &mut State, leaf: &str) -> Vec<String> {
    let schema = tripline_sources::syscall::schema();
    let exec = Exec {
        pid: 4000,
        tid: 4000,
        ppid: 1,
        filename: "/bin/sh".into(),
        argv: vec!["sh".into()],
        comm: "sh".into(),
        cgroup_leaf: leaf.into(),
        cgroup_id: 77,
        cwd: Some("/".into()),
        ..Exec::default()
    };
    state.exec(&exec, |ev| {
        FIELDS
            .iter()
            .map(|f| {
                let r = schema.fields.bind(f, FieldArg::None).unwrap();
                let v = ev
                    .extract(&r)
                    .map_or("<NA>".to_string(), |v| v.to_text().into_owned());
                format!("{f}={v}")
            })
            .collect()
    })
}

#[test]
fn docker_container() {
    let got = fields_of_exec(&mut state(), &format!("docker-{DOCKER}.scope"));
    assert_eq!(
        got,
        [
            "container.id=3f4e1b2a9c8d",
            "container.name=web",
            "container.type=docker",
            "container.image=nginx:1.25.3",
            "container.image.repository=nginx",
            "container.image.tag=1.25.3",
            "container.image.digest=<NA>",
            "container.privileged=true",
            "k8s.pod.name=<NA>",
            "k8s.ns.name=<NA>",
            "k8s.pod.uid=<NA>",
        ]
    );
}

#[test]
fn containerd_cri_container() {
    let got = fields_of_exec(
        &mut state(),
        &format!("kubepods-burstable-pod5b0c7c1e.slice:cri-containerd:{CONTAINERD}"),
    );
    assert_eq!(
        got,
        [
            "container.id=a1b2c3d4e5f6",
            "container.name=manager",
            "container.type=containerd",
            "container.image=ghcr.io/acme/controller:v0.14.2",
            "container.image.repository=ghcr.io/acme/controller",
            "container.image.tag=v0.14.2",
            "container.image.digest=<NA>",
            "container.privileged=false",
            "k8s.pod.name=controller-7d9f8b6c5-x2x9q",
            "k8s.ns.name=acme-system",
            "k8s.pod.uid=5b0c7c1e-8a5f-4f5b-9a43-0e9d3c2b1a77",
        ]
    );
}

#[test]
fn crio_container() {
    let got = fields_of_exec(&mut state(), &format!("crio-{CRIO}.scope"));
    assert_eq!(
        got,
        [
            "container.id=0f1e2d3c4b5a",
            "container.name=prometheus",
            "container.type=cri-o",
            "container.image=quay.io/prometheus/prometheus:v2.48.0",
            "container.image.repository=quay.io/prometheus/prometheus",
            "container.image.tag=v2.48.0",
            "container.image.digest=<NA>",
            "container.privileged=true",
            "k8s.pod.name=prometheus-0",
            "k8s.ns.name=monitoring",
            "k8s.pod.uid=0c2f8a3e-1b4d-4e5f-8a9b-7c6d5e4f3a2b",
        ]
    );
}

#[test]
fn podman_container_from_containers_storage() {
    let got = fields_of_exec(&mut state(), &format!("libpod-{PODMAN}.scope"));
    assert_eq!(
        got[1..5],
        [
            "container.name=db",
            "container.type=podman",
            "container.image=docker.io/library/postgres:16",
            "container.image.repository=docker.io/library/postgres",
        ]
    );
}

#[test]
fn unknown_containers_and_the_host() {
    let mut s = state();
    let unknown = "9".repeat(64);
    let got = fields_of_exec(&mut s, &format!("docker-{unknown}.scope"));
    assert_eq!(got[0], "container.id=999999999999");
    assert!(got[1..].iter().all(|f| f.ends_with("=<NA>")), "{got:?}");
    let got = fields_of_exec(&mut state(), "session-3.scope");
    assert_eq!(
        got[..3],
        [
            "container.id=host",
            "container.name=host",
            "container.type=host"
        ]
    );
    assert_eq!(got[3], "container.image=<NA>");
}

#[test]
fn captures_never_read_this_machines_runtimes() {
    let mut s = State::for_capture();
    let got = fields_of_exec(&mut s, &format!("docker-{DOCKER}.scope"));
    assert_eq!(got[1], "container.name=<NA>");
}

#[test]
fn every_container_the_runtimes_know() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/runtimes");
    let all = RuntimeDirs::under(root).containers();
    let got: Vec<String> = all
        .iter()
        .map(|(id, c)| {
            format!(
                "{} {} {}",
                &id[..12],
                c.runtime,
                c.image.as_deref().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "0f1e2d3c4b5a cri-o quay.io/prometheus/prometheus:v2.48.0",
            "3f4e1b2a9c8d docker nginx:1.25.3",
            "5e5e5e5e5e5e podman docker.io/library/postgres:16",
            "a1b2c3d4e5f6 containerd ghcr.io/acme/controller:v0.14.2",
        ]
    );
}
