//! Applies producer inputs to the process and fd tables and turns each into a rule-ready event.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::net::IpAddr;

use crate::container;
use crate::event::{EventFd, SyscallEvent};
use crate::fd::{Fd, FdKind, Role, SockTuple};
use crate::input::{Exec, Fork, Kind, Syscall};
use crate::process::{split_nul, Process, ProcessTable};
use crate::runtime::{ContainerInfo, RuntimeDirs};
use crate::users::UserDb;

/// Containers whose runtime metadata is kept; past this the cache starts over (a lookup is a
/// few small file reads).
const MAX_CONTAINERS: usize = 4096;

/// An `evt.type` name, hashed and compared by address: counting runs for every event, and
/// names are `'static` literals. Equal names at two addresses count apart; readers add them up
/// by [`StaticName::name`].
#[derive(Debug, Clone, Copy)]
pub struct StaticName(pub &'static str);

impl StaticName {
    /// The name.
    pub fn name(self) -> &'static str {
        self.0
    }
}

impl PartialEq for StaticName {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for StaticName {}

impl std::hash::Hash for StaticName {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (self.0.as_ptr() as usize).hash(h);
    }
}

/// Counters kept by [`State`].
#[derive(Debug, Clone, Default)]
pub struct StateStats {
    /// Events handed to the rules, by `evt.type` (see [`StaticName`]).
    pub events_by_type: FxHashMap<StaticName, u64>,
    /// Syscall records for numbers Tripline does not decode.
    pub unknown_syscalls: u64,
    /// Processes first seen mid-flight and read from /proc.
    pub procs_from_proc: u64,
    /// Fds not recorded because a process's table was full.
    pub fds_dropped: u64,
}

/// Process and fd state plus the lookups events need (users, containers).
///
/// ```no_run
/// use tripline_syscall::State;
/// let mut state = State::from_proc();
/// println!("{} processes", state.processes().len());
/// ```
#[derive(Debug)]
pub struct State {
    procs: ProcessTable,
    users: UserDb,
    /// cgroup v2 id → full container id (None = host).
    cgroups: HashMap<u64, Option<String>>,
    /// Where to read container metadata; `None` for captures.
    runtimes: Option<RuntimeDirs>,
    /// Full container id → its runtime metadata (`None`: no runtime knows it).
    containers: HashMap<String, Option<ContainerInfo>>,
    /// Containers' overlay upper directories, for `proc.is_exe_upper_layer`.
    upper_dirs: crate::overlay::UpperDirs,
    boot_epoch_ns: u64,
    evt_num: u64,
    /// Whether this is the running machine: processes first seen mid-flight and exec'd working
    /// directories are read from `/proc`. Off for captures, which carry their own state.
    live: bool,
    /// Counters.
    pub stats: StateStats,
}

impl State {
    /// An empty state of the running machine that converts boot-relative times with
    /// `boot_epoch_ns`; processes it has not seen are read from `/proc` on first use.
    pub fn new(boot_epoch_ns: u64) -> State {
        State {
            procs: ProcessTable::default(),
            users: UserDb::load("/"),
            cgroups: HashMap::new(),
            runtimes: Some(RuntimeDirs::host()),
            containers: HashMap::new(),
            upper_dirs: Default::default(),
            boot_epoch_ns,
            evt_num: 0,
            live: true,
            stats: StateStats::default(),
        }
    }

    /// An empty state for a recording: never looks at this machine's `/proc` or users, since
    /// the recording carries its own (see [`State::insert_process`], [`State::set_users`]).
    pub fn for_capture() -> State {
        State {
            users: UserDb::default(),
            live: false,
            runtimes: None,
            ..State::new(0)
        }
    }

    /// State seeded from the running system's `/proc`.
    pub fn from_proc() -> State {
        State::from_proc_in(RuntimeDirs::host())
    }

