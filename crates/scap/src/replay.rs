//! Capture replay: rebuilds the process and fd tables from a capture's metadata and events,
//! the way libsinsp does, and reports each event as a [`SyscallEvent`] with Falco's fields.
//!
//! Old captures record each syscall as an enter and an exit event; some arguments exist only
//! on the enter side (`close`'s fd, old `openat`'s path), so the last enter event of every
//! thread is kept until its exit arrives. Enter events are reported too (`evt.dir` `>`), as
//! Falco does when it reads a capture.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustc_hash::FxHashMap;
use tripline_syscall::fd::{Fd, FdKind, Role, SockTuple};
use tripline_syscall::process::Process;
use tripline_syscall::users::UserDb;
use tripline_syscall::{container, Exec, Kind, Observed, State, Syscall, SyscallEvent};

use crate::event::{le_int, Event};
use crate::metadata::{FdInfo, FdTarget, ThreadInfo};
use crate::table;
use crate::Block;

/// What a replay saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Event blocks read.
    pub events: u64,
    /// Events handed to the caller.
    pub reported: u64,
    /// Events applied to state but not reported because Falco skips them unless asked for all
    /// events (read/write family, memory, scheduler).
    pub skipped_simple: u64,
    /// Threads from the process list.
    pub threads: u64,
}

/// The last enter event of a thread (parameters copied out of the reader's buffer).
#[derive(Debug, Default)]
struct Stash {
    code: u16,
    params: Vec<Vec<u8>>,
}

/// The parameters of an exit event, falling back to its thread's matching enter event.
struct Args<'s> {
    e: &'s Event<'s>,
    enter: Option<&'s Stash>,
}

impl<'s> Args<'s> {
    fn arg(&self, name: &str) -> Option<&'s [u8]> {
        self.e.named(name).or_else(|| {
            let s = self.enter?;
            let meta = table::meta(s.code);
            let i = match table::key(name) {
                Some(k) => Some(meta.keys[k] as usize).filter(|&i| i != u8::MAX as usize),
                None => meta.info.params.iter().position(|p| *p == name),
            }?;
            s.params.get(i).map(Vec::as_slice)
        })
    }

    fn int(&self, name: &str) -> Option<i64> {
        le_int(self.arg(name)?)
    }

    fn text(&self, name: &str) -> &'s [u8] {
        let b = self.arg(name).unwrap_or_default();
        b.strip_suffix(&[0]).unwrap_or(b)
    }
}

/// Turns capture blocks into state changes and events.
///
/// ```no_run
/// use tripline_scap::{replay::Replayer, Reader};
/// let mut reader = Reader::open("capture.scap").unwrap();
/// let mut replay = Replayer::new(false);
/// while let Some(block) = reader.next_block().unwrap() {
///     replay.block(block, &mut |ev| println!("{:?}", ev.kind()));
/// }
/// ```
#[derive(Debug)]
pub struct Replayer {
    state: State,
    /// Thread id → process id, for threads that are not their process's main thread.
    threads: FxHashMap<u64, u32>,
    stash: FxHashMap<u64, Stash>,
    all_events: bool,
    /// A thread that exited: removed when the next event arrives, as libsinsp does, so events
    /// of its other threads still in flight keep their process.
    pending_exit: Option<(u64, u32)>,
    /// Counters.
    pub stats: ReplayStats,
}

impl Replayer {
    /// A replay; `all_events` also reports the high-volume events Falco skips by default.
    pub fn new(all_events: bool) -> Replayer {
        Replayer {
            state: State::for_capture(),
            threads: FxHashMap::default(),
            stash: FxHashMap::default(),
            all_events,
            pending_exit: None,
            stats: ReplayStats::default(),
        }
    }

    /// The rebuilt state.
    pub fn state(&self) -> &State {
        &self.state
    }

