//! Files under the included globs: type, mode, owner, size, and a SHA-256 of regular files,
//! hashed in parallel on a bounded pool.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Options, Snapshot};

/// Facts about one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    /// `file`, `dir`, `symlink`, `socket`, `fifo`, `char`, `block`.
    pub kind: String,
    /// Permission bits with setuid/setgid/sticky, as octal text (`4755`).
    pub mode: String,
    /// The same bits as a number (for policies: `bits.and(f.perm, 2048)`).
    #[serde(default)]
    pub perm: u32,
    /// Owner name (or the uid as text when it has no name).
    pub owner: String,
    /// Group name (or the gid as text).
    pub group: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of a regular file's content, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Target of a symlink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl FileFacts {
    /// Whether the setuid or setgid bit is set on a regular file.
    pub fn is_setid(&self) -> bool {
        self.kind == "file" && u32::from_str_radix(&self.mode, 8).is_ok_and(|m| m & 0o6000 != 0)
    }
}

/// The directory a glob's matches live under: its leading part without wildcards.
pub(crate) fn glob_base(glob: &str) -> &str {
    let cut = glob.find(['*', '?', '[', '{']).unwrap_or(glob.len());
    match glob[..cut].rfind('/') {
        Some(i) if cut < glob.len() => &glob[..i.max(1)],
        _ => &glob[..cut],
    }
}

pub(super) fn collect(opts: &Options, snap: &mut Snapshot) {
    if opts.include.is_empty() {
        return;
    }
    let mut builder = globset::GlobSetBuilder::new();
    for g in &opts.include {
        match globset::GlobBuilder::new(g).literal_separator(true).build() {
            Ok(glob) => {
                builder.add(glob);
            }
            Err(e) => snap.errors.push(format!("--include {g}: {e}")),
        }
    }
    let Ok(set) = builder.build() else {
        return;
    };
    // Walk each glob's base directory once, without following symlinks.
    let mut bases: Vec<&str> = opts.include.iter().map(|g| glob_base(g)).collect();
    bases.sort();
    bases.dedup();
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for base in bases {
        walk(opts, base, &set, &mut found, &mut snap.errors);
    }
    found.sort();
    found.dedup();
    let total = found.len() as u64;
    let done = AtomicU64::new(0);
    let users = id_names(&opts.path("/etc/passwd"));
    let groups = id_names(&opts.path("/etc/group"));
    // rayon's pool has one thread per core: hashing is parallel and bounded.
    let facts: Vec<(String, Result<FileFacts, String>)> = found
        .par_iter()
        .map(|(shown, path)| {
            let f = facts_of(path, opts.max_hash_bytes, &users, &groups);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(p) = opts.progress {
                p(n, total);
            }
            (shown.clone(), f)
        })
        .collect();
    for (shown, f) in facts {
        match f {
            Ok(f) => {
                snap.files.insert(shown, f);
            }
            Err(e) => snap.errors.push(format!("{shown}: {e}")),
        }
    }
}

/// id → name from a passwd/group file; the first name of an id wins, as with getpwuid (a
/// second uid-0 account must not rename every root-owned file).
fn id_names(path: &Path) -> std::collections::HashMap<u32, String> {
    let mut out = std::collections::HashMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let mut f = line.split(':');
        if let (Some(name), Some(_), Some(id)) = (f.next(), f.next(), f.next()) {
            if let Ok(id) = id.parse() {
                out.entry(id).or_insert_with(|| name.to_string());
            }
        }
    }
    out
}

fn walk(
    opts: &Options,
    base: &str,
    set: &globset::GlobSet,
    out: &mut Vec<(String, PathBuf)>,
    errors: &mut Vec<String>,
) {
    let mut stack = vec![base.to_string()];
    while let Some(shown) = stack.pop() {
        let path = opts.path(&shown);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if set.is_match(&shown) {
            out.push((shown.clone(), path.clone()));
        }
        if !meta.is_dir() {
            continue;
        }
        // Kernel and device trees are not files to snapshot (and /proc never ends), unless a
        // glob names them directly.
        if shown != base && ["/proc", "/sys", "/dev", "/run"].contains(&shown.as_str()) {
            continue;
        }
        match std::fs::read_dir(&path) {
            Ok(dir) => {
                for e in dir.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let child = if shown.ends_with('/') {
                        format!("{shown}{name}")
                    } else {
                        format!("{shown}/{name}")
                    };
                    stack.push(child);
                }
            }
            Err(e) => errors.push(format!("{shown}: {e}")),
        }
    }
}

fn facts_of(
    path: &Path,
    max_hash: u64,
    users: &std::collections::HashMap<u32, String>,
    groups: &std::collections::HashMap<u32, String>,
) -> Result<FileFacts, String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    let t = meta.file_type();
    let kind = if t.is_symlink() {
        "symlink"
    } else if t.is_dir() {
        "dir"
    } else if t.is_file() {
        "file"
    } else if t.is_socket() {
        "socket"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_char_device() {
        "char"
    } else {
        "block"
    };
    let sha256 = if t.is_file() && meta.len() <= max_hash {
        let mut h = Sha256::new();
        let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
        std::io::copy(&mut f, &mut h).map_err(|e| e.to_string())?;
        Some(format!("{:x}", h.finalize()))
    } else {
        None
    };
    Ok(FileFacts {
        kind: kind.to_string(),
        mode: format!("{:04o}", meta.mode() & 0o7777),
        perm: meta.mode() & 0o7777,
        owner: users
            .get(&meta.uid())
            .cloned()
            .unwrap_or_else(|| meta.uid().to_string()),
        group: groups
            .get(&meta.gid())
            .cloned()
            .unwrap_or_else(|| meta.gid().to_string()),
        size: meta.len(),
        sha256,
        target: t
            .is_symlink()
            .then(|| std::fs::read_link(path).ok())
            .flatten()
            .map(|p| p.to_string_lossy().into_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::glob_base;

    #[test]
    fn glob_bases() {
        assert_eq!(glob_base("/etc/ssh/**"), "/etc/ssh");
        assert_eq!(glob_base("/usr/bin/*"), "/usr/bin");
        assert_eq!(glob_base("/etc/passwd"), "/etc/passwd");
        assert_eq!(glob_base("/*.conf"), "/");
        assert_eq!(glob_base("/models/**/*.gguf"), "/models");
    }
}