    /// State seeded from `/proc`, with container metadata read from the runtimes under `dirs`
    /// (the host's root mounted elsewhere, as when the agent runs in a container).
    pub fn from_proc_in(dirs: RuntimeDirs) -> State {
        let boot = boot_epoch_ns();
        let mut s = State::new(boot).with_runtime_dirs(dirs);
        s.procs = ProcessTable::from_proc(boot);
        let ids: Vec<String> = s
            .procs
            .iter()
            .filter_map(|p| p.container_id.clone())
            .collect();
        for id in ids {
            s.note_container(&id);
        }
        s
    }

    /// Reads container metadata from the runtimes under `dirs` instead of this machine's.
    pub fn with_runtime_dirs(mut self, dirs: RuntimeDirs) -> State {
        self.runtimes = Some(dirs);
        self.containers.clear();
        self
    }

    /// Looks a container up in the runtimes' state the first time it is seen.
    fn note_container(&mut self, full_id: &str) {
        if self.containers.contains_key(full_id) {
            return;
        }
        let Some(dirs) = &self.runtimes else { return };
        let info = dirs.lookup(full_id);
        if self.containers.len() >= MAX_CONTAINERS {
            self.containers.clear();
        }
        self.containers.insert(full_id.to_string(), info);
    }

    /// What the container's runtime says about it (name, image, pod), if it was found.
    pub fn container_info(&self, full_id: &str) -> Option<&ContainerInfo> {
        self.containers.get(full_id)?.as_ref()
    }

    /// Adds (or replaces) a process, such as one from a capture's process list.
    pub fn insert_process(&mut self, p: Process) -> bool {
        self.procs.insert(p)
    }

    /// A process, for callers that seed state (fds from a capture's fd list).
    pub fn process_mut(&mut self, pid: u32) -> Option<&mut Process> {
        self.procs.get_mut(pid)
    }

    /// Replaces the user and group names (a capture's user list).
    pub fn set_users(&mut self, users: UserDb) {
        self.users = users;
    }

    /// Epoch time of boot, ns (adds to the sensor's boot-relative timestamps).
    pub fn boot_epoch_ns(&self) -> u64 {
        self.boot_epoch_ns
    }

    /// The process table.
    pub fn processes(&self) -> &ProcessTable {
        &self.procs
    }

    /// User and group names.
    pub fn users(&self) -> &UserDb {
        &self.users
    }

    /// Rereads `/etc/passwd` and `/etc/group` if they changed.
    pub fn refresh_users(&mut self) {
        self.users.refresh();
    }

    fn next_num(&mut self) -> u64 {
        self.evt_num += 1;
        self.evt_num
    }

    fn count(&mut self, ty: &'static str) {
        *self.stats.events_by_type.entry(StaticName(ty)).or_default() += 1;
    }

    /// Makes sure `pid` is in the table, reading `/proc` for processes we missed.
    fn ensure(&mut self, pid: u32) {
        if self.live && self.procs.get(pid).is_none() {
            if let Some(p) = Process::from_proc(pid, self.boot_epoch_ns) {
                self.stats.procs_from_proc += 1;
                if let Some(id) = p.container_id.clone() {
                    self.note_container(&id);
                }
                self.procs.insert(p);
            }
        }
    }

