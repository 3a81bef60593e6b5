//! The x86_64 syscall numbers the sensor decodes, and which kernel decoder handles each.

use tripline_syscall::Kind;

/// How a syscall's arguments are read in the kernel: one `tl_x_*` program per shape (see
/// `bpf/sensor.bpf.c`), installed in the tail-call table at the syscall's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Raw arguments only.
    Args,
    /// Path at argument 0.
    Path0,
    /// Path at argument 1.
    Path1,
    /// Paths at arguments 0 and 1.
    Path0And1,
    /// Paths at arguments 1 and 3.
    Path1And3,
    /// Paths at arguments 0 and 2.
    Path0And2,
    /// mount: source, target, fstype.
    Mount,
    /// Socket of fd arg 0 and the sockaddr at arg 1.
    SockAddr1,
    /// Socket of fd arg 0 and the sockaddr at arg 4, reported for non-TCP sockets only
    /// (sendto).
    SockAddr4,
    /// Socket of fd arg 0.
    SockFd0,
    /// Socket of fd arg 0, reported for non-TCP sockets only (recvfrom).
    SockUdp,
    /// Socket of the returned fd.
    SockRet,
    /// Failed execve: path and argv.
    ExecFail0,
    /// Failed execveat: path and argv.
    ExecFail1,
    /// openat2: path and `open_how.flags`.
    Openat2,
}

impl Shape {
    /// Name of the kernel program for this shape.
    pub fn program(self) -> &'static str {
        match self {
            Shape::Args => "tl_x_args",
            Shape::Path0 => "tl_x_path0",
            Shape::Path1 => "tl_x_path1",
            Shape::Path0And1 => "tl_x_path0_1",
            Shape::Path1And3 => "tl_x_path1_3",
            Shape::Path0And2 => "tl_x_path0_2",
            Shape::Mount => "tl_x_mount",
            Shape::SockAddr1 => "tl_x_sock_a1",
            Shape::SockAddr4 => "tl_x_sock_a4",
            Shape::SockFd0 => "tl_x_sock_fd0",
            Shape::SockUdp => "tl_x_sock_udp",
            Shape::SockRet => "tl_x_sock_ret",
            Shape::ExecFail0 => "tl_x_exec0",
            Shape::ExecFail1 => "tl_x_exec1",
            Shape::Openat2 => "tl_x_openat2",
        }
    }

    /// Every shape.
    pub const ALL: &'static [Shape] = &[
        Shape::Args,
        Shape::Path0,
        Shape::Path1,
        Shape::Path0And1,
        Shape::Path1And3,
        Shape::Path0And2,
        Shape::Mount,
        Shape::SockAddr1,
        Shape::SockAddr4,
        Shape::SockFd0,
        Shape::SockUdp,
        Shape::SockRet,
        Shape::ExecFail0,
        Shape::ExecFail1,
        Shape::Openat2,
    ];

    /// Whether the record starts with a socket tuple.
    pub fn has_sock(self) -> bool {
        matches!(
            self,
            Shape::SockAddr1 | Shape::SockAddr4 | Shape::SockFd0 | Shape::SockUdp | Shape::SockRet
        )
    }
}

/// (number, kind, shape) for x86_64.
pub const TABLE: &[(u32, Kind, Shape)] = &[
    (2, Kind::Open, Shape::Path0),
    (3, Kind::Close, Shape::Args),
    (32, Kind::Dup, Shape::Args),
    (33, Kind::Dup2, Shape::Args),
    (41, Kind::Socket, Shape::Args),
    (42, Kind::Connect, Shape::SockAddr1),
    (43, Kind::Accept, Shape::SockRet),
    (44, Kind::Sendto, Shape::SockAddr4),
    (45, Kind::Recvfrom, Shape::SockUdp),
    (49, Kind::Bind, Shape::SockAddr1),
    (50, Kind::Listen, Shape::SockFd0),
    (56, Kind::Clone, Shape::Args),
    (57, Kind::Fork, Shape::Args),
    (58, Kind::Vfork, Shape::Args),
    (59, Kind::Execve, Shape::ExecFail0),
    (62, Kind::Kill, Shape::Args),
    (80, Kind::Chdir, Shape::Path0),
    (81, Kind::Fchdir, Shape::Args),
    (82, Kind::Rename, Shape::Path0And1),
    (83, Kind::Mkdir, Shape::Path0),
    (84, Kind::Rmdir, Shape::Path0),
    (85, Kind::Creat, Shape::Path0),
    (86, Kind::Link, Shape::Path0And1),
    (87, Kind::Unlink, Shape::Path0),
    (88, Kind::Symlink, Shape::Path0And1),
    (90, Kind::Chmod, Shape::Path0),
    (91, Kind::Fchmod, Shape::Args),
    (92, Kind::Chown, Shape::Path0),
    (93, Kind::Fchown, Shape::Args),
    (94, Kind::Lchown, Shape::Path0),
    (101, Kind::Ptrace, Shape::Args),
    (105, Kind::Setuid, Shape::Args),
    (106, Kind::Setgid, Shape::Args),
    (117, Kind::Setresuid, Shape::Args),
    (119, Kind::Setresgid, Shape::Args),
    (126, Kind::Capset, Shape::Args),
    (157, Kind::Prctl, Shape::Args),
    (165, Kind::Mount, Shape::Mount),
    (166, Kind::Umount2, Shape::Path0),
    (175, Kind::InitModule, Shape::Args),
    (200, Kind::Tkill, Shape::Args),
    (234, Kind::Tgkill, Shape::Args),
    (257, Kind::Openat, Shape::Path1),
    (258, Kind::Mkdirat, Shape::Path1),
    (260, Kind::Fchownat, Shape::Path1),
    (263, Kind::Unlinkat, Shape::Path1),
    (264, Kind::Renameat, Shape::Path1And3),
    (265, Kind::Linkat, Shape::Path1And3),
    (266, Kind::Symlinkat, Shape::Path0And2),
    (268, Kind::Fchmodat, Shape::Path1),
    (272, Kind::Unshare, Shape::Args),
    (288, Kind::Accept4, Shape::SockRet),
    (292, Kind::Dup3, Shape::Args),
    (308, Kind::Setns, Shape::Args),
    (313, Kind::FinitModule, Shape::Args),
    (316, Kind::Renameat2, Shape::Path1And3),
    (319, Kind::MemfdCreate, Shape::Path0),
    (321, Kind::Bpf, Shape::Args),
    (322, Kind::Execveat, Shape::ExecFail1),
    (435, Kind::Clone3, Shape::Args),
    (437, Kind::Openat2, Shape::Openat2),
];

/// The entry for a syscall number.
pub fn by_number(nr: u32) -> Option<(Kind, Shape)> {
    TABLE
        .iter()
        .find(|(n, _, _)| *n == nr)
        .map(|&(_, k, s)| (k, s))
}

/// The number of a kind.
pub fn number(kind: Kind) -> Option<u32> {
    TABLE
        .iter()
        .find(|(_, k, _)| *k == kind)
        .map(|(n, _, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_number_and_numbers_are_unique() {
        for &k in Kind::ALL {
            assert!(number(k).is_some(), "{k:?} has no x86_64 number");
        }
        let mut nrs: Vec<u32> = TABLE.iter().map(|t| t.0).collect();
        nrs.sort_unstable();
        nrs.dedup();
        assert_eq!(nrs.len(), TABLE.len());
        assert!(
            nrs.iter().all(|&n| n < 512),
            "the kernel switch table has 512 slots"
        );
    }
}
