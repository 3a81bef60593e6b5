//! Host collectors: the live state of a Linux machine (or of a mounted image with `--root`),
//! read from the files the system itself keeps: /etc, /proc, /sys, dpkg's status, unit
//! directories and crontabs.
//!
//! Each collector is one module and fills one part of a [`Snapshot`]. Unreadable sources are
//! recorded in [`Snapshot::errors`], never fatal: a snapshot of a minimal container image simply
//! has no packages.

mod accounts;
mod files;
mod network;
mod packages;
mod system;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use files::FileFacts;

/// What is on the machine, keyed so two snapshots (and a snapshot and a contract) diff well.
///
/// ```no_run
/// use tripline_drift::collect::{collect, Options};
/// let snap = collect(&Options { include: vec!["/etc/ssh/**".into()], ..Options::default() });
/// println!("{} users, {} files", snap.users.len(), snap.files.len());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The root read (`/` for the live machine).
    pub root: String,
    /// Files under the included globs, by absolute path (as seen inside the root).
    pub files: BTreeMap<String, FileFacts>,
    /// Accounts from /etc/passwd.
    pub users: BTreeMap<String, User>,
    /// Groups from /etc/group.
    pub groups: BTreeMap<String, Group>,
    /// dpkg packages that are installed, name → version.
    pub packages: BTreeMap<String, String>,
    /// Python distributions (pip-normalised name → version).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub python_packages: BTreeMap<String, String>,
    /// npm packages (name → version).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub npm_packages: BTreeMap<String, String>,
    /// Images of the containers the runtimes run: reference → digest or image id (empty
    /// when the runtime records neither).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
    /// Keys in `~/.ssh/authorized_keys` of every account.
    pub authorized_keys: BTreeSet<AuthorizedKey>,
    /// Lines of those files that are neither a key, a comment nor blank: sshd skips them, an
    /// auditor should still see them (`USER FILE:LINE`, the line's first 80 characters).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unparseable_keys: BTreeMap<String, String>,
    /// Rules of /etc/sudoers and /etc/sudoers.d/*.
    pub sudoers: BTreeSet<String>,
    /// Listening sockets (live machine only).
    pub listeners: BTreeSet<Listener>,
    /// Kernel parameters from /proc/sys (live) or /etc/sysctl.conf and /etc/sysctl.d (root).
    pub sysctls: BTreeMap<String, String>,
    /// Loaded kernel modules (live) or modules listed to load at boot (root).
    pub modules: BTreeSet<String>,
    /// Enabled systemd units (from the `*.wants` directories).
    pub units: BTreeSet<String>,
    /// Cron entries: `file: line`.
    pub cron: BTreeSet<String>,
    /// Effective sshd settings (keywords lower-cased; the first value wins, as in sshd).
    #[serde(default)]
    pub sshd: BTreeMap<String, String>,
    /// Programs executed while watching (`--watch`), by path.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub executables: BTreeSet<String>,
    /// Outbound connections attempted while watching: (address, port).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub egress: BTreeSet<(String, u16)>,
    /// Whether behaviour was observed (`executables` and `egress` are meaningful).
    #[serde(default)]
    pub watched: bool,
    /// Sources that could not be read, with the reason.
    pub errors: Vec<String>,
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
}

/// A group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Group id.
    pub gid: u32,
    /// Supplementary members.
    pub members: Vec<String>,
}

/// One authorized SSH key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AuthorizedKey {
    /// The account it lets in.
    pub user: String,
    /// OpenSSH fingerprint (`SHA256:...`).
    pub fingerprint: String,
    /// Key type (`ssh-ed25519`, ...).
    #[serde(rename = "type")]
    pub key_type: String,
    /// The comment after the key.
    pub comment: String,
}

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Listener {
    /// `tcp` or `udp`.
    pub protocol: String,
    /// Bound address (`0.0.0.0`, `::`, `127.0.0.1`).
    pub address: String,
    /// Port.
    pub port: u16,
    /// Name of the process holding it (empty when unknown).
    pub process: String,
}

/// What to collect.
#[derive(Debug, Clone)]
pub struct Options {
    /// Root directory (`/` = this machine, with its /proc).
    pub root: PathBuf,
    /// File globs to snapshot (absolute, as seen inside the root).
    pub include: Vec<String>,
    /// Files larger than this are recorded without a hash.
    pub max_hash_bytes: u64,
    /// Called with (files hashed, files to hash) as hashing progresses.
    pub progress: Option<fn(u64, u64)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            root: PathBuf::from("/"),
            include: Vec::new(),
            max_hash_bytes: 4 << 30,
            progress: None,
        }
    }
}

impl Options {
    /// Whether this reads the running machine (so /proc describes it).
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// A path inside the root.
    pub(crate) fn path(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }
}

/// Images of running containers, from the runtimes' state under the root.
fn images(opts: &Options, snap: &mut Snapshot) {
    let dirs = tripline_syscall::runtime::RuntimeDirs::under(&opts.root);
    for (_, c) in dirs.containers() {
        let Some(image) = c.image.clone() else {
            continue;
        };
        let digest = c
            .image_digest()
            .map(str::to_string)
            .or(c.image_id.clone())
            .unwrap_or_default();
        snap.images.insert(image, digest);
    }
}

/// Reads everything.
pub fn collect(opts: &Options) -> Snapshot {
    let mut snap = Snapshot {
        root: opts.root.display().to_string(),
        ..Snapshot::default()
    };
    accounts::collect(opts, &mut snap);
    packages::collect(opts, &mut snap);
    packages::collect_python(opts, &mut snap);
    packages::collect_npm(opts, &mut snap);
    system::collect(opts, &mut snap);
    network::collect(opts, &mut snap);
    files::collect(opts, &mut snap);
    images(opts, &mut snap);
    snap
}
