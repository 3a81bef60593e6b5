//! Container identity from cgroup names, the way runtimes name their cgroups.
//!
//! docker (`docker-<id>.scope`, `/docker/<id>`), containerd (`cri-containerd-<id>.scope`),
//! CRI-O (`crio-<id>.scope`), podman (`libpod-<id>.scope`) and plain `<id>` directories all end in
//! a 64-hex-digit container id. Falco reports the first 12 digits as `container.id`, the whole id
//! as `container.full_id`, and `host` for processes outside containers.

/// `container.id` for processes on the host.
pub const HOST: &str = "host";

/// The full 64-digit container id in a cgroup path or directory name, if any.
///
/// ```
/// use tripline_syscall::container::full_id;
/// let id = "1a2b3c4d5e6f1a2b3c4d5e6f1a2b3c4d5e6f1a2b3c4d5e6f1a2b3c4d5e6f1a2b";
/// assert_eq!(full_id(&format!("docker-{id}.scope")), Some(id));
/// assert_eq!(full_id(&format!("/kubepods/besteffort/pod1/cri-containerd-{id}.scope")), Some(id));
/// assert_eq!(full_id("user@0.service"), None);
/// ```
pub fn full_id(cgroup: &str) -> Option<&str> {
    // The innermost path component that carries an id wins (nested runtimes).
    cgroup.rsplit('/').find_map(id_in_component)
}

fn id_in_component(name: &str) -> Option<&str> {
    let name = name.strip_suffix(".scope").unwrap_or(name);
    let id = match name.rfind(['-', ':']) {
        Some(i) => &name[i + 1..],
        None => name,
    };
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// Falco's short `container.id` (12 digits) for a full id.
pub fn short_id(full: &str) -> &str {
    &full[..full.len().min(12)]
}

/// Reads the cgroup v2 path of a live process from `/proc/PID/cgroup`.
pub fn cgroup_of(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    // Prefer the v2 line (`0::/path`), else the first v1 line that carries a container id.
    let mut v1 = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (hier, _, path) = (parts.next()?, parts.next()?, parts.next()?);
        if hier == "0" && full_id(path).is_some() {
            return Some(path.to_string());
        }
        if v1.is_none() && full_id(path).is_some() {
            v1 = Some(path.to_string());
        }
    }
    v1
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn runtimes() {
        for name in [
            format!("docker-{ID}.scope"),
            format!("cri-containerd-{ID}.scope"),
            format!("crio-{ID}.scope"),
            format!("libpod-{ID}.scope"),
            format!("/docker/{ID}"),
            format!("/kubepods.slice/kubepods-pod1.slice/cri-containerd:{ID}"),
            ID.to_string(),
        ] {
            assert_eq!(full_id(&name), Some(ID), "{name}");
        }
        assert_eq!(short_id(ID), "0123456789ab");
    }

    #[test]
    fn not_containers() {
        for name in [
            "/",
            "system.slice",
            "session-3.scope",
            "docker-123.scope",
            "",
        ] {
            assert_eq!(full_id(name), None, "{name}");
        }
    }
}
