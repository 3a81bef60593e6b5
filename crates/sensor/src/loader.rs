//! Loads the kernel programs with aya, hooks the syscalls the rules need (per-syscall
//! tracepoints, or raw tracepoints with a switch and tail-call table), and drains the ring
//! buffer.

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aya::maps::{Array, MapData, PerCpuArray, ProgramArray, RingBuf};
use aya::programs::{Program, ProgramError, RawTracePoint, TracePoint};
use aya::{Ebpf, EbpfLoader};
use tripline_syscall::Kind;

use crate::syscalls::{self, Shape};

/// `interesting[nr]` bits: report at exit; copy the user argument at entry.
const ON_EXIT: u8 = 1;
const ON_ENTER: u8 = 2;

/// Size of the kernel's per-syscall switch (`MAX_SYSCALLS` in sensor.bpf.c).
const MAX_SYSCALLS: u32 = 512;

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/sensor.bpf.o"));

/// Why the sensor could not start.
#[derive(Debug, thiserror::Error)]
pub enum SensorError {
    /// Missing privileges.
    #[error(
        "the eBPF sensor needs root, or the capabilities CAP_BPF, CAP_PERFMON and \
         CAP_SYS_RESOURCE (missing: {0}); run it with sudo"
    )]
    Privileges(String),
    /// No kernel BTF.
    #[error(
        "the kernel has no BTF type information (/sys/kernel/btf/vmlinux is missing); the \
         sensor needs a kernel built with CONFIG_DEBUG_INFO_BTF=y"
    )]
    NoBtf,
    /// The kernel refused the programs or maps.
    #[error("loading the eBPF programs failed: {0}")]
    Load(String),
    /// Attaching to a tracepoint failed.
    #[error("attaching to tracepoint {tracepoint} failed: {reason}")]
    Attach {
        /// Tracepoint name.
        tracepoint: String,
        /// Kernel or loader message.
        reason: String,
    },
    /// Syscall tracepoints were asked for and this kernel has none.
    #[error(
        "the kernel has no syscall tracepoints (tracefs events/syscalls: not found and could \
         not be mounted at /sys/kernel/tracing); use --hooks raw"
    )]
    NoSyscallTracepoints,
}

/// How the sensor hooks syscalls.
///
/// ```
/// use tripline_sensor::Hooks;
/// assert_eq!("raw".parse::<Hooks>(), Ok(Hooks::Raw));
/// assert_eq!(Hooks::SyscallTracepoints.to_string(), "syscall-tracepoints");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hooks {
    /// Syscall tracepoints when the kernel has them and not every syscall is reported, else
    /// raw tracepoints.
    #[default]
    Auto,
    /// `raw_tracepoint/sys_enter` and `sys_exit`: every syscall of every process runs a BPF
    /// program that checks the switch. Needed to report every syscall and to count ia32
    /// syscalls; costs every syscall about 40 ns more than syscall tracepoints.
    Raw,
    /// One `syscalls/sys_exit_NAME` (and `sys_enter_NAME` where the argument is copied at
    /// entry) per reported syscall: other syscalls run no BPF at all. The kernel leaves ia32
    /// syscalls out of these tracepoints, so they are not counted.
    SyscallTracepoints,
}

impl std::fmt::Display for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Hooks::Auto => "auto",
            Hooks::Raw => "raw",
            Hooks::SyscallTracepoints => "syscall-tracepoints",
        })
    }
}

impl std::str::FromStr for Hooks {
    type Err = String;
    fn from_str(s: &str) -> Result<Hooks, String> {
        match s {
            "auto" => Ok(Hooks::Auto),
            "raw" => Ok(Hooks::Raw),
            "syscall-tracepoints" => Ok(Hooks::SyscallTracepoints),
            _ => Err(format!(
                "unknown hooks {s:?} (expected auto, raw or syscall-tracepoints)"
            )),
        }
    }
}

/// Sensor settings.
#[derive(Debug, Clone)]
pub struct SensorConfig {
    /// Syscalls to report; `None` reports every syscall Tripline decodes.
    pub syscalls: Option<BTreeSet<Kind>>,
    /// Ring buffer size in bytes (a power of two, at least one page).
    pub ring_bytes: u32,
    /// Also report syscalls Tripline does not decode (raw arguments only): a load test of the
    /// whole pipeline. Implies raw hooks.
    pub every_syscall: bool,
    /// How syscalls are hooked.
    pub hooks: Hooks,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            syscalls: None,
            ring_bytes: 64 << 20,
            every_syscall: false,
            hooks: Hooks::Auto,
        }
    }
}

