//! `tripline contract learn`: a contract that accepts exactly the snapshot, sorted.

use crate::collect::Snapshot;
use crate::contract::*;

/// Proposes a contract from a snapshot: every item becomes a `required` entry with its facts.
///
/// ```
/// let snap = tripline_drift::collect::Snapshot::default();
/// let c = tripline_drift::learn::learn(&snap, "web-1", &["/etc/**".into()]);
/// assert_eq!(c.spec.watch, ["/etc/**"]);
/// assert!(c.spec.users.unwrap().is_empty());
/// ```
pub fn learn(snap: &Snapshot, name: &str, watch: &[String]) -> Contract {
    let spec = Spec {
        watch: watch.to_vec(),
        files: (!watch.is_empty()).then(|| {
            snap.files
                .iter()
                .map(|(path, f)| FileRule {
                    path: path.clone(),
                    kind: Some(f.kind.clone()),
                    sha256: f.sha256.clone(),
                    mode: Some(f.mode.clone()),
                    owner: Some(f.owner.clone()),
                    group: Some(f.group.clone()),
                    target: f.target.clone(),
                    source: None,
                    state: State::Required,
                })
                .collect()
        }),
        users: Some(
            snap.users
                .iter()
                .map(|(n, u)| UserRule {
                    name: n.clone(),
                    uid: Some(u.uid),
                    shell: Some(u.shell.clone()),
                    state: State::Required,
                })
                .collect(),
        ),
        groups: Some(
            snap.groups
                .iter()
                .map(|(n, g)| GroupRule {
                    name: n.clone(),
                    gid: Some(g.gid),
                    members: Some(g.members.clone()),
                    state: State::Required,
                })
                .collect(),
        ),
        packages: Some(
            snap.packages
                .iter()
                .map(|(n, v)| PackageRule {
                    name: n.clone(),
                    version: Some(v.clone()),
                    state: State::Required,
                })
                .collect(),
        ),
        images: Some(
            snap.images
                .iter()
                .map(|(image, digest)| ImageRule {
                    image: image.clone(),
                    digest: (!digest.is_empty()).then(|| digest.clone()),
                    state: State::Required,
                })
                .collect(),
        ),
        python_packages: Some(package_rules(&snap.python_packages)),
        npm_packages: Some(package_rules(&snap.npm_packages)),
        authorized_keys: Some(
            snap.authorized_keys
                .iter()
                .map(|k| KeyRule {
                    user: k.user.clone(),
                    fingerprint: k.fingerprint.clone(),
                    comment: (!k.comment.is_empty()).then(|| k.comment.clone()),
                    state: State::Required,
                })
                .collect(),
        ),
        sudoers: Some(lines(snap.sudoers.iter())),
        listeners: Some(
            snap.listeners
                .iter()
                .map(|l| ListenerRule {
                    protocol: l.protocol.clone(),
                    port: l.port,
                    address: Some(l.address.clone()),
                    process: (!l.process.is_empty()).then(|| l.process.clone()),
                    state: State::Required,
                })
                .collect(),
        ),
        sysctls: Some(
            snap.sysctls
                .iter()
                .map(|(n, v)| SysctlRule {
                    name: n.clone(),
                    value: v.clone(),
                })
                .collect(),
        ),
        modules: Some(names(snap.modules.iter())),
        units: Some(names(snap.units.iter())),
        cron: Some(lines(snap.cron.iter())),
        // Observed behaviour is learned as `allowed`: seen once is not required forever.
        executables: snap.watched.then(|| {
            snap.executables
                .iter()
                .map(|p| PathRule {
                    path: p.clone(),
                    state: State::Allowed,
                })
                .collect()
        }),
        egress: snap.watched.then(|| {
            snap.egress
                .iter()
                .map(|(a, p)| EgressRule {
                    destination: a.clone(),
                    port: Some(*p),
                    state: State::Allowed,
                })
                .collect()
        }),
    };
    Contract {
        api_version: API_VERSION.into(),
        kind: KIND.into(),
        metadata: Metadata {
            name: name.to_string(),
            ..Metadata::default()
        },
        spec,
    }
}

fn lines<'a>(items: impl Iterator<Item = &'a String>) -> Vec<LineRule> {
    items
        .map(|l| LineRule {
            line: l.clone(),
            state: State::Required,
        })
        .collect()
}

fn names<'a>(items: impl Iterator<Item = &'a String>) -> Vec<NameRule> {
    items
        .map(|n| NameRule {
            name: n.clone(),
            state: State::Required,
        })
        .collect()
}

/// Copies each learned regular file with a hash into `dir` as `<sha256>` (content-addressed, so
/// a file learned twice is kept once) and points its entry's `source:` there, so the `restore`
/// action can put it back. Returns how many files were copied.
pub fn keep_sources(
    c: &mut Contract,
    root: &std::path::Path,
    dir: &std::path::Path,
) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let dir = std::fs::canonicalize(dir)?;
    let mut copied = 0;
    for f in c.spec.files.iter_mut().flatten() {
        let (Some(sha), Some("file")) = (&f.sha256, f.kind.as_deref()) else {
            continue;
        };
        let dest = dir.join(sha);
        if !dest.exists() {
            std::fs::copy(root.join(f.path.trim_start_matches('/')), &dest)?;
            copied += 1;
        }
        f.source = Some(dest.display().to_string());
    }
    Ok(copied)
}

fn package_rules(m: &std::collections::BTreeMap<String, String>) -> Vec<PackageRule> {
    m.iter()
        .map(|(n, v)| PackageRule {
            name: n.clone(),
            version: Some(v.clone()),
            state: State::Required,
        })
        .collect()
}
