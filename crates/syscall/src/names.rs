//! Symbolic names for syscall arguments, rendered the way Falco renders them (`O_RDONLY|O_CLOEXEC`,
//! `PTRACE_ATTACH`, `AF_PACKET`, `ENOENT`, `CAP_SYS_ADMIN ...`), since rules match on that text.

/// Open flags (`evt.arg.flags` of open, openat, openat2, creat).
///
/// ```
/// assert_eq!(tripline_syscall::names::open_flags(0o1101), "O_WRONLY|O_CREAT|O_TRUNC");
/// assert_eq!(tripline_syscall::names::open_flags(0), "O_RDONLY");
/// ```
pub fn open_flags(flags: u64) -> String {
    const BITS: &[(u64, &str)] = &[
        (0o100, "O_CREAT"),
        (0o200, "O_EXCL"),
        (0o400, "O_NOCTTY"),
        (0o1000, "O_TRUNC"),
        (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"),
        (0o10000, "O_DSYNC"),
        (0o40000, "O_DIRECT"),
        (0o100000, "O_LARGEFILE"),
        (0o200000, "O_DIRECTORY"),
        (0o400000, "O_NOFOLLOW"),
        (0o1000000, "O_NOATIME"),
        (0o2000000, "O_CLOEXEC"),
        (0o10000000, "O_PATH"),
    ];
    let mut out = vec![match flags & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        _ => "O_RDWR",
    }];
    // O_TMPFILE includes O_DIRECTORY's bit; O_SYNC includes O_DSYNC's.
    let tmpfile = flags & 0o20200000 == 0o20200000;
    let sync = flags & 0o4010000 == 0o4010000;
    for &(bit, name) in BITS {
        if flags & bit != 0 && !(tmpfile && bit == 0o200000) && !(sync && bit == 0o10000) {
            out.push(name);
        }
    }
    if tmpfile {
        out.push("O_TMPFILE");
    }
    if sync {
        out.push("O_SYNC");
    }
    out.join("|")
}

/// Whether open flags allow reading.
pub fn open_reads(flags: u64) -> bool {
    flags & 3 != 1
}

/// Whether open flags allow writing.
pub fn open_writes(flags: u64) -> bool {
    flags & 3 != 0
}

