//! The process table: one entry per live process, seeded from `/proc` and kept current by exec,
//! fork and exit events. Ancestor fields (`proc.pname`, `proc.aname[N]`) walk it by ppid.

use rustc_hash::FxHashMap;
use std::path::Path;

use crate::container;
use crate::fd::{Fd, FdKind, FdTable};
use crate::proc_net::SocketCache;

/// Clock ticks per second of `/proc/PID/stat` times (`USER_HZ`, 100 on every Linux ABI).
const USER_HZ: u64 = 100;

/// Most processes tracked; beyond this new processes are not added (and counted).
pub const MAX_PROCESSES: usize = 1 << 17;

/// What Tripline knows about one process.
///
/// ```
/// use tripline_syscall::process::Process;
/// let p = Process { comm: "cat".into(), args: vec!["/etc/shadow".into()], ..Process::default() };
/// assert_eq!(p.cmdline(), "cat /etc/shadow");
/// ```
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub vpid: u32,
    pub sid: u32,
    pub vpgid: u32,
    /// Controlling terminal device number, 0 when none.
    pub tty: u32,
    /// Kernel command name (`proc.name`), at most 15 bytes.
    pub comm: String,
    /// `argv[0]` (`proc.exe`).
    pub exe: String,
    /// Full path of the executable (`proc.exepath`).
    pub exepath: String,
    /// Arguments after `argv[0]`.
    pub args: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    /// `u32::MAX` when unset.
    pub loginuid: u32,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    /// Start time, ns since the Unix epoch.
    pub start_ns: u64,
    pub exe_ino: u64,
    pub exe_from_memfd: bool,
    /// The program lies in its container's overlay upper directory (written after the
    /// container started: `proc.is_exe_upper_layer`); `None` when not known.
    pub exe_upper_layer: Option<bool>,
    /// Full container id, `None` on the host.
    pub container_id: Option<String>,
    pub mnt_ns: u32,
    pub pid_ns: u32,
    pub net_ns: u32,
    pub fds: FdTable,
}

impl Process {
    /// `proc.cmdline`: the command name followed by the arguments.
    pub fn cmdline(&self) -> String {
        let mut s = self.comm.clone();
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }

    /// Reads a live process from `/proc` (used at start and for processes first seen mid-flight).
    /// `boot_epoch_ns` converts boot-relative start times to epoch time.
    pub fn from_proc(pid: u32, boot_epoch_ns: u64) -> Option<Process> {
        Process::from_proc_with(pid, boot_epoch_ns, &mut SocketCache::default())
    }

