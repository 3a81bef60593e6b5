//! [`SyscallEvent`]: one kernel event seen through the process and fd tables, exposing Falco's
//! syscall field names (`proc.*`, `fd.*`, `user.*`, `evt.*`, `container.*`).

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::OnceLock;

use ipnet::IpNet;
use tripline_event::{Event, FieldArg, FieldRef, Value};

use crate::container;
use crate::fd::{Fd, FdKind};
use crate::input::Kind;
use crate::names;
use crate::process::Process;
use crate::state::State;

/// Which fd an event refers to.
#[derive(Debug, Clone)]
pub enum EventFd {
    /// None (process events, most non-fd syscalls).
    None,
    /// Look up this fd number in the process's table.
    Table(i64),
    /// An fd no longer (or never) in the table: a closed fd or a failed open (`fd.num` -1).
    Owned(i64, Fd),
}

/// One event, borrowing the state it was applied to; rules read it through
/// [`tripline_event::Event`] with Falco's field names.
///
/// ```
/// use tripline_event::{Event, FieldArg};
/// use tripline_syscall::{Kind, State, Syscall};
/// let mut state = State::new(0);
/// let me = std::process::id();
/// let rec = Syscall {
///     tid: me, pid: me, kind: Some(Kind::Openat), ret: 5,
///     args: [(-100i64) as u64, 0, 0, 0, 0, 0],
///     strings: [b"/etc/hosts", b"", b""],
///     ..Syscall::default()
/// };
/// let schema = tripline_sources::syscall::schema();
/// let fd_name = schema.fields.bind("fd.name", FieldArg::None).unwrap();
/// let name = state.syscall(&rec, |ev| ev.extract(&fd_name).map(|v| v.to_text().into_owned()));
/// assert_eq!(name, Some(Some("/etc/hosts".to_string())));
/// ```
#[derive(Debug)]
pub struct SyscallEvent<'a> {
    pub(crate) state: &'a State,
    /// The calling process, looked up once.
    pub(crate) process: Option<&'a Process>,
    pub(crate) num: u64,
    pub(crate) ts_ns: u64,
    pub(crate) tid: u32,
    pub(crate) pid: u32,
    pub(crate) kind: Option<Kind>,
    /// `evt.type` (also for events without a [`Kind`]).
    pub(crate) type_name: &'static str,
    /// Enter half of a syscall (captures only; the live sensor reports exits).
    pub(crate) enter: bool,
    pub(crate) ret: i64,
    pub(crate) args: [u64; 6],
    pub(crate) fd: EventFd,
    /// `fd` resolved in the process's table once, for `EventFd::Table`.
    pub(crate) fd_ref: Option<(i64, &'a Fd)>,
    pub(crate) paths: [Option<String>; 2],
    pub(crate) strings: [&'a [u8]; 3],
}

impl<'a> SyscallEvent<'a> {
    /// The process that made the call, if known.
    pub fn process(&self) -> Option<&'a Process> {
        self.process
    }

    /// The caller as a pid plus start time, which a later pid reuse cannot match.
    pub fn process_key(&self) -> Option<tripline_event::ProcessKey> {
        let p = self.process?;
        Some(tripline_event::ProcessKey {
            pid: self.pid,
            start_ns: p.start_ns,
        })
    }

    /// What the container runtime says about the caller's container (name, image, pod), if
    /// it runs in one the runtimes know.
    pub fn container(&self) -> Option<&'a crate::runtime::ContainerInfo> {
        let id = self.process?.container_id.as_deref()?;
        self.state.container_info(id)
    }

    /// The parent of the calling process, if known.
    pub fn parent(&self) -> Option<&'a Process> {
        let p = self.process?;
        self.state
            .processes()
            .get(p.ppid)
            .filter(|q| q.pid != p.pid)
    }

    /// Name of a uid, from the host's user database.
    pub fn user_name(&self, uid: u32) -> Option<&'a str> {
        self.state.users().user(uid)
    }

    /// The syscall's return value.
    pub fn ret(&self) -> i64 {
        self.ret
    }

    /// The syscall's raw arguments.
    pub fn args(&self) -> [u64; 6] {
        self.args
    }

    /// Event time, ns since the Unix epoch.
    pub fn ts_ns(&self) -> u64 {
        self.ts_ns
    }

    /// The syscall.
    pub fn kind(&self) -> Option<Kind> {
        self.kind
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// String argument `i` as read from user memory (paths as the caller passed them).
    pub fn raw_string(&self, i: usize) -> &'a [u8] {
        self.strings.get(i).copied().unwrap_or_default()
    }

    /// Path argument `i` resolved against the cwd or directory fd.
    pub fn resolved_path(&self, i: usize) -> Option<&str> {
        self.paths.get(i)?.as_deref()
    }

    /// Whether this is the enter half of a syscall (capture replays report both halves).
    pub fn is_enter(&self) -> bool {
        self.enter
    }

    /// `evt.type`.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// Thread id.
    pub fn tid(&self) -> u32 {
        self.tid
    }

    /// The fd number and fd the event refers to.
    pub fn fd(&self) -> Option<(i64, &Fd)> {
        match &self.fd {
            EventFd::None => None,
            EventFd::Table(_) => self.fd_ref,
            EventFd::Owned(n, f) => Some((*n, f)),
        }
    }

    fn text(&self, i: usize) -> Cow<'a, str> {
        String::from_utf8_lossy(self.strings[i])
    }

    fn path(&self, i: usize) -> Option<Value<'_>> {
        self.paths[i].as_deref().map(Value::from)
    }

    /// `evt.arg.NAME`, rendered as Falco renders it.
    fn arg(&self, name: &str) -> Option<Value<'_>> {
        use Kind::*;
        let kind = self.kind?;
        let a = self.args;
        let num = |v: u64| Some(Value::Str(Cow::Owned((v as i64).to_string())));
        let int = |v: u64| Some(Value::Str(Cow::Owned((v as i32).to_string())));
        let res = Some(Value::Str(Cow::Owned(self.ret.to_string())));
        match (kind, name) {
            (_, "res") => res,
            (Open | Openat | Openat2 | Creat | Socket | Accept | Accept4 | MemfdCreate, "fd") => {
                res
            }
            (Bpf, "res_or_fd") => res,
            (Open | Creat, "name") | (Openat | Openat2, "name") => Some(self.text(0).into()),
            (Open, "flags") => Some(names::open_flags(a[1]).into()),
            (Openat, "flags") => Some(names::open_flags(a[2]).into()),
            (Creat, "flags") => Some(names::open_flags(0o1101).into()),
            (Open | Creat, "mode") => num(a[if kind == Open { 2 } else { 1 }]),
            (Openat, "mode") => num(a[3]),
            (Openat | Openat2 | Unlinkat | Mkdirat | Fchmodat | Fchownat, "dirfd") => int(a[0]),
            (Rename | Renameat | Renameat2 | Link | Linkat, "oldpath") => self.path(0),
            (Rename | Renameat | Renameat2 | Link | Linkat, "newpath") => self.path(1),
            (Symlink | Symlinkat, "target") => self.path(0),
            (Symlink | Symlinkat, "linkpath") => self.path(1),
            (Unlink | Mkdir | Rmdir | Chown | Lchown | Chdir | Mkdirat, "path") => self.path(0),
            (Unlinkat, "name") => self.path(0),
            (Chmod | Fchmodat, "filename") => self.path(0),
            (Fchownat, "pathname") => self.path(0),
            (Mkdir | Chmod, "mode") => num(a[1]),
            (Mkdirat | Fchmodat, "mode") | (Fchmod, "mode") => {
                num(a[if kind == Fchmod { 1 } else { 2 }])
            }
            (Chown | Lchown | Fchown, "uid") => int(a[1]),
            (Chown | Lchown | Fchown, "gid") => int(a[2]),
            (
                Connect | Bind | Listen | Sendto | Recvfrom | Close | Fchdir | Fchmod | Fchown
                | FinitModule | Setns,
                "fd",
            ) => int(a[0]),
            (Connect | Accept | Accept4 | Sendto | Recvfrom, "tuple") => {
                self.fd().map(|(_, f)| Value::from(f.name.as_str()))
            }
            (Socket, "domain") => Some(names::socket_family(a[0]).into()),
            (Socket, "type") => num(a[1]),
            (Socket, "proto") => num(a[2]),
            (Listen, "backlog") => num(a[1]),
            (Setuid, "uid") | (Setgid, "gid") => int(a[0]),
            (Setresuid, "ruid") | (Setresgid, "rgid") => int(a[0]),
            (Setresuid, "euid") | (Setresgid, "egid") => int(a[1]),
            (Setresuid, "suid") | (Setresgid, "sgid") => int(a[2]),
            (Ptrace, "request") => Some(names::ptrace_request(a[0]).into()),
            (Ptrace, "pid") => int(a[1]),
            (Mount, "dev") => Some(self.text(0).into()),
            (Mount, "dir") => Some(self.text(1).into()),
            (Mount, "type") => Some(self.text(2).into()),
            (Mount, "flags") => num(a[3]),
            (Umount2, "name") => Some(self.text(0).into()),
            (Unshare, "flags") => Some(names::clone_flags(a[0]).into()),
            (Setns, "nstype") => Some(names::clone_flags(a[1]).into()),
            (MemfdCreate, "name") => Some(self.text(0).into()),
            (MemfdCreate, "flags") => num(a[1]),
            (Bpf, "cmd") => Some(names::bpf_cmd(a[0]).into()),
            (Kill, "pid") | (Tgkill, "pid") => int(a[0]),
            (Tkill, "tid") => int(a[0]),
            (Tgkill, "tid") => int(a[1]),
            (Kill | Tkill, "sig") => num(a[1]),
            (Tgkill, "sig") => num(a[2]),
            (Prctl, "option") => num(a[0]),
            (Prctl, "arg2_int") => num(a[1]),
            (Dup | Dup2 | Dup3, "oldfd") => int(a[0]),
            (Dup2 | Dup3, "newfd") => int(a[1]),
            (Execve | Execveat, "filename") => self.path(0),
            _ => None,
        }
    }
}