/// `unshare`/`clone`/`setns` namespace flags.
pub fn clone_flags(flags: u64) -> String {
    const BITS: &[(u64, &str)] = &[
        (0x100, "CLONE_VM"),
        (0x200, "CLONE_FS"),
        (0x400, "CLONE_FILES"),
        (0x800, "CLONE_SIGHAND"),
        (0x2000, "CLONE_PTRACE"),
        (0x4000, "CLONE_VFORK"),
        (0x8000, "CLONE_PARENT"),
        (0x10000, "CLONE_THREAD"),
        (0x20000, "CLONE_NEWNS"),
        (0x40000, "CLONE_SYSVSEM"),
        (0x80000, "CLONE_SETTLS"),
        (0x02000000, "CLONE_NEWCGROUP"),
        (0x04000000, "CLONE_NEWUTS"),
        (0x08000000, "CLONE_NEWIPC"),
        (0x10000000, "CLONE_NEWUSER"),
        (0x20000000, "CLONE_NEWPID"),
        (0x40000000, "CLONE_NEWNET"),
        (0x80000000, "CLONE_IO"),
    ];
    let names: Vec<&str> = BITS
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

/// `ptrace` request names.
pub fn ptrace_request(req: u64) -> String {
    let name = match req {
        0 => "PTRACE_TRACEME",
        1 => "PTRACE_PEEKTEXT",
        2 => "PTRACE_PEEKDATA",
        3 => "PTRACE_PEEKUSR",
        4 => "PTRACE_POKETEXT",
        5 => "PTRACE_POKEDATA",
        6 => "PTRACE_POKEUSR",
        7 => "PTRACE_CONT",
        8 => "PTRACE_KILL",
        9 => "PTRACE_SINGLESTEP",
        12 => "PTRACE_GETREGS",
        13 => "PTRACE_SETREGS",
        14 => "PTRACE_GETFPREGS",
        15 => "PTRACE_SETFPREGS",
        16 => "PTRACE_ATTACH",
        17 => "PTRACE_DETACH",
        24 => "PTRACE_SYSCALL",
        0x4200 => "PTRACE_SETOPTIONS",
        0x4201 => "PTRACE_GETEVENTMSG",
        0x4202 => "PTRACE_GETSIGINFO",
        0x4203 => "PTRACE_SETSIGINFO",
        0x4204 => "PTRACE_GETREGSET",
        0x4205 => "PTRACE_SETREGSET",
        0x4206 => "PTRACE_SEIZE",
        0x4207 => "PTRACE_INTERRUPT",
        0x4208 => "PTRACE_LISTEN",
        _ => return req.to_string(),
    };
    name.into()
}

/// Socket address family names.
pub fn socket_family(domain: u64) -> String {
    let name = match domain {
        0 => "AF_UNSPEC",
        1 => "AF_UNIX",
        2 => "AF_INET",
        10 => "AF_INET6",
        16 => "AF_NETLINK",
        17 => "AF_PACKET",
        _ => return domain.to_string(),
    };
    name.into()
}

/// `bpf` command names.
pub fn bpf_cmd(cmd: u64) -> String {
    const NAMES: &[&str] = &[
        "BPF_MAP_CREATE",
        "BPF_MAP_LOOKUP_ELEM",
        "BPF_MAP_UPDATE_ELEM",
        "BPF_MAP_DELETE_ELEM",
        "BPF_MAP_GET_NEXT_KEY",
        "BPF_PROG_LOAD",
        "BPF_OBJ_PIN",
        "BPF_OBJ_GET",
        "BPF_PROG_ATTACH",
        "BPF_PROG_DETACH",
        "BPF_PROG_TEST_RUN",
        "BPF_PROG_GET_NEXT_ID",
        "BPF_MAP_GET_NEXT_ID",
        "BPF_PROG_GET_FD_BY_ID",
        "BPF_MAP_GET_FD_BY_ID",
        "BPF_OBJ_GET_INFO_BY_FD",
        "BPF_PROG_QUERY",
        "BPF_RAW_TRACEPOINT_OPEN",
        "BPF_BTF_LOAD",
    ];
    NAMES
        .get(cmd as usize)
        .map(|s| s.to_string())
        .unwrap_or_else(|| cmd.to_string())
}

/// Errno names for negative syscall results (`evt.res`); `SUCCESS` otherwise.
///
/// ```
/// assert_eq!(tripline_syscall::names::result(-2), "ENOENT");
/// assert_eq!(tripline_syscall::names::result(3), "SUCCESS");
/// ```
pub fn result(ret: i64) -> String {
    if ret >= 0 {
        return "SUCCESS".into();
    }
    const NAMES: &[&str] = &[
        "",
        "EPERM",
        "ENOENT",
        "ESRCH",
        "EINTR",
        "EIO",
        "ENXIO",
        "E2BIG",
        "ENOEXEC",
        "EBADF",
        "ECHILD",
        "EAGAIN",
        "ENOMEM",
        "EACCES",
        "EFAULT",
        "ENOTBLK",
        "EBUSY",
        "EEXIST",
        "EXDEV",
        "ENODEV",
        "ENOTDIR",
        "EISDIR",
        "EINVAL",
        "ENFILE",
        "EMFILE",
        "ENOTTY",
        "ETXTBSY",
        "EFBIG",
        "ENOSPC",
        "ESPIPE",
        "EROFS",
        "EMLINK",
        "EPIPE",
        "EDOM",
        "ERANGE",
        "EDEADLK",
        "ENAMETOOLONG",
        "ENOLCK",
        "ENOSYS",
        "ENOTEMPTY",
        "ELOOP",
    ];
    let errno = ret.unsigned_abs();
    if let Some(n) = NAMES.get(errno as usize).filter(|n| !n.is_empty()) {
        return n.to_string();
    }
    match errno {
        95 => "EOPNOTSUPP",
        97 => "EAFNOSUPPORT",
        98 => "EADDRINUSE",
        99 => "EADDRNOTAVAIL",
        101 => "ENETUNREACH",
        104 => "ECONNRESET",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        113 => "EHOSTUNREACH",
        114 => "EALREADY",
        115 => "EINPROGRESS",
        _ => return format!("E{errno}"),
    }
    .into()
}

/// Capability set as space-separated names (`thread.cap_*`).
pub fn capabilities(set: u64) -> String {
    const NAMES: &[&str] = &[
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| set & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_render_like_falco() {
        assert_eq!(open_flags(0o2000000), "O_RDONLY|O_CLOEXEC");
        assert_eq!(open_flags(0o2), "O_RDWR");
        assert_eq!(open_flags(0o20200002), "O_RDWR|O_TMPFILE");
        assert!(open_reads(2) && open_writes(2) && !open_writes(0) && !open_reads(1));
        assert_eq!(
            clone_flags(0x20000 | 0x40000000),
            "CLONE_NEWNS|CLONE_NEWNET"
        );
        assert_eq!(ptrace_request(16), "PTRACE_ATTACH");
        assert_eq!(socket_family(17), "AF_PACKET");
        assert_eq!(result(-115), "EINPROGRESS");
        assert_eq!(capabilities((1 << 21) | 1), "CAP_CHOWN CAP_SYS_ADMIN");
    }
}
