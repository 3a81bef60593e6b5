//! Recording: what the live sensor sees, written as a capture that `sysdig -r` and Falco read.
//!
//! The file starts with the process, fd and user lists of the machine, then one event per
//! record. Events use self-contained exit layouts (plus the enter half where the exit alone
//! lacks an argument, as for `close`), the oldest layouts every reader still accepts.

use std::io::Write;
use std::net::IpAddr;

use tripline_syscall::fd::{Fd, FdKind as Kinds, Role, SockTuple};
use tripline_syscall::process::Process;
use tripline_syscall::{Kind, State, SyscallEvent};

use crate::metadata::{FdInfo, FdKind, FdTarget, ThreadInfo, UserList};
use crate::replay::ppm_open_flags;
use crate::Writer;

/// Writes the live agent's events to a capture.
///
/// ```
/// let state = tripline_syscall::State::for_capture();
/// let mut rec = tripline_scap::record::Recorder::start(Vec::new(), &state, "host").unwrap();
/// rec.exit(42, 1_700_000_000_000_000_000).unwrap();
/// assert_eq!(rec.written(), 1);
/// ```
pub struct Recorder<W: Write> {
    w: Writer<W>,
    /// Threads readers know, with their process: from the process list, forks and
    /// announcements (tids are reused, so the pid is checked too).
    known: std::collections::HashMap<u32, u32>,
    /// Events Tripline decodes but has no capture layout for (counted, not written).
    pub not_recorded: u64,
}

impl<W: Write> std::fmt::Debug for Recorder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("written", &self.w.events())
            .finish()
    }
}

/// A string parameter: the bytes and the NUL libscap stores after them.
fn cstr(s: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s);
    v.push(0);
    v
}

fn nul_joined(items: &[String]) -> Vec<u8> {
    let mut b = Vec::new();
    for (i, a) in items.iter().enumerate() {
        if i > 0 {
            b.push(0);
        }
        b.extend_from_slice(a.as_bytes());
    }
    b.push(0);
    b
}

/// `PT_SOCKTUPLE`: family, then source and destination address and port.
fn socktuple(t: &SockTuple, src_is_local: bool) -> Vec<u8> {
    let (sa, sp, da, dp) = if src_is_local {
        (t.local, t.lport, t.remote, t.rport)
    } else {
        (t.remote, t.rport, t.local, t.lport)
    };
    let mut b = Vec::with_capacity(37);
    match (sa, da) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            b.push(2);
            b.extend_from_slice(&s.octets());
            b.extend_from_slice(&sp.to_le_bytes());
            b.extend_from_slice(&d.octets());
            b.extend_from_slice(&dp.to_le_bytes());
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V6(x) => x.octets(),
                IpAddr::V4(x) => x.to_ipv6_mapped().octets(),
            };
            b.push(10);
            b.extend_from_slice(&v6(s));
            b.extend_from_slice(&sp.to_le_bytes());
            b.extend_from_slice(&v6(d));
            b.extend_from_slice(&dp.to_le_bytes());
        }
    }
    b
}

/// `PT_SOCKADDR` of a socket's local end.
fn sockaddr(t: &SockTuple) -> Vec<u8> {
    let mut b = Vec::with_capacity(19);
    match t.local {
        IpAddr::V4(a) => {
            b.push(2);
            b.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            b.push(10);
            b.extend_from_slice(&a.octets());
        }
    }
    b.extend_from_slice(&t.lport.to_le_bytes());
    b
}

/// A process as a process-list entry.
pub fn thread_of(p: &Process) -> ThreadInfo {
    ThreadInfo {
        tid: p.pid as i64,
        pid: p.pid as i64,
        ptid: p.ppid as i64,
        sid: p.sid as i64,
        vpgid: p.vpgid as i64,
        comm: p.comm.clone(),
        exe: p.exe.clone(),
        exepath: p.exepath.clone(),
        args: p.args.clone(),
        cwd: p.cwd.clone(),
        fdlimit: 1024,
        flags: 0,
        uid: p.euid,
        gid: p.egid,
        vtid: p.vpid as i64,
        vpid: p.vpid as i64,
        cgroups: p
            .container_id
            .iter()
            .map(|id| format!("cpu=/docker/{id}"))
            .collect(),
        root: "/".into(),
        tty: p.tty,
        loginuid: p.loginuid,
        cap_permitted: p.cap_permitted,
        cap_effective: p.cap_effective,
        exe_ino: p.exe_ino,
    }
}

