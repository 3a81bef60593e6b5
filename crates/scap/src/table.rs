//! The event table: for each event type code, Falco's `evt.type` name and the parameter names.
//!
//! Codes come in pairs (even = enter, odd = exit). Several codes share a name because libscap
//! grew new layouts over time (`execve` has nine); readers keep accepting the old ones, so
//! captures from 2016 still replay. The parameter names follow the libscap event table, which
//! is also what `evt.arg.NAME` uses.

/// One past the highest event type code this table knows. Events with higher codes come from a
/// newer libscap and are skipped (counted) like libscap itself does.
pub const EVENT_MAX: u16 = 392;

/// Falco name of each enter/exit pair, indexed by `code / 2`.
const NAMES: [&str; (EVENT_MAX / 2) as usize] = [
    "syscall",
    "open",
    "close",
    "read",
    "write",
    "brk",
    "execve",
    "clone",
    "procexit",
    "socket",
    "bind",
    "connect",
    "listen",
    "accept",
    "send",
    "sendto",
    "recv",
    "recvfrom",
    "shutdown",
    "getsockname",
    "getpeername",
    "socketpair",
    "setsockopt",
    "getsockopt",
    "sendmsg",
    "sendmmsg",
    "recvmsg",
    "recvmmsg",
    "accept4",
    "creat",
    "pipe",
    "eventfd",
    "futex",
    "stat",
    "lstat",
    "fstat",
    "stat64",
    "lstat64",
    "fstat64",
    "epoll_wait",
    "poll",
    "select",
    "select",
    "lseek",
    "llseek",
    "ioctl",
    "getcwd",
    "chdir",
    "fchdir",
    "mkdir",
    "rmdir",
    "openat",
    "link",
    "linkat",
    "unlink",
    "unlinkat",
    "pread",
    "pwrite",
    "readv",
    "writev",
    "preadv",
    "pwritev",
    "dup",
    "signalfd",
    "kill",
    "tkill",
    "tgkill",
    "nanosleep",
    "timerfd_create",
    "inotify_init",
    "getrlimit",
    "setrlimit",
    "prlimit",
    "switch",
    "drop",
    "fcntl",
    "switch",
    "execve",
    "clone",
    "brk",
    "mmap",
    "mmap2",
    "munmap",
    "splice",
    "ptrace",
    "ioctl",
    "execve",
    "rename",
    "renameat",
    "symlink",
    "symlinkat",
    "fork",
    "vfork",
    "procexit",
    "sendfile",
    "quotactl",
    "setresuid",
    "setresgid",
    "scapevent",
    "setuid",
    "setgid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "execve",
    "clone",
    "fork",
    "vfork",
    "clone",
    "fork",
    "vfork",
    "container",
    "execve",
    "signaldeliver",
    "procinfo",
    "getdents",
    "getdents64",
    "setns",
    "flock",
    "cpu_hotplug",
    "accept",
    "accept4",
    "semop",
    "semctl",
    "ppoll",
    "mount",
    "umount",
    "k8s",
    "semget",
    "access",
    "chroot",
    "tracer",
    "mesos",
    "container",
    "setsid",
    "mkdir",
    "rmdir",
    "notification",
    "execve",
    "unshare",
    "infra",
    "execve",
    "page_fault",
    "execve",
    "setpgid",
    "bpf",
    "seccomp",
    "unlink",
    "unlinkat",
    "mkdirat",
    "openat",
    "link",
    "linkat",
    "fchmodat",
    "chmod",
    "fchmod",
    "renameat2",
    "userfaultfd",
    "pluginevent",
    "container",
    "openat2",
    "mprotect",
    "execveat",
    "copy_file_range",
    "clone3",
    "open_by_handle_at",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "mlock",
    "munlock",
    "mlockall",
    "munlockall",
    "capset",
    "useradded",
    "userdeleted",
    "groupadded",
    "groupdeleted",
    "dup2",
    "dup3",
    "dup",
    "bpf",
    "mlock2",
    "fsconfig",
    "epoll_create",
    "epoll_create1",
    "chown",
    "lchown",
    "fchown",
    "fchownat",
    "umount",
    "accept4",
    "umount2",
];