/// Counters kept by the kernel programs (summed over CPUs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelCounters {
    /// Records written to the ring buffer.
    pub emitted: u64,
    /// Records lost because the ring buffer was full.
    pub dropped_ringbuf: u64,
    /// Records lost for lack of a scratch buffer.
    pub dropped_scratch: u64,
    /// Records whose variable fields were cut at the size limit.
    pub truncated: u64,
    /// Syscall exits handed to a decoder (reported syscalls, before the TCP filter of
    /// sendto/recvfrom).
    pub dispatched: u64,
    /// 32-bit (ia32) syscalls seen and not decoded (their numbering differs from x86_64).
    pub compat_skipped: u64,
}

impl KernelCounters {
    /// All lost records.
    pub fn dropped(&self) -> u64 {
        self.dropped_ringbuf + self.dropped_scratch
    }
}

/// A loaded, attached sensor. Dropping it detaches every program.
pub struct Sensor {
    _ebpf: Ebpf,
    ring: RingBuf<MapData>,
    counters: PerCpuArray<MapData, u64>,
    enabled: BTreeSet<Kind>,
    hooks: Hooks,
    unhooked: Vec<Kind>,
}

impl std::fmt::Debug for Sensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sensor")
            .field("enabled", &self.enabled)
            .field("hooks", &self.hooks)
            .field("unhooked", &self.unhooked)
            .finish()
    }
}

/// Checks for root or the capabilities the sensor needs, naming what is missing.
pub fn check_privileges() -> Result<(), SensorError> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    // CAP_SYS_ADMIN covers BPF and PERFMON on every kernel. CAP_SYS_RESOURCE is only needed
    // before 5.11, where BPF memory counts against RLIMIT_MEMLOCK; the load error says so there.
    let has = |bit: u32| eff & (1u64 << bit) != 0;
    if has(21) {
        return Ok(());
    }
    let missing: Vec<&str> = [(39, "CAP_BPF"), (38, "CAP_PERFMON")]
        .iter()
        .filter(|(bit, _)| !has(*bit))
        .map(|(_, n)| *n)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(SensorError::Privileges(missing.join(", ")))
    }
}

impl Sensor {
    /// Loads and attaches the sensor. `self_pid`'s own syscalls are not reported.
    pub fn start(cfg: &SensorConfig) -> Result<Sensor, SensorError> {
        check_privileges()?;
        if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
            return Err(SensorError::NoBtf);
        }
        raise_memlock_limit();
        let self_tgid = std::process::id();
        let wakeup = (cfg.ring_bytes / 4) as u64;
        let mut ebpf = EbpfLoader::new()
            .override_global("self_tgid", &self_tgid, true)
            .override_global("wakeup_bytes", &wakeup, true)
            .map_max_entries("events", cfg.ring_bytes)
            .load(OBJECT)
            .map_err(|e| SensorError::Load(error_chain(&e)))?;

        let mut enabled: BTreeSet<Kind> = match &cfg.syscalls {
            Some(set) => set.clone(),
            None => Kind::ALL.iter().copied().collect(),
        };
        let tracefs = match cfg.hooks {
            Hooks::Raw => None,
            _ if cfg.every_syscall => None,
            Hooks::Auto => syscall_tracepoints(),
            Hooks::SyscallTracepoints => {
                Some(syscall_tracepoints().ok_or(SensorError::NoSyscallTracepoints)?)
            }
        };
        let (hooks, unhooked) = match tracefs {
            Some(dir) => {
                let unhooked = attach_syscall_tracepoints(&mut ebpf, &enabled, &dir)?;
                (Hooks::SyscallTracepoints, unhooked)
            }
            None => {
                fill_switch(&mut ebpf, &enabled, cfg.every_syscall)?;
                (Hooks::Raw, Vec::new())
            }
        };
        for k in &unhooked {
            enabled.remove(k);
        }

        let mut raw = vec![
            ("tl_exec", "sched_process_exec"),
            ("tl_fork", "sched_process_fork"),
            ("tl_exit", "sched_process_exit"),
        ];
        if hooks == Hooks::Raw {
            raw.extend([("tl_sys_enter", "sys_enter"), ("tl_sys_exit", "sys_exit")]);
        }
        for (name, tp) in raw {
            let prog: &mut RawTracePoint = program(&mut ebpf, name)?;
            prog.load()
                .map_err(|e| SensorError::Load(format!("{name}: {e:#}")))?;
            prog.attach(tp).map_err(|e| SensorError::Attach {
                tracepoint: tp.to_string(),
                reason: format!("{e:#}"),
            })?;
        }