    fn pid_of(&self, tid: u64) -> u32 {
        self.threads.get(&tid).copied().unwrap_or(tid as u32)
    }

    /// Applies one block; events go to `on_event`.
    pub fn block(&mut self, block: Block<'_>, on_event: &mut dyn FnMut(&SyscallEvent<'_>)) {
        match block {
            Block::Threads(list) => {
                for t in &list {
                    self.thread(t);
                }
            }
            Block::Fds { tid, fds } => {
                let pid = self.pid_of(tid as u64);
                if let Some(p) = self.state.process_mut(pid) {
                    for f in &fds {
                        p.fds.insert(f.fd, fd_of(f));
                    }
                }
            }
            Block::Users(u) => self.state.set_users(UserDb::from_lists(
                u.users
                    .iter()
                    .map(|(uid, _, name, _, _)| (*uid, name.clone())),
                u.groups.iter().cloned(),
            )),
            Block::Event(e) => self.event(&e, on_event),
            Block::Section { .. } | Block::Machine(_) | Block::Interfaces(_) | Block::Other(_) => {}
        }
    }

    fn thread(&mut self, t: &ThreadInfo) {
        self.stats.threads += 1;
        if t.tid != t.pid {
            self.threads.insert(t.tid as u64, t.pid as u32);
            return;
        }
        let container_id = t
            .cgroups
            .iter()
            .find_map(|c| container::full_id(c.split_once('=').map_or(c.as_str(), |x| x.1)))
            .map(str::to_string);
        self.state.insert_process(Process {
            pid: t.pid as u32,
            ppid: t.ptid.max(0) as u32,
            vpid: t.vpid.max(0) as u32,
            sid: t.sid.max(0) as u32,
            vpgid: t.vpgid.max(0) as u32,
            tty: t.tty,
            comm: t.comm.clone(),
            exe: t.exe.clone(),
            exepath: if t.exepath.is_empty() {
                t.exe.clone()
            } else {
                t.exepath.clone()
            },
            args: t.args.clone(),
            cwd: t.cwd.trim_end_matches('/').to_string().max("/".into()),
            uid: t.uid,
            gid: t.gid,
            euid: t.uid,
            egid: t.gid,
            loginuid: t.loginuid,
            cap_permitted: t.cap_permitted,
            cap_effective: t.cap_effective,
            exe_ino: t.exe_ino,
            container_id,
            ..Process::default()
        });
    }

    fn event(&mut self, e: &Event<'_>, on_event: &mut dyn FnMut(&SyscallEvent<'_>)) {
        self.stats.events += 1;
        if let Some((tid, pid)) = self.pending_exit.take() {
            if tid as u32 == pid {
                self.state.exit(pid);
            }
            self.threads.remove(&tid);
            self.stash.remove(&tid);
        }
        let meta = table::meta(e.code);
        let name = e.name();
        let simple_drop = if e.code < 2 {
            table::is_simple_consumer_drop(name)
        } else {
            meta.simple_drop
        };
        let report = self.all_events || !simple_drop;
        if report {
            self.stats.reported += 1;
        } else {
            self.stats.skipped_simple += 1;
        }
        let mut sink = |ev: &SyscallEvent<'_>| {
            if report {
                on_event(ev)
            }
        };
        let tid = e.tid;
        let pid = self.pid_of(tid);
        if e.is_enter() {
            // Keep it only when its exit will need it (old layouts, close, dup, ...).
            if table::meta(e.code + 1).needs_enter {
                let stash = self.stash.entry(tid).or_default();
                stash.code = e.code;
                stash.params.resize_with(e.len(), Vec::new);
                for (i, p) in stash.params.iter_mut().enumerate() {
                    p.clear();
                    p.extend_from_slice(e.param(i).unwrap_or_default());
                }
            }
            let fd = e.int("fd");
            self.state.observe(
                &Observed {
                    ts_ns: e.ts_ns,
                    tid: tid as u32,
                    pid,
                    kind: meta.kind,
                    type_name: name,
                    enter: true,
                    ret: 0,
                    fd,
                },
                &mut sink,
            );
            if name == "procexit" {
                self.pending_exit = Some((tid, pid));
            }
            return;
        }
        // Borrow the enter event out of the map (leaving an empty one, no allocation).
        let enter = if meta.needs_enter {
            self.stash.get_mut(&tid).map(std::mem::take)
        } else {
            None
        };
        let args = Args {
            e,
            enter: enter.as_ref().filter(|s| s.code + 1 == e.code),
        };
        match name {
            "execve" | "execveat" if e.int("res") == Some(0) => {
                let exec = self.exec(&args, pid);
                self.state.exec(&exec, &mut sink);
            }
            _ => {
                // The child side of a new thread is the thread's first event: it belongs to
                // the process the event names, not to a process of the thread's own id.
                let pid = if matches!(name, "clone" | "fork" | "vfork" | "clone3") {
                    self.clone_exit(e, pid)
                } else {
                    pid
                };
                self.exit_event(&args, pid, &mut sink);
            }
        }
        if let Some(s) = enter {
            self.stash.insert(tid, s);
        }
    }

    fn exit_event(&mut self, args: &Args<'_>, pid: u32, sink: &mut dyn FnMut(&SyscallEvent<'_>)) {
        let e = args.e;
        let tid = e.tid;
        let name = e.name();
        let mut rec = Syscall {
            ts_ns: e.ts_ns,
            tid: tid as u32,
            pid,
            kind: table::meta(e.code).kind,
            ret: args.int("res").unwrap_or(0),
            ..Syscall::default()
        };
        let mut a = [0u64; 6];
        let (mut s0, mut s1, mut s2): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
        let mut how = [0u8; 8];
        let fd_arg = args.int("fd");
        let int = |n: &str| args.int(n).unwrap_or(0) as u64;
        match rec.kind {
            Some(k @ (Kind::Open | Kind::Openat | Kind::Openat2 | Kind::Creat)) => {
                rec.ret = fd_arg.unwrap_or(-1);
                s0 = args.text("name");
                let flags = open_flags(int("flags") as u32) as u64;
                let mode = int("mode");
                match k {
                    Kind::Open => (a[1], a[2]) = (flags, mode),
                    Kind::Creat => a[1] = mode,
                    Kind::Openat => (a[0], a[2], a[3]) = (int("dirfd"), flags, mode),
                    _ => {
                        a[0] = int("dirfd");
                        how = flags.to_le_bytes();
                    }
                }
            }
            Some(Kind::Socket) => {
                rec.ret = fd_arg.unwrap_or(-1);
                (a[0], a[1], a[2]) = (int("domain"), int("type"), int("proto"));
            }
            Some(Kind::Accept | Kind::Accept4) => {
                rec.ret = fd_arg.unwrap_or(-1);
                rec.sock = args.arg("tuple").and_then(|t| tuple(t, true));
            }
            Some(Kind::Connect) => {
                a[0] = fd_arg.unwrap_or(-1) as u64;
                rec.sock = args.arg("tuple").and_then(|t| tuple(t, false));
            }
            Some(Kind::Bind) => {
                a[0] = fd_arg.unwrap_or(-1) as u64;
                rec.sock = args.arg("addr").and_then(sockaddr);
            }
            Some(Kind::Sendto | Kind::Recvfrom | Kind::Listen | Kind::Close | Kind::Fchdir) => {
                a[0] = fd_arg.unwrap_or(-1) as u64;
                a[1] = int("backlog");
                if let Some(t) = args.arg("tuple").and_then(|t| tuple(t, false)) {
                    rec.sock = Some(t);
                }
            }
            Some(Kind::Dup | Kind::Dup2 | Kind::Dup3) => {
                a[0] = args.int("oldfd").or(fd_arg).unwrap_or(-1) as u64;
                a[1] = int("newfd");
            }
            Some(Kind::Chdir) => s0 = args.text("path"),
            Some(Kind::Setuid) => a[0] = int("uid"),
            Some(Kind::Setgid) => a[0] = int("gid"),
            Some(Kind::Setresuid) => (a[0], a[1], a[2]) = (int("ruid"), int("euid"), int("suid")),
            Some(Kind::Setresgid) => (a[0], a[1], a[2]) = (int("rgid"), int("egid"), int("sgid")),
            Some(Kind::Execve | Kind::Execveat) => s0 = args.text("filename"),
            Some(Kind::Rename | Kind::Link) => {
                (s0, s1) = (args.text("oldpath"), args.text("newpath"));
            }
            Some(Kind::Renameat | Kind::Renameat2 | Kind::Linkat) => {
                (s0, s1) = (args.text("oldpath"), args.text("newpath"));
                let (od, nd) = if rec.kind == Some(Kind::Linkat) {
                    ("olddir", "newdir")
                } else {
                    ("olddirfd", "newdirfd")
                };
                (a[0], a[2]) = (int(od), int(nd));
            }
            Some(Kind::Symlink) => (s0, s1) = (args.text("target"), args.text("linkpath")),
            Some(Kind::Symlinkat) => {
                (s0, s1) = (args.text("target"), args.text("linkpath"));
                a[1] = int("linkdirfd");
            }
            Some(Kind::Unlink | Kind::Mkdir | Kind::Rmdir) => s0 = args.text("path"),
            Some(Kind::Unlinkat) => (a[0], s0) = (int("dirfd"), args.text("name")),
            Some(Kind::Mkdirat) => {
                (a[0], s0, a[2]) = (int("dirfd"), args.text("path"), int("mode"))
            }
            Some(Kind::Chmod) => (s0, a[1]) = (args.text("filename"), int("mode")),
            Some(Kind::Fchmodat) => {
                (a[0], s0, a[2]) = (int("dirfd"), args.text("filename"), int("mode"));
            }
            Some(Kind::Fchmod) => (a[0], a[1]) = (fd_arg.unwrap_or(-1) as u64, int("mode")),
            Some(Kind::Chown | Kind::Lchown) => {
                (s0, a[1], a[2]) = (args.text("path"), int("uid"), int("gid"));
            }
            Some(Kind::Kill | Kind::Tkill | Kind::Tgkill) => {
                (a[0], a[1], a[2]) = (int("pid"), int("sig"), int("sig"));
                if rec.kind != Some(Kind::Kill) {
                    (a[0], a[1]) = (
                        int(if rec.kind == Some(Kind::Tkill) {
                            "tid"
                        } else {
                            "pid"
                        }),
                        int("tid"),
                    );
                }
            }
            Some(Kind::Mount) => {
                (s0, s1, s2) = (args.text("dev"), args.text("dir"), args.text("type"));
                a[3] = int("flags");
            }
            Some(Kind::Umount2) => s0 = args.text("name"),
            Some(Kind::Unshare) => a[0] = int("flags"),
            Some(Kind::Setns) => (a[0], a[1]) = (fd_arg.unwrap_or(-1) as u64, int("nstype")),
            Some(Kind::Bpf) => {
                rec.ret = fd_arg.unwrap_or(rec.ret);
                a[0] = int("cmd");
            }
            Some(_) => {}
            None => {
                // Not decoded: report it with the fd it used, if any.
                let ret = args.int("res").unwrap_or(0);
                self.state.observe(
                    &Observed {
                        ts_ns: e.ts_ns,
                        tid: tid as u32,
                        pid,
                        kind: None,
                        type_name: name,
                        enter: false,
                        ret,
                        fd: fd_arg,
                    },
                    sink,
                );
                return;
            }
        }
        if rec.kind == Some(Kind::Openat2) {
            s1 = &how;
        }
        rec.args = a;
        rec.strings = [s0, s1, s2];
        self.state.syscall(&rec, sink);
    }

    /// A successful exec from the exit event's parameters.
    fn exec(&self, args: &Args<'_>, pid: u32) -> Exec {
        let e = args.e;
        let text = |n: &str| String::from_utf8_lossy(e.text(n).unwrap_or_default()).into_owned();
        let prev = self.state.processes().get(pid);
        let mut argv = vec![text("exe")];
        argv.extend(crate::metadata::split_nul(
            e.named("args").unwrap_or_default(),
        ));
        let cgroups = crate::metadata::split_nul(e.named("cgroups").unwrap_or_default());
        let leaf = cgroups
            .iter()
            .find_map(|c| container::full_id(c.split_once('=').map_or(c.as_str(), |x| x.1)))
            .unwrap_or_default()
            .to_string();
        let comm = e
            .text("comm")
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .unwrap_or_else(|| {
                let exe = &argv[0];
                exe.rsplit('/').next().unwrap_or(exe).to_string()
            });
        let uid = e
            .uint("uid")
            .map(|u| u as u32)
            .or(prev.map(|p| p.uid))
            .unwrap_or(0);
        let gid = e
            .uint("gid")
            .map(|u| u as u32)
            .or(prev.map(|p| p.gid))
            .unwrap_or(0);
        let trusted = text("trusted_exepath");
        let filename = if trusted.is_empty() {
            // Old captures have only argv[0]; the enter event may carry the path.
            let f = String::from_utf8_lossy(args.text("filename")).into_owned();
            if f.is_empty() {
                argv[0].clone()
            } else {
                f
            }
        } else {
            trusted
        };
        let cwd = text("cwd");
        Exec {
            ts_ns: e.ts_ns,
            tid: e.tid as u32,
            pid,
            ppid: e
                .int("ptid")
                .map(|p| self.pid_of(p as u64))
                .or(prev.map(|p| p.ppid))
                .unwrap_or(0),
            uid,
            gid,
            euid: uid,
            egid: gid,
            loginuid: e
                .uint("loginuid")
                .map(|l| l as u32)
                .or(prev.map(|p| p.loginuid))
                .unwrap_or(u32::MAX),
            sid: prev.map_or(0, |p| p.sid),
            vpid: prev.map_or(pid, |p| p.vpid),
            vpgid: e
                .uint("vpgid")
                .map(|v| v as u32)
                .or(prev.map(|p| p.vpgid))
                .unwrap_or(0),
            tty: e
                .uint("tty")
                .map(|t| t as u32)
                .or(prev.map(|p| p.tty))
                .unwrap_or(0),
            cap_permitted: e.uint("cap_permitted").unwrap_or(0),
            cap_effective: e.uint("cap_effective").unwrap_or(0),
            exe_ino: e.uint("exe_ino").unwrap_or(0),
            filename,
            argv,
            cgroup_leaf: leaf,
            comm,
            cwd: (!cwd.is_empty()).then_some(cwd),
            ..Exec::default()
        }
    }

    /// A clone/fork exit: the child side creates the thread or process from the event's facts,
    /// the parent side (which may come first) from its own process. Returns the process id the
    /// event belongs to.
    fn clone_exit(&mut self, e: &Event<'_>, pid: u32) -> u32 {
        let Some(res) = e.int("res").filter(|r| *r >= 0) else {
            return pid;
        };
        // PPM_CL_CLONE_THREAD.
        let is_thread = e.uint("flags").unwrap_or(0) & (1 << 13) != 0;
        if res == 0 {
            let child_pid = e.int("pid").unwrap_or(e.tid as i64) as u32;
            if child_pid as u64 != e.tid {
                self.threads.insert(e.tid, child_pid);
            }
            if self.state.processes().get(child_pid).is_none() {
                self.process_from_clone(e, child_pid);
            }
            return child_pid;
        }
        // The parent side. A caller the capture never introduced is known from the event's
        // own facts (exe, args, comm, cwd), as libsinsp does.
        let caller = e.int("pid").map_or(pid, |p| p as u32);
        if self.state.processes().get(caller).is_none() {
            if caller as u64 != e.tid {
                self.threads.insert(e.tid, caller);
            }
            self.process_from_clone(e, caller);
        }
        let pid = caller;
        if is_thread {
            self.threads.insert(res as u64, pid);
        } else if self.state.processes().get(res as u32).is_none() {
            self.state.fork(&tripline_syscall::Fork {
                ts_ns: e.ts_ns,
                child_pid: res as u32,
                parent_pid: pid,
                start_ns: e.ts_ns,
            });
        }
        pid
    }

    /// A process known only from a clone exit event's parameters.
    fn process_from_clone(&mut self, e: &Event<'_>, pid: u32) {
        let text = |n: &str| String::from_utf8_lossy(e.text(n).unwrap_or_default()).into_owned();
        let parent = e
            .int("ptid")
            .map(|p| self.pid_of(p as u64))
            .filter(|p| *p != pid)
            .unwrap_or(0);
        let mut p = self
            .state
            .processes()
            .get(parent)
            .cloned()
            .unwrap_or_default();
        p.pid = pid;
        p.ppid = parent;
        p.exe = text("exe");
        p.args = crate::metadata::split_nul(e.named("args").unwrap_or_default());
        p.cwd = text("cwd");
        p.comm = e
            .text("comm")
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .unwrap_or_else(|| p.exe.rsplit('/').next().unwrap_or_default().to_string());
        p.start_ns = e.ts_ns;
        self.state.insert_process(p);
    }
}