/// Well-known event codes used by readers and writers.
#[allow(missing_docs)]
pub mod code {
    pub const OPEN_E: u16 = 2;
    pub const OPEN_X: u16 = 3;
    pub const CLOSE_E: u16 = 4;
    pub const CLOSE_X: u16 = 5;
    pub const PROCEXIT_1_E: u16 = 186;
    pub const EXECVE_16_X: u16 = 231;
    pub const EXECVE_19_E: u16 = 292;
    pub const EXECVE_19_X: u16 = 293;
    pub const CLONE_20_E: u16 = 222;
    pub const CLONE_20_X: u16 = 223;
    pub const PROCINFO_E: u16 = 234;
    pub const OPENAT_2_E: u16 = 306;
    pub const OPENAT_2_X: u16 = 307;
}

/// Name and parameter names of one event type.
///
/// ```
/// let open_exit = tripline_scap::table::info(3);
/// assert_eq!(open_exit.name, "open");
/// assert_eq!(open_exit.params[1], "name");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct EventInfo {
    /// `evt.type`.
    pub name: &'static str,
    /// Parameter names in record order (empty when Tripline does not decode this type).
    pub params: &'static [&'static str],
}

/// Per-code facts readers need on every event, computed once.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    /// Name and parameters.
    pub info: EventInfo,
    /// [`is_simple_consumer_drop`] of the name.
    pub simple_drop: bool,
    /// For an exit code: its enter event has parameters the exit lacks (so a reader must keep
    /// the enter event until the exit arrives).
    pub needs_enter: bool,
    /// The syscall, when Tripline decodes it.
    pub kind: Option<tripline_syscall::Kind>,
    /// Position of each [`KEYS`] parameter (255 = absent).
    pub keys: [u8; KEYS.len()],
}

/// Parameters looked up on most events, found by index instead of by name.
pub const KEYS: [&str; 12] = [
    "fd", "res", "name", "flags", "mode", "dirfd", "path", "oldpath", "newpath", "tuple", "uid",
    "gid",
];

/// Index of `name` in [`KEYS`]; with a literal argument this folds to a constant.
#[inline(always)]
pub fn key(name: &str) -> Option<usize> {
    Some(match name {
        "fd" => 0,
        "res" => 1,
        "name" => 2,
        "flags" => 3,
        "mode" => 4,
        "dirfd" => 5,
        "path" => 6,
        "oldpath" => 7,
        "newpath" => 8,
        "tuple" => 9,
        "uid" => 10,
        "gid" => 11,
        _ => return None,
    })
}