        let ring = RingBuf::try_from(take(&mut ebpf, "events")?)
            .map_err(|e| SensorError::Load(e.to_string()))?;
        let counters = PerCpuArray::try_from(take(&mut ebpf, "counters")?)
            .map_err(|e| SensorError::Load(e.to_string()))?;
        Ok(Sensor {
            _ebpf: ebpf,
            ring,
            counters,
            enabled,
            hooks,
            unhooked,
        })
    }

    /// Syscalls the kernel reports.
    pub fn enabled(&self) -> &BTreeSet<Kind> {
        &self.enabled
    }

    /// How syscalls are hooked (never [`Hooks::Auto`]).
    pub fn hooks(&self) -> Hooks {
        self.hooks
    }

    /// Syscalls asked for that this kernel has no tracepoint for (with syscall tracepoints:
    /// syscalls the kernel was built without, such as init_module without module support).
    pub fn unhooked(&self) -> &[Kind] {
        &self.unhooked
    }

    /// Calls `f` for every record waiting, after waiting up to `timeout` when none is.
    /// Returns the number of records handled.
    pub fn poll(&mut self, timeout: Duration, mut f: impl FnMut(&[u8])) -> usize {
        let mut n = drain(&mut self.ring, &mut f);
        if n == 0 && !timeout.is_zero() {
            let mut pfd = libc::pollfd {
                fd: self.ring.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            unsafe {
                libc::poll(
                    &mut pfd,
                    1,
                    timeout.as_millis().min(i32::MAX as u128) as i32,
                )
            };
            n = drain(&mut self.ring, &mut f);
        }
        n
    }

    /// Current kernel counters.
    pub fn counters(&self) -> KernelCounters {
        let sum = |i: u32| -> u64 {
            self.counters
                .get(&i, 0)
                .map(|v| v.iter().sum())
                .unwrap_or(0)
        };
        KernelCounters {
            emitted: sum(0),
            dropped_ringbuf: sum(1),
            dropped_scratch: sum(2),
            truncated: sum(3),
            dispatched: sum(4),
            compat_skipped: sum(5),
        }
    }
}

fn drain(ring: &mut RingBuf<MapData>, f: &mut impl FnMut(&[u8])) -> usize {
    let mut n = 0;
    while let Some(item) = ring.next() {
        f(&item);
        n += 1;
    }
    n
}

/// Raw hooks: loads the decoders into the tail-call table and sets `interesting[nr]` for each
/// reported syscall (every syscall with `every_syscall`).
fn fill_switch(
    ebpf: &mut Ebpf,
    enabled: &BTreeSet<Kind>,
    every_syscall: bool,
) -> Result<(), SensorError> {
    let mut prog_fds = Vec::new();
    for &shape in Shape::ALL {
        let prog: &mut RawTracePoint = program(ebpf, shape.program())?;
        prog.load()
            .map_err(|e| SensorError::Load(format!("{}: {e:#}", shape.program())))?;
        let fd = prog
            .fd()
            .map_err(|e| SensorError::Load(e.to_string()))?
            .try_clone()
            .map_err(|e| SensorError::Load(e.to_string()))?;
        prog_fds.push((shape, fd));
    }
    let mut tails = ProgramArray::try_from(take(ebpf, "exit_progs")?)
        .map_err(|e| SensorError::Load(e.to_string()))?;
    let mut switch: Array<MapData, u8> = Array::try_from(take(ebpf, "interesting")?)
        .map_err(|e| SensorError::Load(e.to_string()))?;
    for &(nr, kind, shape) in syscalls::TABLE {
        if !enabled.contains(&kind) {
            continue;
        }
        let fd = &prog_fds
            .iter()
            .find(|(s, _)| *s == shape)
            .expect("every shape loaded")
            .1;
        tails
            .set(nr, fd, 0)
            .map_err(|e| SensorError::Load(format!("tail call {nr}: {e}")))?;
        let bits = if copies_at_entry(kind) {
            ON_EXIT | ON_ENTER
        } else {
            ON_EXIT
        };
        switch
            .set(nr, bits, 0)
            .map_err(|e| SensorError::Load(format!("switch {nr}: {e}")))?;
    }
    if every_syscall {
        for nr in 0..MAX_SYSCALLS {
            if switch.get(&nr, 0).unwrap_or(0) != 0 {
                continue;
            }
            switch
                .set(nr, 1, 0)
                .map_err(|e| SensorError::Load(format!("switch {nr}: {e}")))?;
        }
    }
    // The tables stay alive in the kernel while the programs that use them are loaded.
    std::mem::forget(tails);
    std::mem::forget(switch);
    Ok(())
}