/// An fd-table entry as an fd-list entry.
pub fn fd_info(num: i64, f: &Fd) -> FdInfo {
    let target = match (f.kind, f.sock) {
        (Kinds::File, _) => FdTarget::File {
            path: f.name.clone(),
            flags: ppm_open_flags(f.flags),
        },
        (Kinds::Directory, _) => FdTarget::Directory(f.name.clone()),
        (Kinds::Ipv4 | Kinds::Ipv6, Some(t)) if f.role == Role::Server && !t.connected() => {
            match t.local {
                IpAddr::V4(ip) => FdTarget::Ipv4Server {
                    ip,
                    port: t.lport,
                    proto: t.protocol as u8,
                },
                IpAddr::V6(ip) => FdTarget::Ipv6Server {
                    ip,
                    port: t.lport,
                    proto: t.protocol as u8,
                },
            }
        }
        (Kinds::Ipv4 | Kinds::Ipv6, Some(t)) => match (t.local, t.remote) {
            (IpAddr::V4(sip), IpAddr::V4(dip)) => FdTarget::Ipv4 {
                sip,
                dip,
                sport: t.lport,
                dport: t.rport,
                proto: t.protocol as u8,
            },
            (l, r) => {
                let v6 = |a: IpAddr| match a {
                    IpAddr::V6(x) => x,
                    IpAddr::V4(x) => x.to_ipv6_mapped(),
                };
                FdTarget::Ipv6 {
                    sip: v6(l),
                    dip: v6(r),
                    sport: t.lport,
                    dport: t.rport,
                    proto: t.protocol as u8,
                }
            }
        },
        (Kinds::Unix, _) => FdTarget::Unix {
            source: 0,
            dest: 0,
            path: f.name.clone(),
        },
        (Kinds::Memfd, _) => FdTarget::Other {
            kind: FdKind::Memfd,
            name: f.name.clone(),
        },
        _ => FdTarget::Other {
            kind: FdKind::Unsupported,
            name: f.name.clone(),
        },
    };
    FdInfo {
        fd: num,
        ino: 0,
        target,
    }
}

/// Users and groups of this machine (for the capture's user list).
fn local_users() -> UserList {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let mut out = UserList::default();
    for line in read("/etc/passwd").lines() {
        let f: Vec<&str> = line.split(':').collect();
        if let [name, _, uid, gid, _, home, shell, ..] = f[..] {
            if let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse()) {
                out.users
                    .push((uid, gid, name.into(), home.into(), shell.into()));
            }
        }
    }
    for line in read("/etc/group").lines() {
        let f: Vec<&str> = line.split(':').collect();
        if let [name, _, gid, ..] = f[..] {
            if let Ok(gid) = gid.parse() {
                out.groups.push((gid, name.into()));
            }
        }
    }
    out
}

impl<W: Write> Recorder<W> {
    /// Starts a capture with the machine's current processes, fds and users.
    pub fn start(out: W, state: &State, hostname: &str) -> std::io::Result<Recorder<W>> {
        let mut w = Writer::new(out, hostname)?;
        let mut procs: Vec<&Process> = state.processes().iter().collect();
        procs.sort_by_key(|p| p.pid);
        let threads: Vec<ThreadInfo> = procs.iter().map(|p| thread_of(p)).collect();
        // One block per 1000 threads keeps blocks small for every reader.
        for chunk in threads.chunks(1000) {
            w.threads(chunk)?;
        }
        for p in &procs {
            let mut fds: Vec<FdInfo> = p.fds.iter().map(|(n, f)| fd_info(n, f)).collect();
            if !fds.is_empty() {
                fds.sort_by_key(|f| f.fd);
                w.fds(p.pid as i64, &fds)?;
            }
        }
        w.users(&local_users())?;
        Ok(Recorder {
            w,
            known: procs.iter().map(|p| (p.pid, p.pid)).collect(),
            not_recorded: 0,
        })
    }