/// libscap's `PPM_O_*` open flags to Linux `O_*` flags.
pub fn open_flags(ppm: u32) -> u32 {
    let mut f = match ppm & 3 {
        3 => 0o2,
        2 => 0o1,
        _ => 0,
    };
    for (bit, linux) in [
        (1 << 2, 0o100),
        (1 << 3, 0o2000),
        (1 << 4, 0o10000),
        (1 << 5, 0o200),
        (1 << 6, 0o4000),
        (1 << 7, 0o4010000),
        (1 << 8, 0o1000),
        (1 << 9, 0o40000),
        (1 << 10, 0o200000),
        (1 << 11, 0o100000),
        (1 << 12, 0o2000000),
        (1 << 13, 0o20200000),
    ] {
        if ppm & bit != 0 {
            f |= linux;
        }
    }
    f
}

/// Linux `O_*` open flags to libscap's `PPM_O_*` (for writing captures).
pub fn ppm_open_flags(linux: u32) -> u32 {
    let mut f = match linux & 3 {
        2 => 3,
        1 => 2,
        _ => 1,
    };
    for (bit, l) in [
        (1 << 2, 0o100),
        (1 << 3, 0o2000),
        (1 << 5, 0o200),
        (1 << 6, 0o4000),
        (1 << 8, 0o1000),
        (1 << 9, 0o40000),
        (1 << 10, 0o200000),
        (1 << 11, 0o100000),
        (1 << 12, 0o2000000),
    ] {
        if linux & l == l {
            f |= bit;
        }
    }
    if linux & 0o4010000 == 0o4010000 {
        f |= 1 << 7;
    } else if linux & 0o10000 != 0 {
        f |= 1 << 4;
    }
    if linux & 0o20200000 == 0o20200000 {
        f |= 1 << 13;
    }
    f
}

