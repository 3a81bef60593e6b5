//! Metadata blocks: machine info, the process (thread) list, per-thread fd lists and users.
//!
//! Each block type has had several versions; the layouts here follow the libscap readers, so
//! captures from every sysdig/Falco release since 2016 load.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The machine that recorded the capture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineInfo {
    /// CPUs online.
    pub num_cpus: u32,
    /// Memory, bytes.
    pub memory_bytes: u64,
    /// Largest event the producer could write.
    pub max_event_size: u64,
    /// Host name.
    pub hostname: String,
}

/// One thread of the process list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ThreadInfo {
    pub tid: i64,
    pub pid: i64,
    pub ptid: i64,
    pub sid: i64,
    pub vpgid: i64,
    pub comm: String,
    /// `argv[0]`.
    pub exe: String,
    /// Full path of the executable (empty in captures older than version 7 of the block).
    pub exepath: String,
    /// Arguments after `argv[0]`.
    pub args: Vec<String>,
    pub cwd: String,
    pub fdlimit: u64,
    pub flags: u32,
    pub uid: u32,
    pub gid: u32,
    pub vtid: i64,
    pub vpid: i64,
    /// `subsys=path` entries.
    pub cgroups: Vec<String>,
    pub root: String,
    pub tty: u32,
    /// `u32::MAX` when unset.
    pub loginuid: u32,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    pub exe_ino: u64,
}

/// What an fd of the fd list refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum FdTarget {
    /// A regular file, with its `open` flags when the capture has them.
    File {
        path: String,
        flags: u32,
    },
    Directory(String),
    Ipv4 {
        sip: Ipv4Addr,
        dip: Ipv4Addr,
        sport: u16,
        dport: u16,
        proto: u8,
    },
    Ipv4Server {
        ip: Ipv4Addr,
        port: u16,
        proto: u8,
    },
    Ipv6 {
        sip: Ipv6Addr,
        dip: Ipv6Addr,
        sport: u16,
        dport: u16,
        proto: u8,
    },
    Ipv6Server {
        ip: Ipv6Addr,
        port: u16,
        proto: u8,
    },
    Unix {
        source: u64,
        dest: u64,
        path: String,
    },
    /// Pipes, eventfds, signalfds, epoll, inotify, timerfd, netlink, bpf, memfd and the like.
    Other {
        kind: FdKind,
        name: String,
    },
}

/// libscap's fd types (the one-byte code in fd lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum FdKind {
    Unknown,
    File,
    Directory,
    Ipv4,
    Ipv6,
    Ipv4Server,
    Ipv6Server,
    Fifo,
    Unix,
    Event,
    Unsupported,
    Signalfd,
    Eventpoll,
    Inotify,
    Timerfd,
    Netlink,
    FileV2,
    Bpf,
    Userfaultfd,
    IoUring,
    Memfd,
    Pidfd,
}

impl FdKind {
    /// The kind of a type code; unknown codes (a newer libscap) are `Unsupported`.
    pub fn from_code(c: u8) -> FdKind {
        use FdKind::*;
        const ALL: [FdKind; 22] = [
            Unknown,
            File,
            Directory,
            Ipv4,
            Ipv6,
            Ipv4Server,
            Ipv6Server,
            Fifo,
            Unix,
            Event,
            Unsupported,
            Signalfd,
            Eventpoll,
            Inotify,
            Timerfd,
            Netlink,
            FileV2,
            Bpf,
            Userfaultfd,
            IoUring,
            Memfd,
            Pidfd,
        ];
        ALL.get(c as usize).copied().unwrap_or(Unsupported)
    }

    /// The type code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// One entry of an fd list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdInfo {
    /// fd number.
    pub fd: i64,
    /// Inode, 0 when unknown.
    pub ino: u64,
    /// What it refers to.
    pub target: FdTarget,
}

/// One address of a network interface of the recording machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Interface name (`lo`, `eth0`).
    pub name: String,
    /// Address.
    pub addr: std::net::IpAddr,
    /// Netmask.
    pub netmask: std::net::IpAddr,
}