/// Syscall tracepoints: attaches each shape's decoder to `sys_exit_NAME` of every reported
/// syscall of that shape, and the entry copy to `sys_enter_NAME` where needed. Returns the
/// reported syscalls this kernel has no tracepoint for.
fn attach_syscall_tracepoints(
    ebpf: &mut Ebpf,
    enabled: &BTreeSet<Kind>,
    tracefs: &Path,
) -> Result<Vec<Kind>, SensorError> {
    let events = tracefs.join("events/syscalls");
    let mut unhooked = Vec::new();
    for &shape in Shape::ALL {
        let kinds: Vec<Kind> = syscalls::TABLE
            .iter()
            .filter(|(_, k, s)| *s == shape && enabled.contains(k))
            .map(|&(_, k, _)| k)
            .collect();
        if !kinds.is_empty() {
            let name = format!("{}_tp", shape.program());
            unhooked.extend(attach_each(ebpf, &name, &kinds, "exit", &events)?);
        }
    }
    // Without an exit tracepoint there is nothing to copy for; a missing entry tracepoint
    // leaves the exit reading the argument itself.
    let entry: Vec<Kind> = enabled
        .iter()
        .copied()
        .filter(|&k| copies_at_entry(k) && !unhooked.contains(&k))
        .collect();
    if !entry.is_empty() {
        attach_each(ebpf, "tl_tp_sys_enter", &entry, "enter", &events)?;
    }
    unhooked.sort();
    Ok(unhooked)
}

/// Loads tracepoint program `prog_name` and attaches it to `syscalls/sys_{dir}_NAME` of each
/// kind. Returns the kinds whose tracepoint this kernel lacks.
fn attach_each(
    ebpf: &mut Ebpf,
    prog_name: &str,
    kinds: &[Kind],
    dir: &str,
    events: &Path,
) -> Result<Vec<Kind>, SensorError> {
    let prog: &mut TracePoint = program(ebpf, prog_name)?;
    prog.load()
        .map_err(|e| SensorError::Load(format!("{prog_name}: {e:#}")))?;
    let mut missing = Vec::new();
    for &kind in kinds {
        let tp = format!("sys_{dir}_{}", tracepoint_name(kind));
        if !events.join(&tp).is_dir() {
            missing.push(kind);
            continue;
        }
        prog.attach("syscalls", &tp)
            .map_err(|e| SensorError::Attach {
                tracepoint: format!("syscalls/{tp}"),
                reason: format!("{e:#}"),
            })?;
    }
    Ok(missing)
}

/// The open family and connect also copy their user argument at entry (see `add_stashed` in
/// sensor.bpf.c).
fn copies_at_entry(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Open | Kind::Creat | Kind::Openat | Kind::Openat2 | Kind::Connect
    )
}

/// The name of a syscall's tracepoints (`sys_exit_NAME`), which is the kernel's
/// `SYSCALL_DEFINE` name: umount2 is defined as `umount`.
fn tracepoint_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Umount2 => "umount",
        k => k.name(),
    }
}

/// The tracefs mount holding `events/syscalls`. When none is mounted, mounts tracefs at
/// /sys/kernel/tracing, where systemd would have (needs CAP_SYS_ADMIN; without it the sensor
/// falls back to raw hooks).
fn syscall_tracepoints() -> Option<PathBuf> {
    let find = || {
        ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.join("events/syscalls").is_dir())
    };
    if let Some(dir) = find() {
        return Some(dir);
    }
    // SAFETY: constant NUL-terminated strings and no data argument.
    let rc = unsafe {
        libc::mount(
            c"tracefs".as_ptr(),
            c"/sys/kernel/tracing".as_ptr(),
            c"tracefs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        find()
    } else {
        None
    }
}

fn program<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut T, SensorError>
where
    &'a mut T: TryFrom<&'a mut Program, Error = ProgramError>,
{
    ebpf.program_mut(name)
        .ok_or_else(|| SensorError::Load(format!("program {name} missing from the object")))?
        .try_into()
        .map_err(|e| SensorError::Load(format!("{name}: {e}")))
}

fn take(ebpf: &mut Ebpf, name: &str) -> Result<aya::maps::Map, SensorError> {
    ebpf.take_map(name)
        .ok_or_else(|| SensorError::Load(format!("map {name} missing from the object")))
}

/// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
fn raise_memlock_limit() {
    let lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads one rlimit we own. Failure is fine on newer kernels.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) };
}

/// An error and its causes on one line (aya's top-level messages alone are vague).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