/// A `PT_SOCKTUPLE` (family, source, destination); `accepted` puts the destination locally.
fn tuple(b: &[u8], accepted: bool) -> Option<SockTuple> {
    let (family, src, sport, dst, dport) = match *b.first()? {
        2 if b.len() >= 13 => (
            2,
            IpAddr::V4(Ipv4Addr::new(b[1], b[2], b[3], b[4])),
            u16::from_le_bytes([b[5], b[6]]),
            IpAddr::V4(Ipv4Addr::new(b[7], b[8], b[9], b[10])),
            u16::from_le_bytes([b[11], b[12]]),
        ),
        10 if b.len() >= 37 => (
            10,
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&b[1..17]).ok()?)),
            u16::from_le_bytes([b[17], b[18]]),
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&b[19..35]).ok()?)),
            u16::from_le_bytes([b[35], b[36]]),
        ),
        _ => return None,
    };
    let (local, lport, remote, rport) = if accepted {
        (dst, dport, src, sport)
    } else {
        (src, sport, dst, dport)
    };
    Some(SockTuple {
        family,
        protocol: 6,
        local,
        lport,
        remote,
        rport,
    })
}

/// A `PT_SOCKADDR` (family, address, port) as the local end of a socket.
fn sockaddr(b: &[u8]) -> Option<SockTuple> {
    let mut t = match *b.first()? {
        2 if b.len() >= 7 => {
            let mut t = SockTuple::unbound(2, 6);
            t.local = IpAddr::V4(Ipv4Addr::new(b[1], b[2], b[3], b[4]));
            t.lport = u16::from_le_bytes([b[5], b[6]]);
            t
        }
        10 if b.len() >= 19 => {
            let mut t = SockTuple::unbound(10, 6);
            t.local = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&b[1..17]).ok()?));
            t.lport = u16::from_le_bytes([b[17], b[18]]);
            t
        }
        _ => return None,
    };
    t.protocol = 6;
    Some(t)
}