    /// When process `pid` started (ns since the epoch, at clock-tick resolution), read from
    /// `/proc/PID/stat` as [`Process::from_proc`] reads it; `None` when no such process runs.
    /// Compared with a recorded start time, it tells a live process from a reused pid.
    pub fn start_ns_of(pid: u32, boot_epoch_ns: u64) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let close = stat.rfind(')')?;
        let start_ticks: u64 = stat.get(close + 2..)?.split(' ').nth(19)?.parse().ok()?;
        Some(boot_epoch_ns + start_ticks * (1_000_000_000 / USER_HZ))
    }

    /// [`Process::from_proc`] sharing the socket tables of network namespaces already read.
    pub fn from_proc_with(
        pid: u32,
        boot_epoch_ns: u64,
        sockets: &mut SocketCache,
    ) -> Option<Process> {
        let dir = format!("/proc/{pid}");
        let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
        // comm may contain spaces and parentheses: the fields start after the last ')'.
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let comm = stat[open + 1..close].to_string();
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let ticks = USER_HZ;
        let mut p = Process {
            pid,
            comm,
            ppid: num(1) as u32,
            vpgid: num(2) as u32,
            sid: num(3) as u32,
            tty: num(4) as u32,
            start_ns: boot_epoch_ns + num(19) * (1_000_000_000 / ticks),
            vpid: pid,
            loginuid: u32::MAX,
            ..Process::default()
        };
        if let Ok(status) = std::fs::read_to_string(format!("{dir}/status")) {
            for line in status.lines() {
                let (key, val) = line.split_once(':').unwrap_or((line, ""));
                let nums: Vec<u64> = val
                    .split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect();
                match key {
                    "Uid" if nums.len() >= 2 => (p.uid, p.euid) = (nums[0] as u32, nums[1] as u32),
                    "Gid" if nums.len() >= 2 => (p.gid, p.egid) = (nums[0] as u32, nums[1] as u32),
                    "CapPrm" => p.cap_permitted = u64::from_str_radix(val.trim(), 16).unwrap_or(0),
                    "CapEff" => p.cap_effective = u64::from_str_radix(val.trim(), 16).unwrap_or(0),
                    "NSpid" => p.vpid = nums.last().copied().unwrap_or(pid as u64) as u32,
                    _ => {}
                }
            }
        }
        if let Ok(cmdline) = std::fs::read(format!("{dir}/cmdline")) {
            let mut argv = split_nul(&cmdline);
            if !argv.is_empty() {
                p.exe = argv.remove(0);
                p.args = argv;
            }
        }
        let link = |name: &str| {
            std::fs::read_link(format!("{dir}/{name}"))
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
        };
        p.exepath = link("exe").unwrap_or_default();
        p.exe_from_memfd = p.exepath.starts_with("/memfd:");
        p.cwd = link("cwd").unwrap_or_default();
        let ns = |name: &str| {
            link(&format!("ns/{name}"))
                .and_then(|l| l.split('[').nth(1)?.trim_end_matches(']').parse().ok())
                .unwrap_or(0)
        };
        (p.mnt_ns, p.pid_ns, p.net_ns) = (ns("mnt"), ns("pid"), ns("net"));
        if let Ok(l) = std::fs::read_to_string(format!("{dir}/loginuid")) {
            p.loginuid = l.trim().parse().unwrap_or(u32::MAX);
        }
        p.container_id =
            container::cgroup_of(pid).and_then(|c| container::full_id(&c).map(str::to_string));
        p.fds = fds_from_proc(&dir, |inode| sockets.socket(pid, p.net_ns, inode));
        Some(p)
    }
}

