//! Whether a container's program came with its image or was written later (`proc.is_exe_upper_layer`).
//!
//! Container runtimes mount the root filesystem as overlayfs: the image's layers below, and an
//! upper directory that receives every file created or changed in the container. A program
//! that exists in the upper directory was dropped or modified after the container started.
//! The upper directory is named in the root mount's options (`upperdir=...`) in
//! `/proc/PID/mountinfo`, read once per mount namespace.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Upper directories by mount namespace. Only overlays are remembered: a namespace whose
/// root is not (yet) an overlay, as before a runtime's `pivot_root` or under a `chroot`, is
/// asked again at its next exec.
#[derive(Debug, Default)]
pub struct UpperDirs {
    by_mnt_ns: HashMap<u32, PathBuf>,
}

/// Mount namespaces remembered; past this the cache starts over.
const MAX_NAMESPACES: usize = 4096;

impl UpperDirs {
    /// `Some(true)` when `exepath` (as process `pid` sees it) lies in its root overlay's upper
    /// directory, `Some(false)` when it comes from a lower layer, `None` when the root is not
    /// an overlay (or the process is gone before its mounts could be read). `host_root` is
    /// where the host's filesystem is mounted for this agent (`/` normally).
    pub fn is_upper(
        &mut self,
        pid: u32,
        mnt_ns: u32,
        exepath: &str,
        host_root: &Path,
    ) -> Option<bool> {
        if !self.by_mnt_ns.contains_key(&mnt_ns) {
            let found = root_upperdir(pid)??;
            if self.by_mnt_ns.len() >= MAX_NAMESPACES {
                self.by_mnt_ns.clear();
            }
            self.by_mnt_ns.insert(mnt_ns, found);
        }
        let upper = self.by_mnt_ns.get(&mnt_ns)?;
        let inside = host_root
            .join(upper.strip_prefix("/").unwrap_or(upper))
            .join(exepath.trim_start_matches('/'));
        Some(std::fs::symlink_metadata(inside).is_ok())
    }
}

/// The upper directory of the overlay mounted at the process's root: `Some(None)` when the
/// root is something else, `None` when the process's mounts cannot be read.
fn root_upperdir(pid: u32) -> Option<Option<PathBuf>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).ok()?;
    Some(upperdir_of_root(&text))
}

/// From mountinfo text: the last mount at `/` (the one visible), if it is an overlay.
pub fn upperdir_of_root(mountinfo: &str) -> Option<PathBuf> {
    let root = mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some("/"))?;
    let (_, after) = root.split_once(" - ")?;
    let mut f = after.split(' ');
    if f.next()? != "overlay" {
        return None;
    }
    let options = f.nth(1)?;
    options
        .split(',')
        .find_map(|o| o.strip_prefix("upperdir="))
        .map(|p| PathBuf::from(unescape(p)))
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v as char);
            i += 4;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_overlay_names_its_upper_directory() {
        let docker = "1077 1000 0:123 / / rw,relatime master:300 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/ABC:/var/lib/docker/overlay2/l/DEF,upperdir=/var/lib/docker/overlay2/9f2c/diff,workdir=/var/lib/docker/overlay2/9f2c/work,nouserxattr
1078 1077 0:125 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
";
        assert_eq!(
            upperdir_of_root(docker),
            Some(PathBuf::from("/var/lib/docker/overlay2/9f2c/diff"))
        );
        let host = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n";
        assert_eq!(upperdir_of_root(host), None);
        let spaced = "5 1 0:9 / / rw - overlay overlay rw,lowerdir=/l,upperdir=/data/my\\040dir/u,workdir=/w\n";
        assert_eq!(
            upperdir_of_root(spaced),
            Some(PathBuf::from("/data/my dir/u"))
        );
    }
}