    /// A successful exec: replaces the process image and reports an `execve` event.
    pub fn exec<R>(&mut self, e: &Exec, on_event: impl FnOnce(&SyscallEvent<'_>) -> R) -> R {
        let prev = self.procs.remove(e.pid);
        let container_id = container::full_id(&e.cgroup_leaf)
            .map(str::to_string)
            .or_else(|| prev.as_ref().and_then(|p| p.container_id.clone()));
        if e.cgroup_id != 0 {
            self.cgroups.insert(e.cgroup_id, container_id.clone());
        }
        if let Some(id) = &container_id {
            self.note_container(id);
        }
        let cwd = e
            .cwd
            .clone()
            .or_else(|| {
                self.live
                    .then(|| std::fs::read_link(format!("/proc/{}/cwd", e.pid)).ok())
                    .flatten()
                    .map(|p| p.to_string_lossy().into_owned())
            })
            .or_else(|| prev.as_ref().map(|p| p.cwd.clone()))
            .unwrap_or_default();
        let mut argv = e.argv.clone();
        let exe = if argv.is_empty() {
            e.filename.clone()
        } else {
            argv.remove(0)
        };
        let exepath = if e.exe_dentry.starts_with("memfd:") {
            format!("/{} (deleted)", e.exe_dentry)
        } else {
            resolve_path(&cwd, &e.filename)
        };
        // Only containers run from overlays; the process is alive now, so its mounts are there.
        let exe_upper_layer = match (&container_id, &self.runtimes) {
            (Some(_), Some(dirs)) if self.live => {
                let root = dirs.root().to_path_buf();
                self.upper_dirs.is_upper(e.pid, e.mnt_ns, &exepath, &root)
            }
            _ => None,
        };
        let mut fds = prev.map(|p| p.fds).unwrap_or_default();
        fds.retain_on_exec();
        let p = Process {
            pid: e.pid,
            ppid: e.ppid,
            vpid: e.vpid,
            sid: e.sid,
            vpgid: e.vpgid,
            tty: e.tty,
            comm: e.comm.clone(),
            exe,
            // A memfd has no path; the kernel names it `/memfd:NAME (deleted)`, as Falco shows.
            exepath,
            exe_upper_layer,
            args: argv,
            cwd,
            uid: e.uid,
            gid: e.gid,
            euid: e.euid,
            egid: e.egid,
            loginuid: e.loginuid,
            cap_permitted: e.cap_permitted,
            cap_effective: e.cap_effective,
            start_ns: self.boot_epoch_ns + e.start_ns,
            exe_ino: e.exe_ino,
            exe_from_memfd: e.exe_dentry.starts_with("memfd:"),
            container_id,
            mnt_ns: e.mnt_ns,
            pid_ns: e.pid_ns,
            net_ns: e.net_ns,
            fds,
        };
        self.procs.insert(p);
        self.count("execve");
        let num = self.next_num();
        let ev = SyscallEvent {
            process: self.procs.get(e.pid),
            fd_ref: None,
            state: self,
            num,
            ts_ns: e.ts_ns,
            tid: e.tid,
            pid: e.pid,
            kind: Some(Kind::Execve),
            type_name: "execve",
            enter: false,
            ret: 0,
            args: [0; 6],
            fd: EventFd::None,
            paths: [None, None],
            strings: [&[], &[], &[]],
        };
        on_event(&ev)
    }

    /// A new process: a copy of its parent (Linux semantics: same image, same fds).
    pub fn fork(&mut self, f: &Fork) {
        self.ensure(f.parent_pid);
        let child = match self.procs.get(f.parent_pid) {
            Some(parent) => Process {
                pid: f.child_pid,
                ppid: f.parent_pid,
                start_ns: self.boot_epoch_ns + f.start_ns,
                ..parent.clone()
            },
            None => match Process::from_proc(f.child_pid, self.boot_epoch_ns) {
                Some(p) => p,
                None => return,
            },
        };
        self.procs.insert(child);
    }

    /// A process exit.
    pub fn exit(&mut self, pid: u32) {
        self.procs.remove(pid);
    }

    /// A syscall exit: updates fd and process state, then reports the event.
    pub fn syscall<R>(
        &mut self,
        rec: &Syscall<'_>,
        on_event: impl FnOnce(&SyscallEvent<'_>) -> R,
    ) -> Option<R> {
        let Some(kind) = rec.kind else {
            self.stats.unknown_syscalls += 1;
            return None;
        };
        self.ensure(rec.pid);
        let (fd, paths) = self.update(kind, rec);
        self.count(kind.name());
        let num = self.next_num();
        let process = self.procs.get(rec.pid);
        let fd_ref = match &fd {
            EventFd::Table(n) => process.and_then(|p| p.fds.get(*n)).map(|f| (*n, f)),
            _ => None,
        };
        let ev = SyscallEvent {
            process,
            fd_ref,
            state: self,
            num,
            ts_ns: rec.ts_ns,
            tid: rec.tid,
            pid: rec.pid,
            kind: Some(kind),
            type_name: kind.name(),
            enter: false,
            ret: rec.ret,
            args: rec.args,
            fd,
            paths,
            strings: rec.strings,
        };
        Some(on_event(&ev))
    }

    /// Reports an event that changes no state: the enter half of a syscall, or a syscall
    /// Tripline does not decode (`access`, `read`, ...), as a capture replay produces them.
    pub fn observe<R>(
        &mut self,
        ev: &Observed,
        on_event: impl FnOnce(&SyscallEvent<'_>) -> R,
    ) -> R {
        self.count(ev.type_name);
        let num = self.next_num();
        let process = self.procs.get(ev.pid);
        let fd_ref = ev
            .fd
            .and_then(|n| process.and_then(|p| p.fds.get(n)).map(|f| (n, f)));
        let e = SyscallEvent {
            process,
            fd_ref,
            state: self,
            num,
            ts_ns: ev.ts_ns,
            tid: ev.tid,
            pid: ev.pid,
            kind: ev.kind,
            type_name: ev.type_name,
            enter: ev.enter,
            ret: ev.ret,
            args: [0; 6],
            fd: ev.fd.map_or(EventFd::None, EventFd::Table),
            paths: [None, None],
            strings: [&[], &[], &[]],
        };
        on_event(&e)
    }

    /// Applies a syscall's effect; returns the fd the event refers to and its resolved paths.
    fn update(&mut self, kind: Kind, rec: &Syscall<'_>) -> (EventFd, [Option<String>; 2]) {
        let ret = rec.ret;
        let a = rec.args;
        let text = |i: usize| String::from_utf8_lossy(rec.strings[i]).into_owned();
        let Some(p) = self.procs.get_mut(rec.pid) else {
            return (EventFd::None, [None, None]);
        };
        // Paths relative to a directory fd or the cwd.
        let dir_of = |p: &Process, dirfd: u64| -> String {
            let dirfd = dirfd as i32 as i64;
            if dirfd == -100 {
                p.cwd.clone()
            } else {
                p.fds.get(dirfd).map(|f| f.name.clone()).unwrap_or_default()
            }
        };
        let mut dropped = false;
        let out = match kind {
            Kind::Open | Kind::Openat | Kind::Openat2 | Kind::Creat => {
                let raw = text(0);
                let (base, flags) = match kind {
                    Kind::Open => (p.cwd.clone(), a[1]),
                    Kind::Creat => (p.cwd.clone(), 0o1101),
                    Kind::Openat => (dir_of(p, a[0]), a[2]),
                    _ => (dir_of(p, a[0]), open_how_flags(rec)),
                };
                let path = resolve_path(&base, &raw);
                let kind_of = if flags & 0o200000 != 0 && flags & 0o20000000 == 0 {
                    FdKind::Directory
                } else {
                    FdKind::File
                };
                let fd = Fd::file(kind_of, path.clone(), raw, flags as u32);
                if ret >= 0 {
                    dropped = !p.fds.insert(ret, fd);
                    (EventFd::Table(ret), [Some(path), None])
                } else {
                    (EventFd::Owned(-1, fd), [Some(path), None])
                }
            }
            Kind::MemfdCreate if ret >= 0 => {
                let name = format!("memfd:{}", text(0));
                dropped = !p
                    .fds
                    .insert(ret, Fd::file(FdKind::Memfd, name.clone(), name, 0));
                (EventFd::Table(ret), [None, None])
            }
            Kind::Socket if ret >= 0 => {
                let t = SockTuple::unbound(a[0] as u16, a[2] as u16);
                dropped = !p.fds.insert(ret, Fd::socket(t, Role::Unknown));
                (EventFd::Table(ret), [None, None])
            }
            Kind::Connect | Kind::Bind | Kind::Listen | Kind::Sendto | Kind::Recvfrom => {
                let num = a[0] as i32 as i64;
                let role = match kind {
                    Kind::Connect => Role::Client,
                    Kind::Bind | Kind::Listen => Role::Server,
                    _ => p.fds.get(num).map(|f| f.role).unwrap_or(Role::Unknown),
                };
                let mut t = rec.sock.filter(|t| t.family != 0);
                if let (Some(tuple), Some(remote)) = (t.as_mut(), sockaddr_ip(rec.sockaddr)) {
                    // A UDP sendto names its peer only in the call; a connect that failed
                    // or is in progress may not have set it in the socket yet.
                    if matches!(kind, Kind::Sendto | Kind::Connect) && !tuple.connected() {
                        (tuple.remote, tuple.rport) = remote;
                    }
                }
                if let Some(t) = t {
                    dropped = !p.fds.insert(num, Fd::socket(t, role));
                }
                (EventFd::Table(num), [None, None])
            }
            Kind::Accept | Kind::Accept4 if ret >= 0 => {
                if let Some(t) = rec.sock.filter(|t| t.family != 0) {
                    dropped = !p.fds.insert(ret, Fd::socket(t, Role::Server));
                }
                (EventFd::Table(ret), [None, None])
            }
            Kind::Dup | Kind::Dup2 | Kind::Dup3 => {
                let old = a[0] as i32 as i64;
                if ret >= 0 && ret != old {
                    if let Some(f) = p.fds.get(old).cloned() {
                        dropped = !p.fds.insert(ret, f);
                    }
                }
                (EventFd::Table(old), [None, None])
            }
            Kind::Close => {
                let num = a[0] as i32 as i64;
                match p.fds.remove(num) {
                    Some(f) if ret >= 0 => (EventFd::Owned(num, f), [None, None]),
                    Some(f) => {
                        p.fds.insert(num, f);
                        (EventFd::Table(num), [None, None])
                    }
                    None => (EventFd::None, [None, None]),
                }
            }
            Kind::Chdir => {
                let path = resolve_path(&p.cwd, &text(0));
                if ret == 0 {
                    p.cwd = path.clone();
                }
                (EventFd::None, [Some(path), None])
            }
            Kind::Fchdir => {
                let num = a[0] as i32 as i64;
                if ret == 0 {
                    if let Some(f) = p.fds.get(num) {
                        p.cwd = f.name.clone();
                    }
                }
                (EventFd::Table(num), [None, None])
            }
            Kind::Setuid if ret == 0 => {
                p.euid = a[0] as u32;
                if p.euid == 0 || p.uid == 0 {
                    p.uid = a[0] as u32;
                }
                (EventFd::None, [None, None])
            }
            Kind::Setgid if ret == 0 => {
                p.egid = a[0] as u32;
                (EventFd::None, [None, None])
            }
            Kind::Setresuid if ret == 0 => {
                if a[0] as u32 != u32::MAX {
                    p.uid = a[0] as u32;
                }
                if a[1] as u32 != u32::MAX {
                    p.euid = a[1] as u32;
                }
                (EventFd::None, [None, None])
            }
            Kind::Setresgid if ret == 0 => {
                if a[0] as u32 != u32::MAX {
                    p.gid = a[0] as u32;
                }
                if a[1] as u32 != u32::MAX {
                    p.egid = a[1] as u32;
                }
                (EventFd::None, [None, None])
            }
            Kind::Execve | Kind::Execveat => {
                let (dirfd, raw) = if kind == Kind::Execve {
                    (-100i64 as u64, text(0))
                } else {
                    (a[0], text(0))
                };
                (
                    EventFd::None,
                    [Some(resolve_path(&dir_of(p, dirfd), &raw)), None],
                )
            }
            Kind::Rename | Kind::Link | Kind::Symlink => {
                let first = if kind == Kind::Symlink {
                    text(0)
                } else {
                    resolve_path(&p.cwd, &text(0))
                };
                (
                    EventFd::None,
                    [Some(first), Some(resolve_path(&p.cwd, &text(1)))],
                )
            }
            Kind::Renameat | Kind::Renameat2 | Kind::Linkat => (
                EventFd::None,
                [
                    Some(resolve_path(&dir_of(p, a[0]), &text(0))),
                    Some(resolve_path(&dir_of(p, a[2]), &text(1))),
                ],
            ),
            Kind::Symlinkat => (
                EventFd::None,
                [
                    Some(text(0)),
                    Some(resolve_path(&dir_of(p, a[1]), &text(1))),
                ],
            ),
            Kind::Unlink | Kind::Mkdir | Kind::Rmdir | Kind::Chmod | Kind::Chown | Kind::Lchown => {
                (EventFd::None, [Some(resolve_path(&p.cwd, &text(0))), None])
            }
            Kind::Unlinkat | Kind::Mkdirat | Kind::Fchmodat | Kind::Fchownat => (
                EventFd::None,
                [Some(resolve_path(&dir_of(p, a[0]), &text(0))), None],
            ),
            Kind::Fchmod | Kind::Fchown | Kind::FinitModule | Kind::Setns => {
                (EventFd::Table(a[0] as i32 as i64), [None, None])
            }
            _ => (EventFd::None, [None, None]),
        };
        if dropped {
            self.stats.fds_dropped += 1;
        }
        out
    }

    /// Container id of a cgroup id learned from exec records; `None` = unknown.
    pub fn container_of_cgroup(&self, cgroup_id: u64) -> Option<Option<&str>> {
        self.cgroups.get(&cgroup_id).map(|c| c.as_deref())
    }
}

/// An event for [`State::observe`].
#[derive(Debug, Clone, Copy)]
pub struct Observed {
    /// Event time, ns since the Unix epoch.
    pub ts_ns: u64,
    /// Thread id.
    pub tid: u32,
    /// Process id.
    pub pid: u32,
    /// The syscall, when it is one Tripline decodes.
    pub kind: Option<Kind>,
    /// `evt.type`.
    pub type_name: &'static str,
    /// Enter (`>`) or exit (`<`).
    pub enter: bool,
    /// Return value (exit events).
    pub ret: i64,
    /// The fd the event uses, if any.
    pub fd: Option<i64>,
}

/// openat2's flags live in `struct open_how`, read by the producer into strings[1].
fn open_how_flags(rec: &Syscall<'_>) -> u64 {
    let how = rec.strings[1];
    if how.len() >= 8 {
        u64::from_le_bytes(how[..8].try_into().expect("8 bytes"))
    } else {
        0
    }
}

/// The peer of a `sockaddr_in`/`sockaddr_in6`.
fn sockaddr_ip(sa: &[u8]) -> Option<(IpAddr, u16)> {
    let family = u16::from_le_bytes(sa.get(..2)?.try_into().ok()?);
    let port = u16::from_be_bytes(sa.get(2..4)?.try_into().ok()?);
    match family {
        2 => {
            let b: [u8; 4] = sa.get(4..8)?.try_into().ok()?;
            Some((IpAddr::from(b), port))
        }
        10 => {
            let b: [u8; 16] = sa.get(8..24)?.try_into().ok()?;
            Some((IpAddr::from(b), port))
        }
        _ => None,
    }
}

/// Joins `raw` onto `base` unless absolute, and removes `.`, `..` and doubled slashes, as Falco
/// does for `fd.name`.
///
/// ```
/// use tripline_syscall::state::resolve_path;
/// assert_eq!(resolve_path("/root", "../etc//shadow"), "/etc/shadow");
/// assert_eq!(resolve_path("/tmp", "/etc/./passwd"), "/etc/passwd");
/// ```
pub fn resolve_path(base: &str, raw: &str) -> String {
    if raw.is_empty() {
        return String::new();
    }
    // Most paths are already clean and absolute: one copy, no splitting.
    if raw.starts_with('/')
        && !raw.contains("//")
        && !raw.contains("/./")
        && !raw.contains("/../")
        && !raw.ends_with("/.")
        && !raw.ends_with("/..")
        && (raw.len() == 1 || !raw.ends_with('/'))
    {
        return raw.to_string();
    }
    let joined;
    let full = if raw.starts_with('/') {
        raw
    } else {
        joined = format!("{base}/{raw}");
        &joined
    };
    let mut parts: Vec<&str> = Vec::new();
    for seg in full.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Epoch time of boot in ns: realtime minus boottime, read once.
pub fn boot_epoch_ns() -> u64 {
    let clock = |id| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec we own.
        unsafe { libc::clock_gettime(id, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    };
    clock(libc::CLOCK_REALTIME).saturating_sub(clock(libc::CLOCK_BOOTTIME))
}

/// Splits a failed exec's argument block.
pub fn argv_of(bytes: &[u8]) -> Vec<String> {
    split_nul(bytes)
}
