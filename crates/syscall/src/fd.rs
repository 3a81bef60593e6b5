//! File descriptors: what each open fd of a process refers to.

use rustc_hash::FxHashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most fds remembered per process; beyond this, new fds are not tracked (and counted).
pub const MAX_FDS_PER_PROCESS: usize = 4096;

/// What an fd refers to, with Falco's `fd.type` / `fd.typechar` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdKind {
    /// Regular file (`file`, `f`).
    File,
    /// Directory (`directory`, `d`).
    Directory,
    /// IPv4 socket (`ipv4`, `4`).
    Ipv4,
    /// IPv6 socket (`ipv6`, `6`).
    Ipv6,
    /// Unix socket (`unix`, `u`).
    Unix,
    /// memfd (`memfd`, `m`).
    Memfd,
    /// Anything else we could not classify (`unknown`, `o`).
    Other,
}

impl FdKind {
    /// Falco's `fd.type`.
    pub fn type_name(self) -> &'static str {
        match self {
            FdKind::File => "file",
            FdKind::Directory => "directory",
            FdKind::Ipv4 => "ipv4",
            FdKind::Ipv6 => "ipv6",
            FdKind::Unix => "unix",
            FdKind::Memfd => "memfd",
            FdKind::Other => "unknown",
        }
    }

    /// Falco's `fd.typechar`.
    pub fn type_char(self) -> &'static str {
        match self {
            FdKind::File => "f",
            FdKind::Directory => "d",
            FdKind::Ipv4 => "4",
            FdKind::Ipv6 => "6",
            FdKind::Unix => "u",
            FdKind::Memfd => "m",
            FdKind::Other => "o",
        }
    }

    /// Whether this is an IP socket.
    pub fn is_ip(self) -> bool {
        matches!(self, FdKind::Ipv4 | FdKind::Ipv6)
    }
}

/// A socket's addresses as the kernel sees them (local and remote ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockTuple {
    /// Address family (`AF_INET` = 2, `AF_INET6` = 10, `AF_UNIX` = 1); 0 = not a socket.
    pub family: u16,
    /// IP protocol (6 TCP, 17 UDP).
    pub protocol: u16,
    /// Local address.
    pub local: IpAddr,
    /// Local port.
    pub lport: u16,
    /// Remote address.
    pub remote: IpAddr,
    /// Remote port.
    pub rport: u16,
}

impl SockTuple {
    /// An unconnected socket of a family.
    pub fn unbound(family: u16, protocol: u16) -> SockTuple {
        let any = if family == 10 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        SockTuple {
            family,
            protocol,
            local: any,
            lport: 0,
            remote: any,
            rport: 0,
        }
    }

    /// Whether a remote end is set.
    pub fn connected(&self) -> bool {
        self.rport != 0 || !self.remote.is_unspecified()
    }
}

/// Which end started the connection: decides client/server in `fd.cip`/`fd.sip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We connected out: local end is the client.
    Client,
    /// We accepted or listen: local end is the server.
    Server,
    /// Not known (socket created, not yet connected).
    Unknown,
}

/// One open fd.
///
/// ```
/// use tripline_syscall::fd::{Fd, FdKind, Role, SockTuple};
/// let f = Fd::file(FdKind::File, "/etc/shadow".into(), "shadow".into(), 0);
/// assert_eq!((f.directory(), f.filename()), (Some("/etc"), Some("shadow")));
/// let mut t = SockTuple::unbound(2, 6);
/// (t.remote, t.rport, t.lport) = ("10.0.0.2".parse().unwrap(), 443, 40000);
/// assert_eq!(Fd::socket(t, Role::Client).name, "0.0.0.0:40000->10.0.0.2:443");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Fd {
    /// What it is.
    pub kind: FdKind,
    /// Absolute path for files; `cip:cport->sip:sport` for connected IP sockets.
    pub name: String,
    /// Path as the process passed it (`fd.nameraw`).
    pub name_raw: String,
    /// Socket addresses, for sockets.
    pub sock: Option<SockTuple>,
    /// Client or server side, for sockets.
    pub role: Role,
    /// Open flags, for files.
    pub flags: u32,
}

impl Fd {
    /// A file or directory fd.
    pub fn file(kind: FdKind, path: String, raw: String, flags: u32) -> Fd {
        Fd {
            kind,
            name: path,
            name_raw: raw,
            sock: None,
            role: Role::Unknown,
            flags,
        }
    }

    /// A socket fd; the name follows Falco (`client->server`).
    pub fn socket(t: SockTuple, role: Role) -> Fd {
        let kind = match t.family {
            2 => FdKind::Ipv4,
            10 => FdKind::Ipv6,
            1 => FdKind::Unix,
            _ => FdKind::Other,
        };
        let mut fd = Fd {
            kind,
            name: String::new(),
            name_raw: String::new(),
            sock: Some(t),
            role,
            flags: 0,
        };
        fd.name = fd.socket_name();
        fd
    }