    /// Events written.
    pub fn written(&self) -> u64 {
        self.w.events()
    }

    /// Flushes and returns the sink.
    pub fn finish(self) -> std::io::Result<W> {
        self.w.finish()
    }

    /// A new process, as its parent's `clone` exit.
    pub fn fork(
        &mut self,
        ts_ns: u64,
        parent: &Process,
        parent_tid: u32,
        child: u32,
    ) -> std::io::Result<()> {
        self.known.insert(child, child);
        self.clone_event(ts_ns, parent, parent_tid, child as i64, 0)?;
        // The child's side too: readers that did not know the parent create the child from it.
        let mut child_view = parent.clone();
        child_view.pid = child;
        child_view.ppid = parent.pid;
        self.clone_event(ts_ns, &child_view, child, 0, 0)
    }

    /// Makes a thread known to readers before its first event. The sensor reports new
    /// processes, not new threads, and not what it missed (forks before the start, or by the
    /// agent's own process), so the thread's own `clone` exit (the child side) is written the
    /// first time it is seen.
    fn announce(&mut self, ev: &SyscallEvent<'_>) -> std::io::Result<()> {
        let (tid, pid) = (ev.tid(), ev.pid());
        if self.known.get(&tid) == Some(&pid) {
            return Ok(());
        }
        let Some(p) = ev.process() else {
            return Ok(());
        };
        if self.known.len() >= 1 << 17 {
            // Forgetting only costs repeated announcements.
            self.known.clear();
        }
        self.known.insert(tid, pid);
        // PPM_CL_CLONE_FILES | FS | SIGHAND | THREAD | VM for threads.
        let flags = if tid == pid {
            0
        } else {
            1 | 1 << 1 | 1 << 11 | 1 << 13 | 1 << 15
        };
        self.clone_event(ev.ts_ns(), p, tid, 0, flags)
    }

    /// A `clone` exit in the 20-parameter layout, on `tid` of `p`, returning `res`.
    fn clone_event(
        &mut self,
        ts_ns: u64,
        parent: &Process,
        parent_tid: u32,
        res: i64,
        flags: u32,
    ) -> std::io::Result<()> {
        let t = thread_of(parent);
        let cgroups = nul_joined(&t.cgroups);
        self.w.event(
            0,
            ts_ns,
            parent_tid as u64,
            crate::table::code::CLONE_20_X,
            &[
                &res.to_le_bytes(),
                &cstr(parent.exe.as_bytes()),
                &nul_joined(&parent.args),
                &(parent_tid as i64).to_le_bytes(),
                &(parent.pid as i64).to_le_bytes(),
                &(parent.ppid as i64).to_le_bytes(),
                &cstr(parent.cwd.as_bytes()),
                &1024i64.to_le_bytes(),
                &0u64.to_le_bytes(),
                &0u64.to_le_bytes(),
                &0u32.to_le_bytes(),
                &0u32.to_le_bytes(),
                &0u32.to_le_bytes(),
                &cstr(parent.comm.as_bytes()),
                &cgroups,
                &flags.to_le_bytes(),
                &parent.euid.to_le_bytes(),
                &parent.egid.to_le_bytes(),
                &(parent.vpid as i64).to_le_bytes(),
                &(parent.vpid as i64).to_le_bytes(),
            ],
        )
    }

    /// A process exit.
    pub fn exit(&mut self, pid: u32, ts_ns: u64) -> std::io::Result<()> {
        self.known.remove(&pid);
        self.w.event(
            0,
            ts_ns,
            pid as u64,
            crate::table::code::PROCEXIT_1_E,
            &[&0i64.to_le_bytes()],
        )
    }