/// The syscall fields Tripline fills, by Falco name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum F {
    EvtNum,
    EvtTime,
    EvtTimeS,
    EvtDatetime,
    EvtRawtime,
    EvtRawtimeS,
    EvtRawtimeNs,
    EvtSource,
    EvtDir,
    EvtType,
    EvtArgs,
    EvtArg,
    EvtRes,
    EvtRawres,
    EvtFailed,
    EvtIsOpenRead,
    EvtIsOpenWrite,
    EvtIsOpenExec,
    EvtIsOpenCreate,
    ProcExe,
    ProcPexe,
    ProcAexe,
    ProcExepath,
    ProcPexepath,
    ProcAexepath,
    ProcName,
    ProcPname,
    ProcAname,
    ProcArgs,
    ProcCmdline,
    ProcPcmdline,
    ProcAcmdline,
    ProcCmdnargs,
    ProcExeline,
    ProcCwd,
    ProcTty,
    ProcPid,
    ProcPpid,
    ProcPidTs,
    ProcPpidTs,
    ProcApid,
    ProcVpid,
    ProcSid,
    ProcSname,
    ProcVpgid,
    ProcVpgidName,
    ProcVpgidExe,
    ProcVpgidExepath,
    ProcIsSidLeader,
    ProcIsVpgidLeader,
    ProcDuration,
    ProcPpidDuration,
    ProcIsExeFromMemfd,
    ProcIsExeUpperLayer,
    ProcIsExeLowerLayer,
    ProcExeIno,
    CapPermitted,
    CapEffective,
    ThreadTid,
    ThreadIsMain,
    UserUid,
    UserName,
    UserLoginuid,
    UserLoginname,
    GroupGid,
    GroupName,
    FdNum,
    FdType,
    FdTypechar,
    FdName,
    FdNameraw,
    FdDirectory,
    FdFilename,
    FdIp,
    FdCip,
    FdSip,
    FdLip,
    FdRip,
    FdPort,
    FdCport,
    FdSport,
    FdLport,
    FdRport,
    FdL4proto,
    FdSockfamily,
    FdIsServer,
    FdNet,
    FdCnet,
    FdSnet,
    FdLnet,
    FdRnet,
    FdConnected,
    FdNameChanged,
    ContainerId,
    ContainerFullId,
    ContainerName,
    ContainerImage,
    ContainerImageRepository,
    ContainerImageTag,
    ContainerImageDigest,
    ContainerImageId,
    ContainerPrivileged,
    K8sPodName,
    K8sNsName,
    K8sPodUid,
    ContainerType,
}