/// Syscall names of generic events (`syscall` enter/exit, codes 0 and 1), indexed by their `ID`
/// parameter: libscap's system-independent syscall codes (`PPM_SC_*`, append-only), so Falco
/// names a generic event after its syscall (`evt.type=madvise`).
const GENERIC_NAMES: [&str; 321] = [
    "unknown",
    "restart_syscall",
    "exit",
    "read",
    "write",
    "open",
    "close",
    "creat",
    "link",
    "unlink",
    "chdir",
    "time",
    "mknod",
    "chmod",
    "stat",
    "lseek",
    "getpid",
    "mount",
    "ptrace",
    "alarm",
    "fstat",
    "pause",
    "utime",
    "access",
    "sync",
    "kill",
    "rename",
    "mkdir",
    "rmdir",
    "dup",
    "pipe",
    "times",
    "brk",
    "acct",
    "ioctl",
    "fcntl",
    "setpgid",
    "umask",
    "chroot",
    "ustat",
    "dup2",
    "getppid",
    "getpgrp",
    "setsid",
    "sethostname",
    "setrlimit",
    "getrusage",
    "gettimeofday",
    "settimeofday",
    "symlink",
    "lstat",
    "readlink",
    "uselib",
    "swapon",
    "reboot",
    "mmap",
    "munmap",
    "truncate",
    "ftruncate",
    "fchmod",
    "getpriority",
    "setpriority",
    "statfs",
    "fstatfs",
    "syslog",
    "setitimer",
    "getitimer",
    "uname",
    "vhangup",
    "wait4",
    "swapoff",
    "sysinfo",
    "fsync",
    "setdomainname",
    "adjtimex",
    "mprotect",
    "init_module",
    "delete_module",
    "quotactl",
    "getpgid",
    "fchdir",
    "sysfs",
    "personality",
    "getdents",
    "select",
    "flock",
    "msync",
    "readv",
    "writev",
    "getsid",
    "fdatasync",
    "mlock",
    "munlock",
    "mlockall",
    "munlockall",
    "sched_setparam",
    "sched_getparam",
    "sched_setscheduler",
    "sched_getscheduler",
    "sched_yield",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "nanosleep",
    "mremap",
    "poll",
    "prctl",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "rt_sigsuspend",
    "getcwd",
    "capget",
    "capset",
    "sendfile",
    "getrlimit",
    "lchown",
    "getuid",
    "getgid",
    "geteuid",
    "getegid",
    "setreuid",
    "setregid",
    "getgroups",
    "setgroups",
    "fchown",
    "setresuid",
    "getresuid",
    "setresgid",
    "getresgid",
    "chown",
    "setuid",
    "setgid",
    "setfsuid",
    "setfsgid",
    "pivot_root",
    "mincore",
    "madvise",
    "gettid",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "tkill",
    "futex",
    "sched_setaffinity",
    "sched_getaffinity",
    "set_thread_area",
    "get_thread_area",
    "io_setup",
    "io_destroy",
    "io_getevents",
    "io_submit",
    "io_cancel",
    "exit_group",
    "epoll_create",
    "epoll_ctl",
    "epoll_wait",
    "remap_file_pages",
    "set_tid_address",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_getoverrun",
    "timer_delete",
    "clock_settime",
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "tgkill",
    "utimes",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    "kexec_load",
    "waitid",
    "add_key",
    "request_key",
    "keyctl",
    "ioprio_set",
    "ioprio_get",
    "inotify_init",
    "inotify_add_watch",
    "inotify_rm_watch",
    "openat",
    "mkdirat",
    "mknodat",
    "fchownat",
    "futimesat",
    "unlinkat",
    "renameat",
    "linkat",
    "symlinkat",
    "readlinkat",
    "fchmodat",
    "faccessat",
    "pselect6",
    "ppoll",
    "unshare",
    "set_robust_list",
    "get_robust_list",
    "splice",
    "tee",
    "vmsplice",
    "getcpu",
    "epoll_pwait",
    "utimensat",
    "signalfd",
    "timerfd_create",
    "eventfd",
    "timerfd_settime",
    "timerfd_gettime",
    "signalfd4",
    "eventfd2",
    "epoll_create1",
    "dup3",
    "pipe2",
    "inotify_init1",
    "preadv",
    "pwritev",
    "rt_tgsigqueueinfo",
    "perf_event_open",
    "fanotify_init",
    "prlimit64",
    "clock_adjtime",
    "syncfs",
    "setns",
    "getdents64",
    "socket",
    "bind",
    "connect",
    "listen",
    "accept",
    "getsockname",
    "getpeername",
    "socketpair",
    "sendto",
    "recvfrom",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "sendmsg",
    "sendmmsg",
    "recvmsg",
    "recvmmsg",
    "accept4",
    "semop",
    "semget",
    "semctl",
    "msgsnd",
    "msgrcv",
    "msgget",
    "msgctl",
    "shmdt",
    "shmget",
    "shmctl",
    "statfs64",
    "fstatfs64",
    "fstatat64",
    "sendfile64",
    "ugetrlimit",
    "bdflush",
    "sigprocmask",
    "ipc",
    "socketcall",
    "stat64",
    "lstat64",
    "fstat64",
    "fcntl64",
    "mmap2",
    "_newselect",
    "sgetmask",
    "ssetmask",
    "sigpending",
    "olduname",
    "umount",
    "signal",
    "nice",
    "stime",
    "_llseek",
    "waitpid",
    "pread64",
    "pwrite64",
    "arch_prctl",
    "shmat",
    "sigreturn",
    "fallocate",
    "newfstatat",
    "process_vm_readv",
    "process_vm_writev",
    "fork",
    "vfork",
    "setuid32",
    "getuid32",
    "setgid32",
    "geteuid32",
    "getgid32",
    "setresuid32",
    "setresgid32",
    "getresuid32",
    "getresgid32",
    "finit_module",
    "bpf",
    "seccomp",
    "sigaltstack",
    "getrandom",
    "fadvise64",
    "renameat2",
];