    /// One syscall event (exec included), with the enter half where the exit needs it.
    pub fn event(&mut self, ev: &SyscallEvent<'_>) -> std::io::Result<()> {
        let Some(kind) = ev.kind() else {
            self.not_recorded += 1;
            return Ok(());
        };
        self.announce(ev)?;
        let (ts, tid) = (ev.ts_ns(), ev.tid() as u64);
        let a = ev.args();
        let ret = ev.ret().to_le_bytes();
        let s = |i: usize| cstr(ev.raw_string(i));
        let fd_arg = (a[0] as i32 as i64).to_le_bytes();
        let u32_ = |v: u64| (v as u32).to_le_bytes();
        let i64_ = |v: u64| (v as i32 as i64).to_le_bytes();
        let mut pair = |enter: u16, eparams: &[&[u8]], xparams: &[&[u8]]| -> std::io::Result<()> {
            self.w.event(0, ts, tid, enter, eparams)?;
            self.w.event(0, ts, tid, enter + 1, xparams)
        };
        match kind {
            Kind::Open => pair(
                2,
                &[],
                &[
                    &ret,
                    &s(0),
                    &u32_(ppm_open_flags(a[1] as u32) as u64),
                    &u32_(a[2]),
                ],
            ),
            Kind::Openat => pair(
                306,
                &[],
                &[
                    &ret,
                    &i64_(a[0]),
                    &s(0),
                    &u32_(ppm_open_flags(a[2] as u32) as u64),
                    &u32_(a[3]),
                ],
            ),
            Kind::Openat2 => {
                let flags = ev.fd().map_or(0, |(_, f)| ppm_open_flags(f.flags));
                pair(
                    326,
                    &[],
                    &[
                        &ret,
                        &i64_(a[0]),
                        &s(0),
                        &flags.to_le_bytes(),
                        &0u32.to_le_bytes(),
                        &0u32.to_le_bytes(),
                    ],
                )
            }
            Kind::Creat => pair(58, &[], &[&ret, &s(0), &u32_(a[1])]),
            Kind::Close => pair(4, &[&fd_arg], &[&ret]),
            Kind::Socket => pair(18, &[&u32_(a[0]), &u32_(a[1]), &u32_(a[2])], &[&ret]),
            Kind::Connect => {
                let t = ev.fd().and_then(|(_, f)| f.sock);
                let addr = t.map(|t| {
                    sockaddr(&SockTuple {
                        local: t.remote,
                        lport: t.rport,
                        ..t
                    })
                });
                let tuple = t.map(|t| socktuple(&t, true)).unwrap_or_default();
                pair(22, &[&fd_arg, &addr.unwrap_or_default()], &[&ret, &tuple])
            }
            Kind::Accept | Kind::Accept4 => {
                let tuple = ev
                    .fd()
                    .and_then(|(_, f)| f.sock)
                    .map(|t| socktuple(&t, false))
                    .unwrap_or_default();
                let (e, flags) = if kind == Kind::Accept {
                    (246, None)
                } else {
                    (248, Some(0i32))
                };
                let flags = flags.map(i32::to_le_bytes);
                let eparams: Vec<&[u8]> = flags.iter().map(|f| &f[..]).collect();
                pair(
                    e,
                    &eparams,
                    &[
                        &ret,
                        &tuple,
                        &[0u8],
                        &0u32.to_le_bytes(),
                        &0u32.to_le_bytes(),
                    ],
                )
            }
            Kind::Bind => {
                let addr = ev.fd().and_then(|(_, f)| f.sock).map(|t| sockaddr(&t));
                pair(20, &[&fd_arg], &[&ret, &addr.unwrap_or_default()])
            }
            Kind::Listen => pair(24, &[&fd_arg, &u32_(a[1])], &[&ret]),
            Kind::Execve | Kind::Execveat => self.exec(ev),
            Kind::Rename => pair(174, &[], &[&ret, &s(0), &s(1)]),
            Kind::Renameat => pair(176, &[], &[&ret, &i64_(a[0]), &s(0), &i64_(a[2]), &s(1)]),
            Kind::Renameat2 => pair(
                318,
                &[],
                &[&ret, &i64_(a[0]), &s(0), &i64_(a[2]), &s(1), &u32_(a[4])],
            ),
            Kind::Unlink => pair(300, &[], &[&ret, &s(0)]),
            Kind::Unlinkat => pair(302, &[], &[&ret, &i64_(a[0]), &s(0), &u32_(a[2])]),
            Kind::Mkdir => pair(276, &[&u32_(a[1])], &[&ret, &s(0)]),
            Kind::Mkdirat => pair(304, &[], &[&ret, &i64_(a[0]), &s(0), &u32_(a[2])]),
            Kind::Rmdir => pair(278, &[], &[&ret, &s(0)]),
            Kind::Chmod => pair(314, &[], &[&ret, &s(0), &u32_(a[1])]),
            Kind::Fchmodat => pair(312, &[], &[&ret, &i64_(a[0]), &s(0), &u32_(a[2])]),
            Kind::Fchmod => pair(316, &[], &[&ret, &fd_arg, &u32_(a[1])]),
            Kind::Symlink => pair(178, &[], &[&ret, &s(0), &s(1)]),
            Kind::Symlinkat => pair(180, &[], &[&ret, &s(0), &i64_(a[1]), &s(1)]),
            Kind::Link => pair(308, &[], &[&ret, &s(0), &s(1)]),
            Kind::Linkat => pair(
                310,
                &[],
                &[&ret, &i64_(a[0]), &s(0), &i64_(a[2]), &s(1), &u32_(a[4])],
            ),
            Kind::Dup | Kind::Dup2 | Kind::Dup3 => pair(124, &[&fd_arg], &[&ret]),
            Kind::Setuid => pair(198, &[&u32_(a[0])], &[&ret]),
            Kind::Setgid => pair(200, &[&u32_(a[0])], &[&ret]),
            Kind::Setresuid => pair(192, &[&u32_(a[0]), &u32_(a[1]), &u32_(a[2])], &[&ret]),
            Kind::Setresgid => pair(194, &[&u32_(a[0]), &u32_(a[1]), &u32_(a[2])], &[&ret]),
            Kind::Chdir => pair(94, &[], &[&ret, &s(0)]),
            Kind::Fchdir => pair(96, &[&fd_arg], &[&ret]),
            Kind::Kill => pair(128, &[&i64_(a[0]), &[a[1] as u8]], &[&ret]),
            _ => {
                self.not_recorded += 1;
                Ok(())
            }
        }
    }