const NAMES: &[(&str, F)] = &[
    ("evt.num", F::EvtNum),
    ("evt.time", F::EvtTime),
    ("evt.time.s", F::EvtTimeS),
    ("evt.datetime", F::EvtDatetime),
    ("evt.rawtime", F::EvtRawtime),
    ("evt.rawtime.s", F::EvtRawtimeS),
    ("evt.rawtime.ns", F::EvtRawtimeNs),
    ("evt.source", F::EvtSource),
    ("evt.dir", F::EvtDir),
    ("evt.type", F::EvtType),
    ("evt.args", F::EvtArgs),
    ("evt.arg", F::EvtArg),
    ("evt.res", F::EvtRes),
    ("evt.rawres", F::EvtRawres),
    ("evt.failed", F::EvtFailed),
    ("evt.is_open_read", F::EvtIsOpenRead),
    ("evt.is_open_write", F::EvtIsOpenWrite),
    ("evt.is_open_exec", F::EvtIsOpenExec),
    ("evt.is_open_create", F::EvtIsOpenCreate),
    ("proc.exe", F::ProcExe),
    ("proc.pexe", F::ProcPexe),
    ("proc.aexe", F::ProcAexe),
    ("proc.exepath", F::ProcExepath),
    ("proc.pexepath", F::ProcPexepath),
    ("proc.aexepath", F::ProcAexepath),
    ("proc.name", F::ProcName),
    ("proc.pname", F::ProcPname),
    ("proc.aname", F::ProcAname),
    ("proc.args", F::ProcArgs),
    ("proc.cmdline", F::ProcCmdline),
    ("proc.pcmdline", F::ProcPcmdline),
    ("proc.acmdline", F::ProcAcmdline),
    ("proc.cmdnargs", F::ProcCmdnargs),
    ("proc.exeline", F::ProcExeline),
    ("proc.cwd", F::ProcCwd),
    ("proc.tty", F::ProcTty),
    ("proc.pid", F::ProcPid),
    ("proc.pid.ts", F::ProcPidTs),
    ("proc.ppid.ts", F::ProcPpidTs),
    ("proc.ppid", F::ProcPpid),
    ("proc.apid", F::ProcApid),
    ("proc.vpid", F::ProcVpid),
    ("proc.sid", F::ProcSid),
    ("proc.sname", F::ProcSname),
    ("proc.vpgid", F::ProcVpgid),
    ("proc.vpgid.name", F::ProcVpgidName),
    ("proc.vpgid.exe", F::ProcVpgidExe),
    ("proc.vpgid.exepath", F::ProcVpgidExepath),
    ("proc.is_sid_leader", F::ProcIsSidLeader),
    ("proc.is_vpgid_leader", F::ProcIsVpgidLeader),
    ("proc.duration", F::ProcDuration),
    ("proc.ppid.duration", F::ProcPpidDuration),
    ("proc.is_exe_from_memfd", F::ProcIsExeFromMemfd),
    ("proc.is_exe_upper_layer", F::ProcIsExeUpperLayer),
    ("proc.is_exe_lower_layer", F::ProcIsExeLowerLayer),
    ("proc.exe_ino", F::ProcExeIno),
    ("thread.cap_permitted", F::CapPermitted),
    ("thread.cap_effective", F::CapEffective),
    ("thread.tid", F::ThreadTid),
    ("thread.ismain", F::ThreadIsMain),
    ("user.uid", F::UserUid),
    ("user.name", F::UserName),
    ("user.loginuid", F::UserLoginuid),
    ("user.loginname", F::UserLoginname),
    ("group.gid", F::GroupGid),
    ("group.name", F::GroupName),
    ("fd.num", F::FdNum),
    ("fd.type", F::FdType),
    ("fd.typechar", F::FdTypechar),
    ("fd.name", F::FdName),
    ("fd.nameraw", F::FdNameraw),
    ("fd.directory", F::FdDirectory),
    ("fd.filename", F::FdFilename),
    ("fd.ip", F::FdIp),
    ("fd.cip", F::FdCip),
    ("fd.sip", F::FdSip),
    ("fd.lip", F::FdLip),
    ("fd.rip", F::FdRip),
    ("fd.port", F::FdPort),
    ("fd.cport", F::FdCport),
    ("fd.sport", F::FdSport),
    ("fd.lport", F::FdLport),
    ("fd.rport", F::FdRport),
    ("fd.l4proto", F::FdL4proto),
    ("fd.sockfamily", F::FdSockfamily),
    ("fd.is_server", F::FdIsServer),
    ("fd.net", F::FdNet),
    ("fd.cnet", F::FdCnet),
    ("fd.snet", F::FdSnet),
    ("fd.lnet", F::FdLnet),
    ("fd.rnet", F::FdRnet),
    ("fd.connected", F::FdConnected),
    ("fd.name_changed", F::FdNameChanged),
    ("container.id", F::ContainerId),
    ("container.full_id", F::ContainerFullId),
    ("container.name", F::ContainerName),
    ("container.image", F::ContainerImage),
    ("container.image.repository", F::ContainerImageRepository),
    ("container.image.tag", F::ContainerImageTag),
    ("container.image.digest", F::ContainerImageDigest),
    ("container.image.id", F::ContainerImageId),
    ("container.privileged", F::ContainerPrivileged),
    ("k8s.pod.name", F::K8sPodName),
    ("k8s.ns.name", F::K8sNsName),
    ("k8s.pod.uid", F::K8sPodUid),
    ("container.type", F::ContainerType),
];