/// Parses an interface-list block (v1 entries, or v2 entries with a length prefix).
pub(crate) fn interfaces(body: &[u8], v2: bool) -> Result<Vec<Interface>, String> {
    let mut c = Cursor::new(body);
    let mut out = Vec::new();
    while c.remaining() >= 4 {
        let start = c.pos;
        let entry = if v2 {
            c.u32("interface entry length")? as usize
        } else {
            0
        };
        let ty = c.u16("interface type")?;
        let name_len = c.u16("interface name length")? as usize;
        let v4 = |c: &mut Cursor<'_>| -> Result<std::net::IpAddr, String> {
            let b: [u8; 4] = c.bytes(4, "ipv4 address")?.try_into().expect("4");
            Ok(Ipv4Addr::from(b).into())
        };
        let v6 = |c: &mut Cursor<'_>| -> Result<std::net::IpAddr, String> {
            let b: [u8; 16] = c.bytes(16, "ipv6 address")?.try_into().expect("16");
            Ok(Ipv6Addr::from(b).into())
        };
        // Types: 1 IPv4, 2 IPv6, 3 IPv4 and 4 IPv6 without the link speed field.
        let (addr, netmask) = match ty {
            1 | 3 => {
                let (a, m) = (v4(&mut c)?, v4(&mut c)?);
                v4(&mut c)?;
                (a, m)
            }
            2 | 4 => {
                let (a, m) = (v6(&mut c)?, v6(&mut c)?);
                v6(&mut c)?;
                (a, m)
            }
            other => return Err(format!("unknown interface entry type {other}")),
        };
        if ty <= 2 {
            c.u64("link speed")?;
        }
        let name = c.bytes(name_len, "interface name")?;
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        out.push(Interface {
            name: String::from_utf8_lossy(&name[..end]).into_owned(),
            addr,
            netmask,
        });
        if entry != 0 {
            let read = c.pos - start;
            if entry + 4 < read {
                return Err(format!(
                    "interface entry is {entry} bytes, fields take {read}"
                ));
            }
            c.bytes(entry + 4 - read, "interface entry tail")?;
        }
    }
    Ok(out)
}

/// Users and groups of the recording machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserList {
    /// (uid, gid, name, home, shell).
    pub users: Vec<(u32, u32, String, String, String)>,
    /// (gid, name).
    pub groups: Vec<(u32, String)>,
}

/// A bounds-checked little-endian cursor over a block body.
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.remaining() < n {
            return Err(format!(
                "truncated {what}: needs {n} bytes at +{}, {} left",
                self.pos,
                self.remaining()
            ));
        }
        let b = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.bytes(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &str) -> Result<u16, String> {
        Ok(u16::from_le_bytes(
            self.bytes(2, what)?.try_into().expect("2"),
        ))
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.bytes(4, what)?.try_into().expect("4"),
        ))
    }

    pub(crate) fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.bytes(8, what)?.try_into().expect("8"),
        ))
    }

    pub(crate) fn i64(&mut self, what: &str) -> Result<i64, String> {
        Ok(self.u64(what)? as i64)
    }

    /// A string with a u16 length prefix (not NUL-terminated on disk).
    pub(crate) fn str16(&mut self, what: &str) -> Result<String, String> {
        let n = self.u16(what)? as usize;
        let b = self.bytes(n, what)?;
        let b = b.strip_suffix(&[0]).unwrap_or(b);
        Ok(String::from_utf8_lossy(b).into_owned())
    }

    /// NUL-separated strings with a u16 length prefix.
    pub(crate) fn list16(&mut self, what: &str) -> Result<Vec<String>, String> {
        let n = self.u16(what)? as usize;
        Ok(split_nul(self.bytes(n, what)?))
    }

    fn fits(&self, start: usize, sub_len: usize, n: usize) -> bool {
        sub_len != 0 && self.pos - start + n <= sub_len
    }
}