/// The name of a generic event whose `ID` parameter is `id`; `None` for codes this table does
/// not know (a newer libscap), which keep the name `syscall`.
pub fn generic_name(id: i64) -> Option<&'static str> {
    // Code 0 is PPM_SC_UNKNOWN: nothing better than `syscall`.
    usize::try_from(id)
        .ok()
        .filter(|&i| i > 0)
        .and_then(|i| GENERIC_NAMES.get(i))
        .copied()
}

/// The [`Meta`] of `code`.
pub fn meta(code: u16) -> &'static Meta {
    static TABLE: std::sync::OnceLock<Vec<Meta>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..=EVENT_MAX)
            .map(|c| {
                let info = EventInfo {
                    name: NAMES.get(c as usize / 2).copied().unwrap_or("unknown"),
                    params: params(c),
                };
                let needs_enter =
                    c % 2 == 1 && params(c - 1).iter().any(|p| !info.params.contains(p));
                let mut keys = [u8::MAX; KEYS.len()];
                for (k, name) in KEYS.iter().enumerate() {
                    if let Some(i) = info.params.iter().position(|p| p == name) {
                        keys[k] = i as u8;
                    }
                }
                Meta {
                    info,
                    simple_drop: is_simple_consumer_drop(info.name),
                    needs_enter,
                    kind: tripline_syscall::Kind::from_name(info.name),
                    keys,
                }
            })
            .collect()
    });
    &table[(code.min(EVENT_MAX)) as usize]
}

/// The table entry of `code`; unknown codes are named `"unknown"`.
pub fn info(code: u16) -> EventInfo {
    meta(code).info
}

/// Whether Falco skips this event type unless asked for all events (`-A`): high-volume I/O,
/// memory and scheduler events that its rules do not use (libscap's `EF_DROP_SIMPLE_CONS`).
pub fn is_simple_consumer_drop(name: &str) -> bool {
    matches!(
        name,
        "close"
            | "read"
            | "write"
            | "send"
            | "recv"
            | "shutdown"
            | "getsockname"
            | "getpeername"
            | "getsockopt"
            | "sendmmsg"
            | "recvmmsg"
            | "eventfd"
            | "futex"
            | "stat"
            | "lstat"
            | "fstat"
            | "stat64"
            | "lstat64"
            | "fstat64"
            | "epoll_wait"
            | "poll"
            | "select"
            | "lseek"
            | "llseek"
            | "getcwd"
            | "pread"
            | "pwrite"
            | "readv"
            | "writev"
            | "preadv"
            | "pwritev"
            | "nanosleep"
            | "timerfd_create"
            | "getrlimit"
            | "setrlimit"
            | "switch"
            | "fcntl"
            | "brk"
            | "mmap"
            | "mmap2"
            | "munmap"
            | "splice"
            | "getdents"
            | "getdents64"
            | "ppoll"
            | "semop"
            | "semget"
            | "semctl"
            | "sendfile"
            | "getuid"
            | "geteuid"
            | "getgid"
            | "getegid"
            | "getresuid"
            | "getresgid"
            | "mprotect"
            | "page_fault"
            | "procinfo"
            | "flock"
            | "mlock"
            | "munlock"
            | "mlockall"
            | "munlockall"
            | "mlock2"
            | "copy_file_range"
            | "io_uring_enter"
    )
}