/// An fd of a capture's fd list in the form the fd table keeps.
fn fd_of(f: &FdInfo) -> Fd {
    let sock = |family: u16, proto: u8, local: IpAddr, lport, remote: IpAddr, rport, role| {
        Fd::socket(
            SockTuple {
                family,
                protocol: proto as u16,
                local,
                lport,
                remote,
                rport,
            },
            role,
        )
    };
    match &f.target {
        FdTarget::File { path, flags } => {
            Fd::file(FdKind::File, path.clone(), path.clone(), open_flags(*flags))
        }
        FdTarget::Directory(p) => Fd::file(FdKind::Directory, p.clone(), p.clone(), 0),
        FdTarget::Ipv4 {
            sip,
            dip,
            sport,
            dport,
            proto,
        } => sock(
            2,
            *proto,
            (*sip).into(),
            *sport,
            (*dip).into(),
            *dport,
            Role::Unknown,
        ),
        FdTarget::Ipv6 {
            sip,
            dip,
            sport,
            dport,
            proto,
        } => sock(
            10,
            *proto,
            (*sip).into(),
            *sport,
            (*dip).into(),
            *dport,
            Role::Unknown,
        ),
        FdTarget::Ipv4Server { ip, port, proto } => {
            let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
            sock(2, *proto, (*ip).into(), *port, any, 0, Role::Server)
        }
        FdTarget::Ipv6Server { ip, port, proto } => {
            let any = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
            sock(10, *proto, (*ip).into(), *port, any, 0, Role::Server)
        }
        FdTarget::Unix { path, .. } => {
            let path = path.trim_end().to_string();
            Fd::file(FdKind::Unix, path.clone(), path, 0)
        }
        FdTarget::Other { name, .. } => Fd::file(FdKind::Other, name.clone(), name.clone(), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_round_trip() {
        for linux in [0, 0o1, 0o2, 0o101, 0o2000000, 0o1101, 0o200000, 0o4010002] {
            assert_eq!(open_flags(ppm_open_flags(linux)), linux, "{linux:o}");
        }
        // O_RDONLY|O_CLOEXEC as the 2016 captures store it.
        assert_eq!(open_flags(0x1001), 0o2000000);
    }
}