/// Field id (index in the syscall schema) → what we fill, built once.
fn field_map() -> &'static [Option<F>] {
    static MAP: OnceLock<Vec<Option<F>>> = OnceLock::new();
    MAP.get_or_init(|| {
        let table = &tripline_sources::syscall::schema().fields;
        let mut map = vec![None; table.defs().len()];
        for (name, f) in NAMES {
            if let Some((id, _)) = table.get(name) {
                map[id as usize] = Some(*f);
            }
        }
        map
    })
}

/// Names of the syscall fields Tripline fills (the rest of the schema yields no value).
pub fn supported_fields() -> impl Iterator<Item = &'static str> {
    NAMES.iter().map(|(n, _)| *n)
}

fn s(v: &str) -> Value<'_> {
    Value::Str(Cow::Borrowed(v))
}

fn owned<'x>(v: String) -> Value<'x> {
    Value::Str(Cow::Owned(v))
}

fn index(arg: &FieldArg) -> Option<usize> {
    match arg {
        FieldArg::Index(i) => Some(*i),
        FieldArg::Key(k) => k.parse().ok(),
        FieldArg::None => None,
    }
}

impl Event for SyscallEvent<'_> {
    fn source(&self) -> &str {
        "syscall"
    }

    fn time_ns(&self) -> u64 {
        self.ts_ns
    }

    fn event_type(&self) -> Option<&str> {
        Some(self.type_name)
    }

    fn extract(&self, field: &FieldRef) -> Option<Value<'_>> {
        let f = (*field_map().get(field.id as usize)?)?;
        let procs = self.state.processes();
        let p = || self.process;
        let info = || {
            p()?.container_id
                .as_deref()
                .and_then(|id| self.state.container_info(id))
        };
        let parent = || procs.get(self.process?.ppid).filter(|q| q.pid != self.pid);
        let users = self.state.users();
        let fd = || self.fd();
        let ep = || fd().and_then(|(_, f)| f.endpoints());
        let tuple = || fd().and_then(|(_, f)| f.sock.filter(|_| f.kind.is_ip()));
        let open_flags = || match self.kind.filter(|_| !self.enter)? {
            Kind::Open => Some(self.args[1]),
            Kind::Openat => Some(self.args[2]),
            Kind::Creat => Some(0o1101),
            Kind::Openat2 => fd().map(|(_, f)| f.flags as u64),
            _ => None,
        };
        let ancestors_or_nth = |arg: &FieldArg, g: &dyn Fn(&Process) -> Value<'_>| match index(arg)
        {
            Some(n) => procs.ancestor(self.pid, n).map(g),
            None => {
                let all: Vec<Value<'_>> = procs.ancestors(self.pid).map(g).collect();
                (!all.is_empty()).then_some(Value::List(all))
            }
        };
        let net = |ip: IpAddr| {
            let prefix = if ip.is_ipv4() { 32 } else { 128 };
            IpNet::new(ip, prefix).ok().map(Value::Net)
        };
        let duration = |proc: &Process| Value::Unsigned(self.ts_ns.saturating_sub(proc.start_ns));
        Some(match f {
            F::EvtNum => Value::Unsigned(self.num),
            F::EvtTime => owned(tripline_event::format_clock(self.ts_ns)),
            F::EvtTimeS => owned(tripline_event::format_clock(self.ts_ns)[..8].to_string()),
            F::EvtDatetime => owned(tripline_event::format_rfc3339(self.ts_ns)),
            F::EvtRawtime | F::EvtRawtimeNs => Value::Unsigned(self.ts_ns),
            F::EvtRawtimeS => Value::Unsigned(self.ts_ns / 1_000_000_000),
            F::EvtSource => s("syscall"),
            F::EvtDir => s(if self.enter { ">" } else { "<" }),
            F::EvtType => s(self.type_name),
            F::EvtArgs if self.enter => s(""),
            F::EvtArgs => owned(format!("res={}", self.ret)),
            F::EvtArg if self.enter => return None,
            F::EvtArg => return self.arg(&field.arg.text()?),
            F::EvtRes | F::EvtRawres | F::EvtFailed if self.enter => return None,
            F::EvtRes => owned(names::result(self.ret)),
            F::EvtRawres => Value::Signed(self.ret),
            F::EvtFailed => Value::Bool(self.ret < 0),
            F::EvtIsOpenRead => Value::Bool(names::open_reads(open_flags()?)),
            F::EvtIsOpenWrite => Value::Bool(names::open_writes(open_flags()?)),
            F::EvtIsOpenExec => Value::Bool(false),
            F::EvtIsOpenCreate => Value::Bool(open_flags()? & 0o100 != 0),
            F::ProcExe => s(&p()?.exe),
            F::ProcPexe => s(&parent()?.exe),
            F::ProcAexe => return ancestors_or_nth(&field.arg, &|q| s(&q.exe)),
            F::ProcExepath => s(&p()?.exepath),
            F::ProcPexepath => s(&parent()?.exepath),
            F::ProcAexepath => return ancestors_or_nth(&field.arg, &|q| s(&q.exepath)),
            F::ProcName => s(&p()?.comm),
            F::ProcPname => s(&parent()?.comm),
            F::ProcAname => return ancestors_or_nth(&field.arg, &|q| s(&q.comm)),
            F::ProcArgs => owned(p()?.args.join(" ")),
            F::ProcCmdline => owned(p()?.cmdline()),
            F::ProcPcmdline => owned(parent()?.cmdline()),
            F::ProcAcmdline => return ancestors_or_nth(&field.arg, &|q| owned(q.cmdline())),
            F::ProcCmdnargs => Value::Unsigned(p()?.args.len() as u64),
            F::ProcExeline => {
                let q = p()?;
                let mut line = q.exe.clone();
                for a in &q.args {
                    line.push(' ');
                    line.push_str(a);
                }
                owned(line)
            }
            F::ProcCwd => s(&p()?.cwd),
            F::ProcTty => Value::Unsigned(p()?.tty as u64),
            F::ProcPid => Value::Signed(self.pid as i64),
            F::ProcPpid => Value::Signed(p()?.ppid as i64),
            F::ProcPidTs => Value::Unsigned(p()?.start_ns),
            F::ProcPpidTs => Value::Unsigned(parent()?.start_ns),
            F::ProcApid => return ancestors_or_nth(&field.arg, &|q| Value::Signed(q.pid as i64)),
            F::ProcVpid => Value::Signed(p()?.vpid as i64),
            F::ProcSid => Value::Signed(p()?.sid as i64),
            F::ProcSname => s(&procs.get(p()?.sid)?.comm),
            F::ProcVpgid => Value::Signed(p()?.vpgid as i64),
            F::ProcVpgidName => s(&self.pgid_leader()?.comm),
            F::ProcVpgidExe => s(&self.pgid_leader()?.exe),
            F::ProcVpgidExepath => s(&self.pgid_leader()?.exepath),
            F::ProcIsSidLeader => Value::Bool(p()?.sid == self.pid),
            F::ProcIsVpgidLeader => Value::Bool(p()?.vpgid == p()?.vpid),
            F::ProcDuration => duration(p()?),
            F::ProcPpidDuration => duration(parent()?),
            F::ProcIsExeFromMemfd => Value::Bool(p()?.exe_from_memfd),
            F::ProcIsExeUpperLayer => Value::Bool(p()?.exe_upper_layer == Some(true)),
            F::ProcIsExeLowerLayer => Value::Bool(p()?.exe_upper_layer == Some(false)),
            F::ProcExeIno => Value::Signed(p()?.exe_ino as i64),
            F::CapPermitted => owned(names::capabilities(p()?.cap_permitted)),
            F::CapEffective => owned(names::capabilities(p()?.cap_effective)),
            F::ThreadTid => Value::Signed(self.tid as i64),
            F::ThreadIsMain => Value::Bool(self.tid == self.pid),
            F::UserUid => Value::Unsigned(p()?.euid as u64),
            F::UserName => s(users.user(p()?.euid).unwrap_or("<NA>")),
            F::UserLoginuid => {
                let l = p()?.loginuid;
                Value::Signed(if l == u32::MAX { -1 } else { l as i64 })
            }
            F::UserLoginname => {
                let l = p()?.loginuid;
                s(if l == u32::MAX {
                    "<NA>"
                } else {
                    users.user(l).unwrap_or("<NA>")
                })
            }
            F::GroupGid => Value::Unsigned(p()?.egid as u64),
            F::GroupName => s(users.group(p()?.egid).unwrap_or("<NA>")),
            F::FdNum => Value::Signed(fd()?.0),
            F::FdType => s(fd()?.1.kind.type_name()),
            F::FdTypechar => s(fd()?.1.kind.type_char()),
            F::FdName => s(&fd()?.1.name),
            F::FdNameraw => s(&fd()?.1.name_raw),
            F::FdDirectory => s(fd()?.1.directory()?),
            F::FdFilename => s(fd()?.1.filename()?),
            F::FdIp => {
                let (c, _, sv, _) = ep()?;
                Value::List(vec![Value::Ip(c), Value::Ip(sv)])
            }
            F::FdCip => Value::Ip(ep()?.0),
            F::FdSip => Value::Ip(ep()?.2),
            F::FdLip => Value::Ip(tuple()?.local),
            F::FdRip => Value::Ip(tuple()?.remote),
            F::FdPort => {
                let (_, cp, _, sp) = ep()?;
                Value::List(vec![Value::Unsigned(cp as u64), Value::Unsigned(sp as u64)])
            }
            F::FdCport => Value::Unsigned(ep()?.1 as u64),
            F::FdSport => Value::Unsigned(ep()?.3 as u64),
            F::FdLport => Value::Unsigned(tuple()?.lport as u64),
            F::FdRport => Value::Unsigned(tuple()?.rport as u64),
            F::FdL4proto => s(match tuple()?.protocol {
                6 => "tcp",
                17 => "udp",
                1 | 58 => "icmp",
                _ => "raw",
            }),
            F::FdSockfamily => s(match fd()?.1.kind {
                FdKind::Ipv4 | FdKind::Ipv6 => "ip",
                FdKind::Unix => "unix",
                _ => return None,
            }),
            F::FdIsServer => Value::Bool(matches!(fd()?.1.role, crate::fd::Role::Server)),
            F::FdNet => {
                let (c, _, sv, _) = ep()?;
                Value::List(vec![net(c)?, net(sv)?])
            }
            F::FdCnet => net(ep()?.0)?,
            F::FdSnet => net(ep()?.2)?,
            F::FdLnet => net(tuple()?.local)?,
            F::FdRnet => net(tuple()?.remote)?,
            F::FdConnected => Value::Bool(tuple()?.connected()),
            F::FdNameChanged => Value::Bool(false),
            F::ContainerId => match &p()?.container_id {
                Some(id) => s(container::short_id(id)),
                None => s(container::HOST),
            },
            F::ContainerFullId => match &p()?.container_id {
                Some(id) => s(id),
                None => s(container::HOST),
            },
            F::ContainerName => match &p()?.container_id {
                Some(id) => s(self.state.container_info(id)?.name.as_deref()?),
                None => s(container::HOST),
            },
            F::ContainerType => match &p()?.container_id {
                Some(id) => s(self.state.container_info(id)?.runtime),
                None => s(container::HOST),
            },
            F::ContainerImage => s(info()?.image.as_deref()?),
            F::ContainerImageRepository => s(info()?.image_repository()?),
            F::ContainerImageTag => s(info()?.image_tag()?),
            F::ContainerImageDigest => s(info()?.image_digest()?),
            F::ContainerImageId => s(info()?.image_id.as_deref()?),
            F::ContainerPrivileged => Value::Bool(info()?.privileged?),
            F::K8sPodName => s(info()?.pod_name.as_deref()?),
            F::K8sNsName => s(info()?.pod_namespace.as_deref()?),
            F::K8sPodUid => s(info()?.pod_uid.as_deref()?),
        })
    }
}

impl SyscallEvent<'_> {
    fn pgid_leader(&self) -> Option<&Process> {
        let p = self.process()?;
        let procs = self.state.processes();
        // vpgid is namespace-relative; walk ancestors for the leader with that vpid.
        std::iter::once(p)
            .chain(procs.ancestors(self.pid))
            .find(|q| q.vpid == p.vpgid)
    }
}
