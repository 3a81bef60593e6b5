//! Decodes ring-buffer records (layout in `bpf/wire.h`) into [`tripline_syscall`] inputs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tripline_syscall::fd::SockTuple;
use tripline_syscall::{Exec, Fork, Syscall};

use crate::syscalls::{self, Shape};

/// Bytes of `struct tl_header`.
pub const HEADER_LEN: usize = 88;
const KIND_EXEC: u16 = 1000;
const KIND_FORK: u16 = 1001;
const KIND_EXIT: u16 = 1002;

/// `TL_WIRE_VERSION` of `bpf/wire.h`, which the embedded kernel object was built with: the
/// build fails when this decoder and the header disagree (build.rs passes the header's value).
pub const WIRE_VERSION: u32 = 1;

const _: () = assert!(
    WIRE_VERSION == parse_u32(env!("TL_WIRE_VERSION")),
    "bpf/wire.h changed TL_WIRE_VERSION: update src/wire.rs to the new layout"
);

const fn parse_u32(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0u32;
    while i < b.len() {
        n = n * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    n
}

/// Byte offsets of every field this decoder reads, named `STRUCT_FIELD` after `bpf/wire.h`.
/// The `wire_layout` test compiles the header with the host C compiler and checks each one
/// against `offsetof`, so the two sides cannot drift apart silently.
pub mod layout {
    #![allow(missing_docs)]
    pub const TL_HEADER_TS_BOOT_NS: usize = 0;
    pub const TL_HEADER_CGROUP_ID: usize = 8;
    pub const TL_HEADER_RET: usize = 16;
    pub const TL_HEADER_ARGS: usize = 24;
    pub const TL_HEADER_TID: usize = 72;
    pub const TL_HEADER_PID: usize = 76;
    pub const TL_HEADER_KIND: usize = 80;
    pub const TL_HEADER_LEN: usize = 82;
    pub const TL_HEADER_FLAGS: usize = 84;
    pub const SIZEOF_TL_HEADER: usize = 88;

    pub const TL_SOCK_FAMILY: usize = 0;
    pub const TL_SOCK_PROTOCOL: usize = 2;
    pub const TL_SOCK_LPORT: usize = 6;
    pub const TL_SOCK_RPORT: usize = 8;
    pub const TL_SOCK_LADDR: usize = 16;
    pub const TL_SOCK_RADDR: usize = 32;
    pub const SIZEOF_TL_SOCK: usize = 48;

    pub const TL_EXEC_PPID: usize = 0;
    pub const TL_EXEC_UID: usize = 4;
    pub const TL_EXEC_GID: usize = 8;
    pub const TL_EXEC_EUID: usize = 12;
    pub const TL_EXEC_EGID: usize = 16;
    pub const TL_EXEC_LOGINUID: usize = 20;
    pub const TL_EXEC_SID: usize = 24;
    pub const TL_EXEC_VPID: usize = 28;
    pub const TL_EXEC_VPGID: usize = 32;
    pub const TL_EXEC_TTY: usize = 36;
    pub const TL_EXEC_MNT_NS: usize = 40;
    pub const TL_EXEC_PID_NS: usize = 44;
    pub const TL_EXEC_NET_NS: usize = 48;
    pub const TL_EXEC_EXE_NLINK: usize = 52;
    pub const TL_EXEC_CAP_PERMITTED: usize = 56;
    pub const TL_EXEC_CAP_EFFECTIVE: usize = 64;
    pub const TL_EXEC_START_BOOT_NS: usize = 72;
    pub const TL_EXEC_EXE_INO: usize = 80;
    pub const SIZEOF_TL_EXEC: usize = 88;

    pub const TL_FORK_CHILD_PID: usize = 4;
    pub const TL_FORK_PARENT_PID: usize = 12;
    pub const TL_FORK_START_BOOT_NS: usize = 16;
    pub const SIZEOF_TL_FORK: usize = 24;

    /// Every constant above by name, for the layout test.
    pub const ALL: &[(&str, usize)] = &[
        ("TL_HEADER_TS_BOOT_NS", TL_HEADER_TS_BOOT_NS),
        ("TL_HEADER_CGROUP_ID", TL_HEADER_CGROUP_ID),
        ("TL_HEADER_RET", TL_HEADER_RET),
        ("TL_HEADER_ARGS", TL_HEADER_ARGS),
        ("TL_HEADER_TID", TL_HEADER_TID),
        ("TL_HEADER_PID", TL_HEADER_PID),
        ("TL_HEADER_KIND", TL_HEADER_KIND),
        ("TL_HEADER_LEN", TL_HEADER_LEN),
        ("TL_HEADER_FLAGS", TL_HEADER_FLAGS),
        ("SIZEOF_TL_HEADER", SIZEOF_TL_HEADER),
        ("TL_SOCK_FAMILY", TL_SOCK_FAMILY),
        ("TL_SOCK_PROTOCOL", TL_SOCK_PROTOCOL),
        ("TL_SOCK_LPORT", TL_SOCK_LPORT),
        ("TL_SOCK_RPORT", TL_SOCK_RPORT),
        ("TL_SOCK_LADDR", TL_SOCK_LADDR),
        ("TL_SOCK_RADDR", TL_SOCK_RADDR),
        ("SIZEOF_TL_SOCK", SIZEOF_TL_SOCK),
        ("TL_EXEC_PPID", TL_EXEC_PPID),
        ("TL_EXEC_UID", TL_EXEC_UID),
        ("TL_EXEC_GID", TL_EXEC_GID),
        ("TL_EXEC_EUID", TL_EXEC_EUID),
        ("TL_EXEC_EGID", TL_EXEC_EGID),
        ("TL_EXEC_LOGINUID", TL_EXEC_LOGINUID),
        ("TL_EXEC_SID", TL_EXEC_SID),
        ("TL_EXEC_VPID", TL_EXEC_VPID),
        ("TL_EXEC_VPGID", TL_EXEC_VPGID),
        ("TL_EXEC_TTY", TL_EXEC_TTY),
        ("TL_EXEC_MNT_NS", TL_EXEC_MNT_NS),
        ("TL_EXEC_PID_NS", TL_EXEC_PID_NS),
        ("TL_EXEC_NET_NS", TL_EXEC_NET_NS),
        ("TL_EXEC_EXE_NLINK", TL_EXEC_EXE_NLINK),
        ("TL_EXEC_CAP_PERMITTED", TL_EXEC_CAP_PERMITTED),
        ("TL_EXEC_CAP_EFFECTIVE", TL_EXEC_CAP_EFFECTIVE),
        ("TL_EXEC_START_BOOT_NS", TL_EXEC_START_BOOT_NS),
        ("TL_EXEC_EXE_INO", TL_EXEC_EXE_INO),
        ("SIZEOF_TL_EXEC", SIZEOF_TL_EXEC),
        ("TL_FORK_CHILD_PID", TL_FORK_CHILD_PID),
        ("TL_FORK_PARENT_PID", TL_FORK_PARENT_PID),
        ("TL_FORK_START_BOOT_NS", TL_FORK_START_BOOT_NS),
        ("SIZEOF_TL_FORK", SIZEOF_TL_FORK),
    ];
}

use layout as l;

/// One decoded record.
#[derive(Debug)]
pub enum Record<'a> {
    /// A successful exec.
    Exec(Exec),
    /// A new process.
    Fork(Fork),
    /// A process exit.
    Exit {
        /// Process id.
        pid: u32,
    },
    /// A syscall exit.
    Syscall(Syscall<'a>),
}

/// Why a record could not be decoded (a sensor/user-space mismatch; counted, never fatal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// The next variable field; empty once the record ends (truncated records).
    fn field(&mut self) -> &'a [u8] {
        let Some(len) = self.buf.get(self.pos..self.pos + 2) else {
            return &[];
        };
        let len = u16::from_le_bytes([len[0], len[1]]) as usize;
        let start = self.pos + 2;
        let end = (start + len).min(self.buf.len());
        self.pos = start + len;
        &self.buf[start..end]
    }
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    b.get(off..off + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .map_or(0, |s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    b.get(off..off + 8)
        .map_or(0, |s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Decodes `struct tl_sock`.
fn sock(b: &[u8]) -> Option<SockTuple> {
    if b.len() < l::SIZEOF_TL_SOCK {
        return None;
    }
    let family = u16_at(b, l::TL_SOCK_FAMILY);
    let addr = |off: usize| -> IpAddr {
        if family == 10 {
            let a: [u8; 16] = b[off..off + 16].try_into().expect("16 bytes");
            IpAddr::V6(Ipv6Addr::from(a))
        } else {
            IpAddr::V4(Ipv4Addr::new(b[off], b[off + 1], b[off + 2], b[off + 3]))
        }
    };
    Some(SockTuple {
        family,
        protocol: u16_at(b, l::TL_SOCK_PROTOCOL),
        lport: u16_at(b, l::TL_SOCK_LPORT),
        rport: u16_at(b, l::TL_SOCK_RPORT),
        local: addr(l::TL_SOCK_LADDR),
        remote: addr(l::TL_SOCK_RADDR),
    })
}

/// Decodes one record. `boot_epoch_ns` turns the kernel's boot-relative times into epoch times.
pub fn decode(buf: &[u8], boot_epoch_ns: u64) -> Result<Record<'_>, DecodeError> {
    if buf.len() < HEADER_LEN {
        return Err(DecodeError("record shorter than its header"));
    }
    let len = u16_at(buf, l::TL_HEADER_LEN) as usize;
    let buf = &buf[..len.clamp(HEADER_LEN, buf.len())];
    let ts_ns = boot_epoch_ns + u64_at(buf, l::TL_HEADER_TS_BOOT_NS);
    let cgroup_id = u64_at(buf, l::TL_HEADER_CGROUP_ID);
    let ret = u64_at(buf, l::TL_HEADER_RET) as i64;
    let mut args = [0u64; 6];
    for (i, a) in args.iter_mut().enumerate() {
        *a = u64_at(buf, l::TL_HEADER_ARGS + i * 8);
    }
    let tid = u32_at(buf, l::TL_HEADER_TID);
    let pid = u32_at(buf, l::TL_HEADER_PID);
    let kind = u16_at(buf, l::TL_HEADER_KIND);
    let mut c = Cursor {
        buf,
        pos: HEADER_LEN,
    };
    Ok(match kind {
        KIND_EXEC => {
            let e = c.field();
            if e.len() < l::SIZEOF_TL_EXEC {
                return Err(DecodeError("exec record without its fixed part"));
            }
            let filename = text(c.field());
            let argv = tripline_syscall::process::split_nul(c.field());
            let cgroup_leaf = text(c.field());
            let exe_dentry = text(c.field());
            let comm_raw = c.field();
            let comm_end = comm_raw
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(comm_raw.len());
            Record::Exec(Exec {
                ts_ns,
                tid,
                pid,
                ppid: u32_at(e, l::TL_EXEC_PPID),
                uid: u32_at(e, l::TL_EXEC_UID),
                gid: u32_at(e, l::TL_EXEC_GID),
                euid: u32_at(e, l::TL_EXEC_EUID),
                egid: u32_at(e, l::TL_EXEC_EGID),
                loginuid: u32_at(e, l::TL_EXEC_LOGINUID),
                sid: u32_at(e, l::TL_EXEC_SID),
                vpid: u32_at(e, l::TL_EXEC_VPID),
                vpgid: u32_at(e, l::TL_EXEC_VPGID),
                tty: u32_at(e, l::TL_EXEC_TTY),
                mnt_ns: u32_at(e, l::TL_EXEC_MNT_NS),
                pid_ns: u32_at(e, l::TL_EXEC_PID_NS),
                net_ns: u32_at(e, l::TL_EXEC_NET_NS),
                exe_nlink: u32_at(e, l::TL_EXEC_EXE_NLINK),
                cap_permitted: u64_at(e, l::TL_EXEC_CAP_PERMITTED),
                cap_effective: u64_at(e, l::TL_EXEC_CAP_EFFECTIVE),
                start_ns: u64_at(e, l::TL_EXEC_START_BOOT_NS),
                exe_ino: u64_at(e, l::TL_EXEC_EXE_INO),
                filename,
                argv,
                cgroup_leaf,
                exe_dentry,
                comm: text(&comm_raw[..comm_end]),
                cwd: None,
                cgroup_id,
            })
        }
        KIND_FORK => {
            let f = c.field();
            if f.len() < l::SIZEOF_TL_FORK {
                return Err(DecodeError("fork record without its fixed part"));
            }
            Record::Fork(Fork {
                ts_ns,
                child_pid: u32_at(f, l::TL_FORK_CHILD_PID),
                parent_pid: u32_at(f, l::TL_FORK_PARENT_PID),
                start_ns: u64_at(f, l::TL_FORK_START_BOOT_NS),
            })
        }
        KIND_EXIT => Record::Exit { pid },
        nr if nr < 1000 => {
            let entry = syscalls::by_number(nr as u32);
            let mut rec = Syscall {
                ts_ns,
                tid,
                pid,
                cgroup_id,
                kind: entry.map(|e| e.0),
                ret,
                args,
                ..Syscall::default()
            };
            match entry.map(|e| e.1) {
                Some(shape) if shape.has_sock() => {
                    rec.sock = sock(c.field());
                    rec.sockaddr = c.field();
                }
                Some(Shape::ExecFail0 | Shape::ExecFail1) => {
                    rec.strings[0] = c.field();
                    rec.argv = c.field();
                }
                Some(_) => {
                    for s in rec.strings.iter_mut() {
                        *s = c.field();
                    }
                }
                None => {}
            }
            Record::Syscall(rec)
        }
        _ => return Err(DecodeError("unknown record kind")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tripline_syscall::Kind;

    fn header(kind: u16, ret: i64, args: [u64; 6]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(1_000u64.to_le_bytes());
        b.extend(7u64.to_le_bytes());
        b.extend(ret.to_le_bytes());
        for a in args {
            b.extend(a.to_le_bytes());
        }
        b.extend(42u32.to_le_bytes());
        b.extend(41u32.to_le_bytes());
        b.extend(kind.to_le_bytes());
        b.extend(0u16.to_le_bytes()); // len, patched below
        b.extend([0u8; 4]);
        assert_eq!(b.len(), HEADER_LEN);
        b
    }

    fn finish(mut b: Vec<u8>) -> Vec<u8> {
        let len = b.len() as u16;
        b[82..84].copy_from_slice(&len.to_le_bytes());
        b
    }

    fn field(b: &mut Vec<u8>, data: &[u8]) {
        b.extend((data.len() as u16).to_le_bytes());
        b.extend(data);
    }

    #[test]
    fn openat_record() {
        let mut b = header(257, 3, [u64::MAX - 99, 0, 0, 0, 0, 0]);
        field(&mut b, b"/etc/shadow");
        let b = finish(b);
        let Ok(Record::Syscall(s)) = decode(&b, 5) else {
            panic!("not a syscall");
        };
        assert_eq!(s.kind, Some(Kind::Openat));
        assert_eq!((s.ts_ns, s.tid, s.pid, s.ret), (1005, 42, 41, 3));
        assert_eq!(s.strings[0], b"/etc/shadow");
        assert_eq!(s.strings[1], b"");
    }

    #[test]
    fn truncated_and_short_records_do_not_panic() {
        assert!(decode(&[0u8; 10], 0).is_err());
        let mut b = header(257, 3, [0; 6]);
        b.extend(200u16.to_le_bytes()); // claims 200 bytes, has 3
        b.extend(b"abc");
        let b = finish(b);
        let Ok(Record::Syscall(s)) = decode(&b, 0) else {
            panic!("not a syscall");
        };
        assert_eq!(s.strings[0], b"abc");
        let b = finish(header(1000, 0, [0; 6]));
        assert!(decode(&b, 0).is_err());
    }

    #[test]
    fn connect_record_carries_the_tuple() {
        let mut b = header(42, 0, [3, 0, 0, 0, 0, 0]);
        let mut t = Vec::new();
        t.extend(2u16.to_le_bytes());
        t.extend(6u16.to_le_bytes());
        t.extend(1u16.to_le_bytes());
        t.extend(40000u16.to_le_bytes());
        t.extend(4444u16.to_le_bytes());
        t.extend([0u8; 6]);
        t.extend([127, 0, 0, 1]);
        t.extend([0u8; 12]);
        t.extend([127, 0, 0, 2]);
        t.extend([0u8; 12]);
        field(&mut b, &t);
        let b = finish(b);
        let Ok(Record::Syscall(s)) = decode(&b, 0) else {
            panic!("not a syscall");
        };
        let t = s.sock.unwrap();
        assert_eq!((t.lport, t.rport), (40000, 4444));
        assert_eq!(t.remote, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    }
}
