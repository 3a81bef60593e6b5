//! Restoring a drifted file from the contract's source: the pristine copy a `files` entry names
//! with `source:`, checked against the declared SHA-256 before anything is written.
//!
//! The live file is first copied aside (mode 0400, named by its own SHA-256, with a JSON record),
//! then the source is written to a temporary file in the same directory, given the declared mode
//! and owner, and renamed over the live path: readers see the old file or the new one, never a
//! half-written one, and a symlink planted at the path is replaced, not followed.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::contract::{Contract, FileRule};

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The restored path, on disk (under the root).
    pub path: PathBuf,
    /// Where the content came from.
    pub source: PathBuf,
    /// SHA-256 written.
    pub sha256: String,
    /// Where the drifted copy went, if there was one.
    pub backup: Option<PathBuf>,
}

/// Restores `item` (a path as the contract names it) under `root` from the contract's source,
/// keeping the drifted copy in `backup_dir`. Errors say why nothing was written.
///
/// ```no_run
/// use std::path::Path;
/// use tripline_drift::{restore::restore, Contract};
/// let c = Contract::load(Path::new("contract.yaml")).unwrap();
/// let r = restore(&c, Path::new("contract.yaml"), "/etc/ssh/sshd_config", Path::new("/"),
///                 Path::new("/var/lib/tripline/quarantine")).unwrap();
/// println!("restored {} (sha256 {})", r.path.display(), r.sha256);
/// ```
pub fn restore(
    contract: &Contract,
    contract_path: &Path,
    item: &str,
    root: &Path,
    backup_dir: &Path,
) -> Result<Restored, String> {
    let rule = contract
        .spec
        .files
        .iter()
        .flatten()
        .find(|r| r.path == item)
        .ok_or_else(|| {
            format!(
                "{}: no files entry for {item}; only a path declared exactly can be restored",
                contract_path.display()
            )
        })?;
    let source = source_path(rule, contract_path)?;
    let data = read_bounded(&source)?;
    let sha = hex(&Sha256::digest(&data));
    if let Some(want) = &rule.sha256 {
        if !want.eq_ignore_ascii_case(&sha) {
            return Err(format!(
                "{}: sha256 {sha}, but the contract declares {want} for {item}; not restored",
                source.display()
            ));
        }
    }
    let target = root.join(item.trim_start_matches('/'));
    let dir = target
        .parent()
        .ok_or_else(|| format!("{item}: not a file path"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let live = std::fs::symlink_metadata(&target).ok();
    let backup = match &live {
        Some(m) if m.is_file() => Some(
            keep(
                &target,
                backup_dir,
                Keep::Copy,
                "replaced by restore from the contract's source",
            )?
            .0,
        ),
        Some(m) if m.is_dir() => {
            return Err(format!(
                "{}: is a directory; not replaced",
                target.display()
            ))
        }
        _ => None,
    };
    let mode = match &rule.mode {
        Some(m) => {
            u32::from_str_radix(m, 8).map_err(|_| format!("{item}: mode '{m}' is not octal"))?
        }
        None => live
            .as_ref()
            .filter(|m| m.is_file())
            .map_or(0o644, |m| m.mode() & 0o7777),
    };
    let uid = match &rule.owner {
        Some(name) => Some(id_of(root, "etc/passwd", name)?),
        None => live.as_ref().map(|m| m.uid()),
    };
    let gid = match &rule.group {
        Some(name) => Some(id_of(root, "etc/group", name)?),
        None => live.as_ref().map(|m| m.gid()),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tripline-restore-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&data)?;
        f.sync_all()?;
        // Owner before mode: chown clears setuid bits the mode may set.
        std::os::unix::fs::fchown(&f, uid, gid)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        drop(f);
        std::fs::rename(&tmp, &target)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("{}: {e}", target.display()));
    }
    Ok(Restored {
        path: target,
        source,
        sha256: sha,
        backup,
    })
}

/// The entry's `source`, relative paths taken from the contract's directory.
fn source_path(rule: &FileRule, contract_path: &Path) -> Result<PathBuf, String> {
    let s = rule.source.as_deref().ok_or_else(|| {
        format!(
            "{}: the files entry for {} has no `source:`, so there is nothing to restore from",
            contract_path.display(),
            rule.path
        )
    })?;
    let p = Path::new(s);
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        contract_path.parent().unwrap_or(Path::new(".")).join(p)
    })
}

/// Sources are configuration files and model weights; refuse anything beyond 16 GiB.
const MAX_SOURCE: u64 = 16 << 30;

fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let m = std::fs::metadata(path).map_err(|e| format!("source {}: {e}", path.display()))?;
    if !m.is_file() || m.len() > MAX_SOURCE {
        return Err(format!(
            "source {}: not a regular file of at most 16 GiB",
            path.display()
        ));
    }
    std::fs::read(path).map_err(|e| format!("source {}: {e}", path.display()))
}

/// How [`keep`] puts a file into the quarantine directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Copy it; the original stays (a drifted file about to be replaced).
    Copy,
    /// Move it; the original is gone (a file that must not run or be read).
    Move,
}

/// Keeps `path` in `dir` (made 0700) as `SHA256-NAME`, mode 0400, with a JSON record
/// (`original`, `sha256`, `bytes`, `reason`) beside it; returns where it went and its SHA-256.
pub fn keep(path: &Path, dir: &Path, how: Keep, reason: &str) -> Result<(PathBuf, String), String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let sha = hex(&Sha256::digest(&data));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let dest = dir.join(format!("{sha}-{name}"));
    // A move within one filesystem is a rename: the file leaves its path at once.
    let moved = how == Keep::Move && std::fs::rename(path, &dest).is_ok();
    if !moved {
        std::fs::write(&dest, &data).map_err(|e| format!("{}: {e}", dest.display()))?;
        if how == Keep::Move {
            std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let _ = std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o400));
    let record = serde_json::json!({"original": path, "sha256": sha, "bytes": data.len(),
                                    "reason": reason});
    let mut rec = dest.clone().into_os_string();
    rec.push(".json");
    std::fs::write(&rec, record.to_string()).map_err(|e| e.to_string())?;
    Ok((dest, sha))
}

/// The numeric id of `name` in the root's passwd or group file.
fn id_of(root: &Path, file: &str, name: &str) -> Result<u32, String> {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next() == Some(name))
                .then(|| f.nth(1).and_then(|id| id.parse().ok()))
                .flatten()
        })
        .ok_or_else(|| format!("{}: no entry for '{name}'", path.display()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