/// NUL-separated strings (argv blocks).
pub fn split_nul(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Open files and IP sockets of a live process; `socket` resolves a socket inode.
fn fds_from_proc(dir: &str, mut socket: impl FnMut(u64) -> Option<Fd>) -> FdTable {
    let mut table = FdTable::default();
    let Ok(entries) = std::fs::read_dir(format!("{dir}/fd")) else {
        return table;
    };
    for e in entries.flatten() {
        let Some(num) = e.file_name().to_str().and_then(|n| n.parse::<i64>().ok()) else {
            continue;
        };
        let Ok(target) = std::fs::read_link(e.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'))
            .and_then(|t| t.parse().ok())
        {
            if let Some(fd) = socket(inode) {
                if !table.insert(num, fd) {
                    break;
                }
            }
        } else if target.starts_with('/') {
            let kind = if Path::new(&target).is_dir() {
                FdKind::Directory
            } else {
                FdKind::File
            };
            if !table.insert(num, Fd::file(kind, target.clone(), target, 0)) {
                break;
            }
        }
    }
    table
}

/// All tracked processes, bounded by [`MAX_PROCESSES`].
///
/// ```
/// use tripline_syscall::process::{Process, ProcessTable};
/// let mut t = ProcessTable::default();
/// t.insert(Process { pid: 1, comm: "init".into(), ..Process::default() });
/// t.insert(Process { pid: 7, ppid: 1, comm: "sh".into(), ..Process::default() });
/// assert_eq!(t.ancestor(7, 1).map(|p| p.comm.as_str()), Some("init"));
/// ```
#[derive(Debug, Default)]
pub struct ProcessTable {
    procs: FxHashMap<u32, Process>,
    /// Processes not added because the table was full.
    pub dropped: u64,
}

impl ProcessTable {
    /// Every process, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Process> + '_ {
        self.procs.values()
    }

    /// Seeds the table from every process in `/proc`.
    pub fn from_proc(boot_epoch_ns: u64) -> ProcessTable {
        let mut t = ProcessTable::default();
        let mut sockets = SocketCache::default();
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for e in entries.flatten() {
                if let Some(pid) = e.file_name().to_str().and_then(|n| n.parse().ok()) {
                    if let Some(p) = Process::from_proc_with(pid, boot_epoch_ns, &mut sockets) {
                        t.insert(p);
                    }
                }
            }
        }
        t
    }

    /// A process by pid.
    pub fn get(&self, pid: u32) -> Option<&Process> {
        self.procs.get(&pid)
    }

    /// A process by pid, for updates.
    pub fn get_mut(&mut self, pid: u32) -> Option<&mut Process> {
        self.procs.get_mut(&pid)
    }

    /// Adds or replaces a process; returns false when the table is full.
    pub fn insert(&mut self, p: Process) -> bool {
        if self.procs.len() >= MAX_PROCESSES && !self.procs.contains_key(&p.pid) {
            self.dropped += 1;
            return false;
        }
        self.procs.insert(p.pid, p);
        true
    }

    /// Forgets a process.
    pub fn remove(&mut self, pid: u32) -> Option<Process> {
        self.procs.remove(&pid)
    }

    /// Number of processes tracked.
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// The `n`th ancestor (0 = the process itself), following ppid links.
    pub fn ancestor(&self, pid: u32, n: usize) -> Option<&Process> {
        let mut p = self.procs.get(&pid)?;
        for _ in 0..n {
            if p.ppid == 0 || p.ppid == p.pid {
                return None;
            }
            p = self.procs.get(&p.ppid)?;
        }
        Some(p)
    }

    /// Ancestors from the parent up, stopping at a loop or an unknown pid (at most 64).
    pub fn ancestors(&self, pid: u32) -> impl Iterator<Item = &Process> + '_ {
        (1..64).map_while(move |n| self.ancestor(pid, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_itself_from_proc() {
        let me = std::process::id();
        let p = Process::from_proc(me, 0).expect("own /proc entry");
        assert_eq!(p.pid, me);
        assert!(!p.comm.is_empty());
        assert!(p.exepath.starts_with('/'), "{}", p.exepath);
        assert!(p.ppid > 0);
        assert!(!p.fds.is_empty());
    }

    #[test]
    fn sockets_open_before_the_start_get_their_addresses() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (server, _) = listener.accept().unwrap();
        let cport = client.local_addr().unwrap().port();
        let p = Process::from_proc(std::process::id(), 0).unwrap();
        let fd_of = |fd: i64| p.fds.get(fd).map(|f| (f.name.clone(), f.role));
        use std::os::fd::AsRawFd;
        let conn = format!("127.0.0.1:{cport}->127.0.0.1:{port}");
        assert_eq!(
            fd_of(client.as_raw_fd() as i64),
            Some((conn.clone(), crate::fd::Role::Client))
        );
        assert_eq!(
            fd_of(server.as_raw_fd() as i64),
            Some((conn, crate::fd::Role::Server))
        );
        assert_eq!(
            fd_of(listener.as_raw_fd() as i64),
            Some((format!("127.0.0.1:{port}"), crate::fd::Role::Server))
        );
    }

    #[test]
    fn ancestors_follow_ppid_and_stop_at_loops() {
        let mut t = ProcessTable::default();
        for (pid, ppid, comm) in [(1, 0, "init"), (10, 1, "bash"), (20, 10, "cat")] {
            t.insert(Process {
                pid,
                ppid,
                comm: comm.into(),
                ..Process::default()
            });
        }
        assert_eq!(t.ancestor(20, 0).unwrap().comm, "cat");
        assert_eq!(t.ancestor(20, 2).unwrap().comm, "init");
        assert!(t.ancestor(20, 3).is_none());
        let names: Vec<_> = t.ancestors(20).map(|p| p.comm.as_str()).collect();
        assert_eq!(names, ["bash", "init"]);
    }

    #[test]
    fn nul_split() {
        assert_eq!(split_nul(b"sh\0-c\0id\0"), ["sh", "-c", "id"]);
        assert!(split_nul(b"").is_empty());
    }
}
