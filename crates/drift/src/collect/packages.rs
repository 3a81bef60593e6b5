//! Installed packages: dpkg (`/var/lib/dpkg/status`), Python distributions (`*.dist-info` and
//! `*.egg-info` in site trees) and npm packages (`node_modules/*/package.json`).

use super::{Options, Snapshot};

pub(super) fn collect(opts: &Options, snap: &mut Snapshot) {
    let Ok(text) = std::fs::read_to_string(opts.path("/var/lib/dpkg/status")) else {
        return; // not a dpkg system (or a minimal image)
    };
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
        };
        let installed = field("Status").is_some_and(|s| s.ends_with(" installed"));
        if let (true, Some(name), Some(version)) = (installed, field("Package"), field("Version")) {
            let name = match field("Architecture") {
                Some(arch) if arch != "all" && snap.packages.contains_key(name) => {
                    format!("{name}:{arch}")
                }
                _ => name.to_string(),
            };
            snap.packages.insert(name, version.to_string());
        }
    }
}

/// Site trees where Python distributions live: the system's, `/usr/local`'s, and virtual
/// environments and applications under `/opt` and `/srv` (two levels deep).
const PYTHON_TREES: &[&str] = &[
    "/usr/lib/python3/dist-packages",
    "/usr/lib/python3*/site-packages",
    "/usr/local/lib/python3*/site-packages",
    "/usr/local/lib/python3*/dist-packages",
    "/opt/*/lib/python3*/site-packages",
    "/opt/*/*/lib/python3*/site-packages",
    "/srv/*/lib/python3*/site-packages",
];

/// `node_modules` directories: global ones and applications' under `/opt` and `/srv`.
const NPM_TREES: &[&str] = &[
    "/usr/lib/node_modules",
    "/usr/local/lib/node_modules",
    "/opt/*/node_modules",
    "/srv/*/node_modules",
];

/// Directories matching `pattern` (as seen inside the root), `*` matching one path component.
fn dirs(opts: &Options, pattern: &str) -> Vec<std::path::PathBuf> {
    let mut found = vec![opts.path("/")];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for dir in &found {
            if part.contains('*') {
                let Ok(m) = globset::Glob::new(part).map(|g| g.compile_matcher()) else {
                    continue;
                };
                let Ok(entries) = std::fs::read_dir(dir) else {
                    continue;
                };
                let mut names: Vec<_> = entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .filter(|e| m.is_match(e.file_name()))
                    .map(|e| e.path())
                    .collect();
                names.sort();
                next.extend(names);
            } else {
                let p = dir.join(part);
                if p.is_dir() {
                    next.push(p);
                }
            }
        }
        found = next;
    }
    found
}

/// pip's name normalisation (PEP 503): lower case, runs of `-`, `_`, `.` become `-`.
pub fn normalise_python_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Adds `name` → `version`; a name installed twice with other versions keeps both
/// (`1.0, 2.0`), since either may be imported.
fn add(map: &mut std::collections::BTreeMap<String, String>, name: String, version: String) {
    match map.get_mut(&name) {
        Some(v) if v.split(", ").any(|x| x == version) => {}
        Some(v) => {
            let mut all: Vec<&str> = v.split(", ").chain([version.as_str()]).collect();
            all.sort();
            *v = all.join(", ");
        }
        None => {
            map.insert(name, version);
        }
    }
}

pub(super) fn collect_python(opts: &Options, snap: &mut Snapshot) {
    for pattern in PYTHON_TREES {
        for tree in dirs(opts, pattern) {
            let Ok(entries) = std::fs::read_dir(&tree) else {
                continue;
            };
            for e in entries.flatten() {
                let file = e.file_name().to_string_lossy().into_owned();
                let meta = if file.ends_with(".dist-info") {
                    e.path().join("METADATA")
                } else if file.ends_with(".egg-info") {
                    // A directory with PKG-INFO, or a PKG-INFO file itself (distutils).
                    let p = e.path();
                    if p.is_dir() {
                        p.join("PKG-INFO")
                    } else {
                        p
                    }
                } else {
                    continue;
                };
                let Ok(text) = std::fs::read_to_string(&meta) else {
                    continue;
                };
                // Headers end at the first blank line; the description follows.
                let header = |k: &str| {
                    text.lines()
                        .take_while(|l| !l.is_empty())
                        .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
                };
                if let (Some(name), Some(version)) = (header("Name:"), header("Version:")) {
                    add(
                        &mut snap.python_packages,
                        normalise_python_name(&name),
                        version,
                    );
                }
            }
        }
    }
}

pub(super) fn collect_npm(opts: &Options, snap: &mut Snapshot) {
    for pattern in NPM_TREES {
        for tree in dirs(opts, pattern) {
            let Ok(entries) = std::fs::read_dir(&tree) else {
                continue;
            };
            let mut packages = Vec::new();
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('@') {
                    // A scope: its packages are one level down.
                    for s in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
                        packages.push(s.path());
                    }
                } else if !name.starts_with('.') {
                    packages.push(e.path());
                }
            }
            for dir in packages {
                let Ok(text) = std::fs::read_to_string(dir.join("package.json")) else {
                    continue;
                };
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                if let (Some(name), Some(version)) = (
                    v.get("name").and_then(|x| x.as_str()),
                    v.get("version").and_then(|x| x.as_str()),
                ) {
                    add(
                        &mut snap.npm_packages,
                        name.to_string(),
                        version.to_string(),
                    );
                }
            }
        }
    }
}