const EXEC_13: &[&str] = &[
    "res", "exe", "args", "tid", "pid", "ptid", "cwd", "fdlimit", "pgft_maj", "pgft_min",
    "vm_size", "vm_rss", "vm_swap",
];
const EXEC_19: &[&str] = &[
    "res",
    "exe",
    "args",
    "tid",
    "pid",
    "ptid",
    "cwd",
    "fdlimit",
    "pgft_maj",
    "pgft_min",
    "vm_size",
    "vm_rss",
    "vm_swap",
    "comm",
    "cgroups",
    "env",
    "tty",
    "vpgid",
    "loginuid",
    "flags",
    "cap_inheritable",
    "cap_permitted",
    "cap_effective",
    "exe_ino",
    "exe_ino_ctime",
    "exe_ino_mtime",
    "uid",
    "trusted_exepath",
    "pgid",
    "gid",
];
const CLONE_20: &[&str] = &[
    "res",
    "exe",
    "args",
    "tid",
    "pid",
    "ptid",
    "cwd",
    "fdlimit",
    "pgft_maj",
    "pgft_min",
    "vm_size",
    "vm_rss",
    "vm_swap",
    "comm",
    "cgroups",
    "flags",
    "uid",
    "gid",
    "vtid",
    "vpid",
    "pidns_init_start_ts",
];
const CLONE_17: &[&str] = &[
    "res", "exe", "args", "tid", "pid", "ptid", "cwd", "fdlimit", "pgft_maj", "pgft_min",
    "vm_size", "vm_rss", "vm_swap", "comm", "flags", "uid", "gid",
];
const CLONE_16: &[&str] = &[
    "res", "exe", "args", "tid", "pid", "ptid", "cwd", "fdlimit", "pgft_maj", "pgft_min",
    "vm_size", "vm_rss", "vm_swap", "flags", "uid", "gid",
];
const CLONE_11: &[&str] = &[
    "res", "exe", "args", "tid", "pid", "ptid", "cwd", "fdlimit", "flags", "uid", "gid",
];
const FD_RES: &[&str] = &["fd"];
const RES: &[&str] = &["res"];
const VM: &[&str] = &["res", "vm_size", "vm_rss", "vm_swap"];