    /// An exec exit in the `execve` layout with 16 parameters, which every reader knows.
    fn exec(&mut self, ev: &SyscallEvent<'_>) -> std::io::Result<()> {
        let p = ev.process();
        let empty = Process::default();
        let p = if ev.ret() == 0 {
            p.unwrap_or(&empty)
        } else {
            &empty
        };
        let cgroups = nul_joined(&thread_of(p).cgroups);
        let args = if p.args.is_empty() {
            Vec::new()
        } else {
            nul_joined(&p.args)
        };
        self.w.event(
            0,
            ev.ts_ns(),
            ev.tid() as u64,
            crate::table::code::EXECVE_16_X,
            &[
                &ev.ret().to_le_bytes(),
                &cstr(p.exe.as_bytes()),
                &args,
                &(ev.tid() as i64).to_le_bytes(),
                &(ev.pid() as i64).to_le_bytes(),
                &(p.ppid as i64).to_le_bytes(),
                &cstr(p.cwd.as_bytes()),
                &1024u64.to_le_bytes(),
                &0u64.to_le_bytes(),
                &0u64.to_le_bytes(),
                &0u32.to_le_bytes(),
                &0u32.to_le_bytes(),
                &0u32.to_le_bytes(),
                &cstr(p.comm.as_bytes()),
                &cgroups,
                &[],
            ],
        )
    }
}