    /// (client ip, client port, server ip, server port), for IP sockets.
    pub fn endpoints(&self) -> Option<(IpAddr, u16, IpAddr, u16)> {
        let t = self.sock.filter(|_| self.kind.is_ip())?;
        Some(match self.role {
            Role::Server => (t.remote, t.rport, t.local, t.lport),
            Role::Client | Role::Unknown => (t.local, t.lport, t.remote, t.rport),
        })
    }

    fn socket_name(&self) -> String {
        match self.endpoints() {
            Some((c, cp, s, sp)) if self.sock.is_some_and(|t| t.connected()) => {
                format!("{}:{cp}->{}:{sp}", fmt_ip(c), fmt_ip(s))
            }
            Some((_, _, s, sp)) if sp != 0 => format!("{}:{sp}", fmt_ip(s)),
            _ => String::new(),
        }
    }

    /// Directory part of a file fd's name (`fd.directory`).
    pub fn directory(&self) -> Option<&str> {
        match self.kind {
            FdKind::Directory => Some(self.name.as_str()),
            FdKind::File => Some(match self.name.rfind('/') {
                Some(0) => "/",
                Some(i) => &self.name[..i],
                None => "",
            }),
            _ => None,
        }
    }

    /// File part of a file fd's name (`fd.filename`).
    pub fn filename(&self) -> Option<&str> {
        match self.kind {
            FdKind::File | FdKind::Directory => {
                Some(self.name.rsplit('/').next().unwrap_or(&self.name))
            }
            _ => None,
        }
    }
}

fn fmt_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => a.to_string(),
        },
    }
}

/// The fds of one process, bounded by [`MAX_FDS_PER_PROCESS`].
///
/// ```
/// use tripline_syscall::fd::{Fd, FdKind, FdTable};
/// let mut t = FdTable::default();
/// assert!(t.insert(3, Fd::file(FdKind::File, "/tmp/a".into(), "a".into(), 0o2000000)));
/// t.retain_on_exec(); // O_CLOEXEC fds close at exec
/// assert!(t.get(3).is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct FdTable {
    fds: FxHashMap<i64, Fd>,
}

impl FdTable {
    /// Every fd with its number, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &Fd)> + '_ {
        self.fds.iter().map(|(n, f)| (*n, f))
    }

    /// The fd, if known.
    pub fn get(&self, num: i64) -> Option<&Fd> {
        self.fds.get(&num)
    }

    /// Records an fd; returns false (and keeps the table as is) when the table is full.
    pub fn insert(&mut self, num: i64, fd: Fd) -> bool {
        if self.fds.len() >= MAX_FDS_PER_PROCESS && !self.fds.contains_key(&num) {
            return false;
        }
        self.fds.insert(num, fd);
        true
    }

    /// Forgets an fd.
    pub fn remove(&mut self, num: i64) -> Option<Fd> {
        self.fds.remove(&num)
    }

    /// Drops the fds an exec closes (opened with `O_CLOEXEC`).
    pub fn retain_on_exec(&mut self) {
        self.fds.retain(|_, f| f.flags & 0o2000000 == 0);
    }

    /// Number of fds known.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// Whether no fd is known.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_names_put_the_client_first() {
        let t = SockTuple {
            family: 2,
            protocol: 6,
            local: "10.0.0.1".parse().unwrap(),
            lport: 40000,
            remote: "10.0.0.2".parse().unwrap(),
            rport: 443,
        };
        assert_eq!(
            Fd::socket(t, Role::Client).name,
            "10.0.0.1:40000->10.0.0.2:443"
        );
        assert_eq!(
            Fd::socket(t, Role::Server).name,
            "10.0.0.2:443->10.0.0.1:40000"
        );
    }

    #[test]
    fn file_parts() {
        let f = Fd::file(FdKind::File, "/etc/shadow".into(), "shadow".into(), 0);
        assert_eq!(f.directory(), Some("/etc"));
        assert_eq!(f.filename(), Some("shadow"));
        let root = Fd::file(FdKind::File, "/x".into(), "/x".into(), 0);
        assert_eq!(root.directory(), Some("/"));
    }

    #[test]
    fn table_is_bounded() {
        let mut t = FdTable::default();
        for i in 0..MAX_FDS_PER_PROCESS as i64 {
            assert!(t.insert(i, Fd::file(FdKind::File, "/a".into(), "/a".into(), 0)));
        }
        assert!(!t.insert(-5, Fd::file(FdKind::File, "/b".into(), "/b".into(), 0)));
        assert!(t.insert(0, Fd::file(FdKind::File, "/c".into(), "/c".into(), 0)));
    }
}