/// Parameter names of the event types Tripline decodes.
fn params(code: u16) -> &'static [&'static str] {
    match code {
        0 => &["ID", "nativeID"],
        1 => &["ID"],
        2 => &["name", "flags", "mode"],
        3 => &["fd", "name", "flags", "mode", "dev", "ino"],
        4 | 70 | 76 | 96 => FD_RES,
        6 | 8 => &["fd", "size"],
        7 | 9 => &["res", "data"],
        5 | 25 | 37 | 71 | 77 | 83 | 85 | 97 | 99 | 101 | 109 | 111 | 125 | 129 | 133 | 193
        | 195 | 199 | 201 | 241 | 285 => RES,
        13 => &["res", "exe", "args", "tid", "pid", "ptid", "cwd", "fdlimit"],
        155 => EXEC_13,
        173 => &EXEC_19[..14],
        215 => &EXEC_19[..15],
        231 => &EXEC_19[..16],
        283 => &EXEC_19[..17],
        289 => &EXEC_19[..18],
        293 | 331 => EXEC_19,
        292 => &["filename"],
        330 => &["dirfd", "pathname", "flags"],
        15 | 183 | 185 => CLONE_11,
        157 => CLONE_16,
        217 | 219 | 221 => CLONE_17,
        223 | 225 | 227 | 335 => CLONE_20,
        14 | 156 | 216 | 222 | 334 => &[],
        16 => &[],
        186 => &["status", "ret", "sig", "core", "reaper_tid"],
        18 => &["domain", "type", "proto"],
        19 => &["fd"],
        20 => &["fd"],
        21 => &["res", "addr"],
        22 => &["fd", "addr"],
        23 => &["res", "tuple", "fd"],
        24 => &["fd", "backlog"],
        27 | 57 => &["fd", "tuple", "queuepct"],
        247 | 249 | 389 => &["fd", "tuple", "queuepct", "queuelen", "queuemax"],
        56 | 248 | 388 => &["flags"],
        30 => &["fd", "size", "tuple"],
        31 => &["res", "data"],
        34 => &["fd", "size"],
        35 => &["res", "data", "tuple"],
        58 => &["name", "mode"],
        59 => &["fd", "name", "mode", "dev", "ino"],
        61 => &["res", "fd1", "fd2", "ino"],
        93 | 95 => &["res", "path"],
        102 => &["dirfd", "name", "flags", "mode"],
        103 => &["fd"],
        306 => &["dirfd", "name", "flags", "mode"],
        307 => &["fd", "dirfd", "name", "flags", "mode", "dev", "ino"],
        326 => &["dirfd", "name", "flags", "mode", "resolve"],
        327 => &[
            "fd", "dirfd", "name", "flags", "mode", "resolve", "dev", "ino",
        ],
        108 => &["path"],
        110 => &["dirfd", "name"],
        300 | 302 | 276 | 278 => &[],
        301 | 277 | 279 => &["res", "path"],
        303 => &["res", "dirfd", "name", "flags"],
        305 => &["res", "dirfd", "path", "mode"],
        304 => &[],
        124 => FD_RES,
        367 => &["res", "oldfd"],
        363 => &["res", "oldfd", "newfd"],
        365 => &["res", "oldfd", "newfd", "flags"],
        128 => &["pid", "sig"],
        130 => &["tid", "sig"],
        132 => &["pid", "tid", "sig"],
        152 => &[
            "next", "pgft_maj", "pgft_min", "vm_size", "vm_rss", "vm_swap",
        ],
        158 => &["addr"],
        159 | 161 | 165 => VM,
        160 => &["addr", "length", "prot", "flags", "fd", "offset"],
        164 => &["addr", "length"],
        168 => &["request", "pid"],
        169 => &["res", "addr", "data"],
        175 => &["res", "oldpath", "newpath"],
        177 => &["res", "olddirfd", "oldpath", "newdirfd", "newpath"],
        319 => &["res", "olddirfd", "oldpath", "newdirfd", "newpath", "flags"],
        179 => &["res", "target", "linkpath"],
        181 => &["res", "target", "linkdirfd", "linkpath"],
        192 | 194 => &["ruid", "euid", "suid"],
        198 => &["uid"],
        200 => &["gid"],
        234 => &["cpu_usr", "cpu_sys"],
        232 => &["spid", "dpid", "sig"],
        240 => &["fd", "nstype"],
        256 => &["flags"],
        257 => &["res", "dev", "dir", "type"],
        259 | 387 | 391 => &["res", "name"],
        390 => &["flags"],
        264 => &["mode"],
        265 => &["res", "name"],
        272 | 324 => &["json"],
        284 => &["flags"],
        313 => &["res", "dirfd", "filename", "mode"],
        315 => &["res", "filename", "mode"],
        317 => &["res", "fd", "mode"],
        353 => &["res", "cap_inheritable", "cap_permitted", "cap_effective"],
        368 => &["cmd"],
        369 => &["fd"],
        379 | 381 => &["res", "path", "uid", "gid"],
        383 => &["res", "fd", "uid", "gid"],
        385 => &["res", "dirfd", "pathname", "uid", "gid", "flags"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_share_names_and_cover_the_table() {
        assert_eq!(info(0).name, "syscall");
        assert_eq!(info(231).name, "execve");
        assert_eq!(info(234).name, "procinfo");
        assert_eq!(info(264).name, "access");
        assert_eq!(info(272).name, "container");
        assert_eq!(info(391).name, "umount2");
        assert_eq!(info(392).name, "unknown");
        assert_eq!(info(2).name, info(3).name);
    }

    #[test]
    fn keys_agree_with_names() {
        for (k, name) in KEYS.iter().enumerate() {
            assert_eq!(key(name), Some(k));
        }
        assert_eq!(meta(3).keys[key("name").unwrap()], 1);
        assert_eq!(meta(3).keys[key("path").unwrap()], u8::MAX);
    }

    #[test]
    fn exits_that_need_their_enter_event() {
        assert!(meta(5).needs_enter, "close: the fd is on the enter side");
        assert!(meta(103).needs_enter, "old openat: only the fd on exit");
        assert!(!meta(307).needs_enter, "openat v2 repeats its arguments");
        assert!(!meta(3).needs_enter);
        assert!(meta(4).simple_drop && !meta(2).simple_drop);
    }
}