/// Splits NUL-separated strings, dropping the empty tail.
pub fn split_nul(b: &[u8]) -> Vec<String> {
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    if b.is_empty() {
        return Vec::new();
    }
    b.split(|&c| c == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

pub(crate) fn machine_info(body: &[u8]) -> Result<MachineInfo, String> {
    let mut c = Cursor::new(body);
    let num_cpus = c.u32("machine info")?;
    let memory_bytes = c.u64("machine info")?;
    let max_event_size = c.u64("machine info")?;
    let name = c.bytes(128.min(c.remaining()), "hostname")?;
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Ok(MachineInfo {
        num_cpus,
        memory_bytes,
        max_event_size,
        hostname: String::from_utf8_lossy(&name[..end]).into_owned(),
    })
}

/// Version (1–9) of a process-list block type.
pub(crate) fn proclist_version(block_type: u32) -> Option<u8> {
    Some(match block_type {
        0x202 | 0x8000_ABCD => 1,
        0x207 | 0x8013_ABCD => 2,
        0x209 | 0x8014_ABCD => 3,
        0x210 => 4,
        0x211 => 5,
        0x212 => 6,
        0x213 => 7,
        0x214 => 8,
        0x215 => 9,
        _ => return None,
    })
}

pub(crate) fn proclist(body: &[u8], version: u8) -> Result<Vec<ThreadInfo>, String> {
    let mut c = Cursor::new(body);
    let mut out = Vec::new();
    while c.remaining() >= 4 {
        let start = c.pos;
        let sub_len = if version >= 9 {
            c.u32("entry length")? as usize
        } else {
            0
        };
        let mut t = ThreadInfo {
            tid: c.i64("tid")?,
            pid: c.i64("pid")?,
            ptid: c.i64("ptid")?,
            vtid: -1,
            vpid: -1,
            sid: -1,
            vpgid: -1,
            loginuid: u32::MAX,
            ..ThreadInfo::default()
        };
        if version >= 6 {
            t.sid = c.i64("sid")?;
        }
        if version >= 8 {
            t.vpgid = c.i64("vpgid")?;
        }
        t.comm = c.str16("comm")?;
        t.exe = c.str16("exe")?;
        if version >= 7 {
            t.exepath = c.str16("exepath")?;
        }
        t.args = c.list16("args")?;
        t.cwd = c.str16("cwd")?;
        t.fdlimit = c.u64("fdlimit")?;
        t.flags = c.u32("flags")?;
        t.uid = c.u32("uid")?;
        t.gid = c.u32("gid")?;
        if version >= 2 {
            c.bytes(4 * 3 + 8 * 2, "memory counters")?;
            if version >= 3 {
                c.list16("env")?;
            }
            if version >= 4 {
                t.vtid = c.i64("vtid")?;
                t.vpid = c.i64("vpid")?;
                t.cgroups = c.list16("cgroups")?;
                if version >= 5 {
                    t.root = c.str16("root")?;
                }
            }
        }
        // Fields added later are present only when the entry's length says so. Releases
        // before libs 0.10 wrote loginuid first; later ones put pidns start time and tty first.
        if sub_len != 0 {
            let read = c.pos - start;
            if sub_len < read {
                return Err(format!(
                    "thread {} entry is {sub_len} bytes but its fields take {read}",
                    t.tid
                ));
            }
            if sub_len - read > 29 {
                if c.fits(start, sub_len, 8) {
                    c.u64("pidns start")?;
                }
                if c.fits(start, sub_len, 4) {
                    t.tty = c.u32("tty")?;
                }
            }
            if c.fits(start, sub_len, 4) {
                t.loginuid = c.u32("loginuid")?;
            }
            if c.fits(start, sub_len, 1) {
                c.u8("exe_writable")?;
            }
            if c.fits(start, sub_len, 8) {
                c.u64("cap_inheritable")?;
            }
            if c.fits(start, sub_len, 8) {
                t.cap_permitted = c.u64("cap_permitted")?;
            }
            if c.fits(start, sub_len, 8) {
                t.cap_effective = c.u64("cap_effective")?;
            }
            if c.fits(start, sub_len, 1) {
                c.u8("exe_upper_layer")?;
            }
            if c.fits(start, sub_len, 8) {
                t.exe_ino = c.u64("exe_ino")?;
            }
            let rest = sub_len - (c.pos - start);
            c.bytes(rest, "thread entry tail")?;
        }
        out.push(t);
    }
    Ok(out)
}

pub(crate) fn fdlist(body: &[u8], v2: bool) -> Result<(i64, Vec<FdInfo>), String> {
    let mut c = Cursor::new(body);
    let tid = c.i64("tid")?;
    let mut fds = Vec::new();
    while c.remaining() >= 4 {
        let start = c.pos;
        let sub_len = if v2 {
            c.u32("fd entry length")? as usize
        } else {
            0
        };
        let fd = c.i64("fd")?;
        let ino = c.u64("ino")?;
        let kind = FdKind::from_code(c.u8("fd type")?);
        let v4 = |c: &mut Cursor<'_>| -> Result<Ipv4Addr, String> {
            let b: [u8; 4] = c.bytes(4, "ipv4 address")?.try_into().expect("4");
            Ok(Ipv4Addr::from(b))
        };
        let v6 = |c: &mut Cursor<'_>| -> Result<Ipv6Addr, String> {
            let b: [u8; 16] = c.bytes(16, "ipv6 address")?.try_into().expect("16");
            Ok(Ipv6Addr::from(b))
        };
        let target = match kind {
            FdKind::Ipv4 => FdTarget::Ipv4 {
                sip: v4(&mut c)?,
                dip: v4(&mut c)?,
                sport: c.u16("port")?,
                dport: c.u16("port")?,
                proto: c.u8("l4 protocol")?,
            },
            FdKind::Ipv4Server => FdTarget::Ipv4Server {
                ip: v4(&mut c)?,
                port: c.u16("port")?,
                proto: c.u8("l4 protocol")?,
            },
            FdKind::Ipv6 => FdTarget::Ipv6 {
                sip: v6(&mut c)?,
                dip: v6(&mut c)?,
                sport: c.u16("port")?,
                dport: c.u16("port")?,
                proto: c.u8("l4 protocol")?,
            },
            FdKind::Ipv6Server => FdTarget::Ipv6Server {
                ip: v6(&mut c)?,
                port: c.u16("port")?,
                proto: c.u8("l4 protocol")?,
            },
            FdKind::Unix => FdTarget::Unix {
                source: c.u64("unix source")?,
                dest: c.u64("unix destination")?,
                path: c.str16("unix path")?,
            },
            FdKind::FileV2 => {
                let flags = c.u32("open flags")?;
                let path = c.str16("file name")?;
                if c.fits(start, sub_len, 4) {
                    c.u32("dev")?;
                }
                FdTarget::File { path, flags }
            }
            FdKind::File => FdTarget::File {
                path: c.str16("file name")?,
                flags: 0,
            },
            FdKind::Directory => FdTarget::Directory(c.str16("directory name")?),
            FdKind::Unknown => FdTarget::Other {
                kind,
                name: String::new(),
            },
            _ => FdTarget::Other {
                kind,
                name: c.str16("fd name")?,
            },
        };
        if sub_len != 0 {
            let read = c.pos - start;
            if sub_len < read {
                return Err(format!(
                    "fd {fd} entry is {sub_len} bytes but its fields take {read}"
                ));
            }
            c.bytes(sub_len - read, "fd entry tail")?;
        }
        fds.push(FdInfo { fd, ino, target });
    }
    Ok((tid, fds))
}

pub(crate) fn userlist(body: &[u8], v2: bool) -> Result<UserList, String> {
    let mut c = Cursor::new(body);
    let mut out = UserList::default();
    while c.remaining() >= 4 {
        let start = c.pos;
        let sub_len = if v2 {
            c.u32("user entry length")? as usize
        } else {
            0
        };
        if c.u8("user entry type")? == 0 {
            let uid = c.u32("uid")?;
            let gid = c.u32("gid")?;
            let name = c.str16("user name")?;
            let home = c.str16("home")?;
            let shell = c.str16("shell")?;
            out.users.push((uid, gid, name, home, shell));
        } else {
            let gid = c.u32("gid")?;
            out.groups.push((gid, c.str16("group name")?));
        }
        if sub_len != 0 {
            let read = c.pos - start;
            if sub_len < read {
                return Err(format!("user entry is {sub_len} bytes, fields take {read}"));
            }
            c.bytes(sub_len - read, "user entry tail")?;
        }
    }
    Ok(out)
}
