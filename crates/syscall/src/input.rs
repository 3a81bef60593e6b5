//! What event producers (the live sensor, capture readers) hand to [`crate::State`].
//!
//! These types are independent of the kernel record layout and of the CPU architecture: the
//! producer maps its syscall numbers to a [`Kind`] and its raw strings to byte slices.

use crate::fd::SockTuple;

/// The syscalls Tripline decodes, named as Falco's `evt.type` names them.
///
/// ```
/// use tripline_syscall::Kind;
/// assert_eq!(Kind::Openat.name(), "openat");
/// assert_eq!(Kind::from_name("renameat2"), Some(Kind::Renameat2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Kind {
    Open,
    Openat,
    Openat2,
    Creat,
    Execve,
    Execveat,
    Clone,
    Clone3,
    Fork,
    Vfork,
    Rename,
    Renameat,
    Renameat2,
    Unlink,
    Unlinkat,
    Mkdir,
    Mkdirat,
    Rmdir,
    Chmod,
    Fchmod,
    Fchmodat,
    Chown,
    Lchown,
    Fchown,
    Fchownat,
    Symlink,
    Symlinkat,
    Link,
    Linkat,
    Connect,
    Accept,
    Accept4,
    Bind,
    Listen,
    Socket,
    Sendto,
    Recvfrom,
    Setuid,
    Setgid,
    Setresuid,
    Setresgid,
    Capset,
    Ptrace,
    Mount,
    Umount2,
    Unshare,
    Setns,
    MemfdCreate,
    Bpf,
    InitModule,
    FinitModule,
    Kill,
    Tkill,
    Tgkill,
    Prctl,
    Dup,
    Dup2,
    Dup3,
    Close,
    Chdir,
    Fchdir,
}

macro_rules! kind_names {
    ($($k:ident => $n:literal),* $(,)?) => {
        impl Kind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Kind] = &[$(Kind::$k),*];

            /// Falco's `evt.type` name.
            pub fn name(self) -> &'static str {
                match self { $(Kind::$k => $n),* }
            }

            /// The kind for an `evt.type` name.
            pub fn from_name(name: &str) -> Option<Kind> {
                match name { $($n => Some(Kind::$k),)* _ => None }
            }
        }
    };
}

kind_names! {
    Open => "open", Openat => "openat", Openat2 => "openat2", Creat => "creat",
    Execve => "execve", Execveat => "execveat", Clone => "clone", Clone3 => "clone3",
    Fork => "fork", Vfork => "vfork", Rename => "rename", Renameat => "renameat",
    Renameat2 => "renameat2", Unlink => "unlink", Unlinkat => "unlinkat", Mkdir => "mkdir",
    Mkdirat => "mkdirat", Rmdir => "rmdir", Chmod => "chmod", Fchmod => "fchmod",
    Fchmodat => "fchmodat", Chown => "chown", Lchown => "lchown", Fchown => "fchown",
    Fchownat => "fchownat", Symlink => "symlink", Symlinkat => "symlinkat", Link => "link",
    Linkat => "linkat", Connect => "connect", Accept => "accept", Accept4 => "accept4",
    Bind => "bind", Listen => "listen", Socket => "socket", Sendto => "sendto",
    Recvfrom => "recvfrom", Setuid => "setuid", Setgid => "setgid", Setresuid => "setresuid",
    Setresgid => "setresgid", Capset => "capset", Ptrace => "ptrace", Mount => "mount",
    Umount2 => "umount2", Unshare => "unshare", Setns => "setns",
    MemfdCreate => "memfd_create", Bpf => "bpf", InitModule => "init_module",
    FinitModule => "finit_module", Kill => "kill", Tkill => "tkill", Tgkill => "tgkill",
    Prctl => "prctl", Dup => "dup", Dup2 => "dup2", Dup3 => "dup3", Close => "close",
    Chdir => "chdir", Fchdir => "fchdir",
}

impl Kind {
    /// Syscalls reported whatever the rules say, because the process and fd tables need them
    /// (Falco calls these its base syscalls).
    pub const STATE: &'static [Kind] = &[
        Kind::Open,
        Kind::Openat,
        Kind::Openat2,
        Kind::Creat,
        Kind::Socket,
        Kind::Connect,
        Kind::Accept,
        Kind::Accept4,
        Kind::Bind,
        Kind::Dup,
        Kind::Dup2,
        Kind::Dup3,
        Kind::Close,
        Kind::Chdir,
        Kind::Fchdir,
        Kind::Setuid,
        Kind::Setgid,
        Kind::Setresuid,
        Kind::Setresgid,
    ];
}

/// A successful `execve`/`execveat`: the facts of the new program image.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct Exec {
    pub ts_ns: u64,
    pub tid: u32,
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    /// `u32::MAX` when unset.
    pub loginuid: u32,
    pub sid: u32,
    pub vpid: u32,
    pub vpgid: u32,
    pub tty: u32,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    pub start_ns: u64,
    pub exe_ino: u64,
    pub exe_nlink: u32,
    pub mnt_ns: u32,
    pub pid_ns: u32,
    pub net_ns: u32,
    /// The path the program was executed by (`bprm->filename`).
    pub filename: String,
    /// Argument vector, `argv[0]` first.
    pub argv: Vec<String>,
    /// Name of the task's cgroup (v2) directory, such as `docker-<id>.scope`.
    pub cgroup_leaf: String,
    /// Name of the executable's directory entry (`memfd:x` for memfd files).
    pub exe_dentry: String,
    pub comm: String,
    pub cgroup_id: u64,
    /// Working directory, when the producer knows it (captures); else read from `/proc`.
    pub cwd: Option<String>,
}

/// A new process (not a thread).
#[derive(Debug, Clone, Copy, Default)]
#[allow(missing_docs)]
pub struct Fork {
    pub ts_ns: u64,
    pub child_pid: u32,
    pub parent_pid: u32,
    pub start_ns: u64,
}

/// One syscall's exit: arguments, result and what the producer could read from user memory.
#[derive(Debug, Clone, Default)]
pub struct Syscall<'a> {
    /// Event time, ns since the Unix epoch.
    pub ts_ns: u64,
    /// Thread id.
    pub tid: u32,
    /// Process id (thread group id).
    pub pid: u32,
    /// cgroup v2 id of the thread.
    pub cgroup_id: u64,
    /// Which syscall; `None` for numbers Tripline does not decode.
    pub kind: Option<Kind>,
    /// Return value.
    pub ret: i64,
    /// Raw arguments.
    pub args: [u64; 6],
    /// Strings read from user memory, in the order the syscall's decoder defines.
    pub strings: [&'a [u8]; 3],
    /// Socket state read from the kernel, when the syscall involves a socket.
    pub sock: Option<SockTuple>,
    /// Raw `sockaddr` bytes passed by the caller (connect, bind, sendto).
    pub sockaddr: &'a [u8],
    /// Argument vector for failed execs (NUL-separated).
    pub argv: &'a [u8],
}
