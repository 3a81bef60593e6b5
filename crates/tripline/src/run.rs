//! `tripline run`: the live agent. Starts the eBPF sensor, keeps process and fd state, runs the
//! syscall rules and reports alerts, drops and rates.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tripline_event::{Finding, Priority};
use tripline_pipeline::{Pipeline, Syscall};
use tripline_rules::Ruleset;
use tripline_scap::record::Recorder;
use tripline_sensor::wire::{self, Record};
use tripline_sensor::{Hooks, KernelCounters, Sensor, SensorConfig, SensorError};
use tripline_syscall::runtime::RuntimeDirs;
use tripline_syscall::{Kind, State, SyscallEvent};

/// Name of the alert raised when the kernel loses events (Falco's wording, so existing
/// routing keeps working).
pub const DROP_ALERT_RULE: &str = "Falco internal: syscall event drop";

/// Records in one drain that mean the agent is behind and should drain again at once.
const BUSY_BATCH: usize = 4096;

/// How often kernel counters are read (each read is a few bpf() calls).
const COUNTERS_EVERY: Duration = Duration::from_millis(100);

/// Seconds between two drop alerts.
const DROP_ALERT_EVERY: Duration = Duration::from_secs(30);

/// How to run.
///
/// ```
/// use std::time::Duration;
/// let cfg = tripline::run::RunConfig {
///     duration: Some(Duration::from_secs(10)),
///     ..Default::default()
/// };
/// assert!(!cfg.all_syscalls);
/// ```
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Reported as the alerts' `hostname`.
    pub hostname: String,
    /// Report every syscall Tripline decodes, not only those the rules need.
    pub all_syscalls: bool,
    /// Also report syscalls Tripline does not decode (counted, not evaluated): a load test.
    pub every_syscall: bool,
    /// Ring buffer size, bytes.
    pub ring_bytes: u32,
    /// How the sensor hooks syscalls.
    pub hooks: Hooks,
    /// Stop after this long (for tests and benchmarks); `None` runs until stopped.
    pub duration: Option<Duration>,
    /// Interval of [`RunObserver::on_stats`] calls.
    pub stats_interval: Option<Duration>,
    /// Also write every event to this capture file (`.scap`, gzip when it ends in `.gz`).
    pub capture: Option<std::path::PathBuf>,
    /// Where the host's filesystem is: container runtimes' state (names, images, pods) is read
    /// below it. `/` unless the agent runs in a container with the host mounted elsewhere.
    pub host_root: std::path::PathBuf,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            hostname: "localhost".into(),
            all_syscalls: false,
            every_syscall: false,
            ring_bytes: 64 << 20,
            hooks: Hooks::Auto,
            duration: None,
            stats_interval: None,
            capture: None,
            host_root: "/".into(),
        }
    }
}

/// What a run saw.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    /// Events evaluated by the rules.
    pub events: u64,
    /// Events by `evt.type`.
    pub events_by_type: BTreeMap<String, u64>,
    /// Alerts per rule.
    pub alerts_by_rule: BTreeMap<String, u64>,
    /// Kernel counters (records emitted, dropped, truncated).
    pub kernel: KernelCounters,
    /// Records user space could not decode.
    pub decode_errors: u64,
    /// Records handled (decoded and applied to state), evaluated or not.
    pub records: u64,
    /// Records of syscalls Tripline does not decode (`--every-syscall`), not evaluated.
    pub undecoded_syscalls: u64,
    /// Processes and fds not tracked because their tables were full.
    pub state_dropped: u64,
    /// Syscalls enabled in the kernel.
    pub syscalls: Vec<String>,
    /// How they are hooked.
    pub hooks: Hooks,
    /// Syscalls the rules need that this kernel has no tracepoint for (not reported).
    pub unhooked: Vec<String>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Events written to the capture file.
    pub captured: u64,
    /// Events Tripline decodes but has no capture layout for (not written).
    pub capture_skipped: u64,
    /// Why writing the capture stopped early, if it did.
    pub capture_error: Option<String>,
}

impl RunStats {
    /// Total alerts.
    pub fn alerts(&self) -> u64 {
        self.alerts_by_rule.values().sum()
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The sensor did not load or attach.
    #[error(transparent)]
    Sensor(#[from] SensorError),
    /// The capture file could not be created.
    #[error("capture file {path}: {source}")]
    Capture {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Callbacks of a run.
pub trait RunObserver {
    /// The sensor is attached and events flow; `stats` names the syscalls enabled and how they
    /// are hooked.
    fn on_ready(&mut self, _stats: &RunStats) {}
    /// One alert.
    fn on_alert(&mut self, finding: Finding);
    /// Periodic statistics: totals so far and the rate since the last call.
    fn on_stats(&mut self, _stats: &RunStats, _events_per_sec: f64, _drops_since_last: u64) {}
    /// Every event, before the detectors see it (for observers that learn from behaviour).
    fn on_event(&mut self, _ev: &SyscallEvent<'_>) {}
}

/// The syscalls to enable for `rules`: the event types they need plus the state syscalls.
pub fn needed_syscalls(rules: &Ruleset, all: bool) -> Option<BTreeSet<Kind>> {
    if all {
        return None;
    }
    let types = rules.event_types("syscall")?;
    let mut set: BTreeSet<Kind> = types.iter().filter_map(|t| Kind::from_name(t)).collect();
    set.extend(Kind::STATE.iter().copied());
    Some(set)
}

/// Runs the live agent until `stop` is set (or the configured duration passes): the sensor's
/// events, with process and fd state, go through `pipeline`; `syscalls` are those to report
/// (see [`needed_syscalls`]; `None` for every one Tripline decodes).
pub fn run(
    pipeline: &mut Pipeline<Syscall>,
    syscalls: Option<BTreeSet<Kind>>,
    cfg: &RunConfig,
    stop: &AtomicBool,
    observer: &mut dyn RunObserver,
) -> Result<RunStats, RunError> {
    // Seed state before attaching, so the first events find their processes.
    let state = State::from_proc_in(RuntimeDirs::under(&cfg.host_root));
    let boot = state.boot_epoch_ns();
    let mut sensor = Sensor::start(&SensorConfig {
        syscalls: if cfg.all_syscalls || cfg.every_syscall {
            None
        } else {
            syscalls
        },
        ring_bytes: cfg.ring_bytes,
        every_syscall: cfg.every_syscall,
        hooks: cfg.hooks,
    })?;
    let stats = RunStats {
        syscalls: sensor
            .enabled()
            .iter()
            .map(|k| k.name().to_string())
            .collect(),
        hooks: sensor.hooks(),
        unhooked: sensor
            .unhooked()
            .iter()
            .map(|k| k.name().to_string())
            .collect(),
        ..RunStats::default()
    };
    let recorder =
        match &cfg.capture {
            Some(path) => Some(open_capture(path, &state, &cfg.hostname).map_err(|source| {
                RunError::Capture {
                    path: path.display().to_string(),
                    source,
                }
            })?),
            None => None,
        };
    observer.on_ready(&stats);
    let mut p = Drain {
        boot,
        recorder,
        last_ts: 0,
        state,
        pipeline,
        stats,
        observer,
    };

    let start = Instant::now();
    let mut last_stats = (start, 0u64, 0u64);
    let mut last_drop_alert: Option<Instant> = None;
    let mut reported_drops = 0u64;
    let mut last_users_refresh = start;
    let mut idle = Duration::from_millis(1);
    let mut last_counters = start;
    while !stop.load(Ordering::Relaxed) {
        if cfg.duration.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
        let n = sensor.poll(idle, |bytes| p.handle(bytes));
        // Adaptive polling: the kernel wakes us early only when the ring is a quarter full, so
        // a full batch means "keep draining"; otherwise wait a little for records to batch up
        // (fewer wakeups, less CPU taken from the workload), up to 20 ms when idle.
        idle = if n >= BUSY_BATCH {
            Duration::ZERO
        } else if n > 0 {
            Duration::from_millis(2)
        } else {
            (idle * 2).clamp(Duration::from_millis(1), Duration::from_millis(20))
        };

        let now = Instant::now();
        if now.duration_since(last_counters) < COUNTERS_EVERY {
            continue;
        }
        last_counters = now;
        if now.duration_since(last_users_refresh) >= Duration::from_secs(5) {
            p.state.refresh_users();
            last_users_refresh = now;
        }
        let kernel = sensor.counters();
        if kernel.dropped() > reported_drops
            && last_drop_alert.is_none_or(|t| now.duration_since(t) >= DROP_ALERT_EVERY)
        {
            let alert = drop_alert(&kernel, kernel.dropped() - reported_drops, cfg);
            p.pipeline.count_external(&alert);
            p.observer.on_alert(alert);
            reported_drops = kernel.dropped();
            last_drop_alert = Some(now);
        }
        if let Some(every) = cfg.stats_interval {
            let since = now.duration_since(last_stats.0);
            if since >= every {
                p.stats.kernel = kernel;
                p.fill_stats();
                let rate = (p.stats.events - last_stats.1) as f64 / since.as_secs_f64();
                p.observer
                    .on_stats(&p.stats, rate, kernel.dropped() - last_stats.2);
                last_stats = (now, p.stats.events, kernel.dropped());
            }
        }
    }
    // Read the counters, then handle everything already in the ring buffer: every record the
    // kernel counted as emitted is evaluated before the sensor detaches.
    p.stats.kernel = sensor.counters();
    while sensor.poll(Duration::ZERO, |bytes| p.handle(bytes)) > 0 {}
    if let Some(rec) = p.recorder.take() {
        p.stats.captured = rec.written();
        p.stats.capture_skipped = rec.not_recorded;
        if let Err(e) = rec.finish().and_then(|mut w| w.flush()) {
            p.stats.capture_error.get_or_insert(e.to_string());
        }
    }
    p.pipeline.finish(&mut |f| p.observer.on_alert(f));
    p.fill_stats();
    p.stats.elapsed = start.elapsed();
    Ok(p.stats)
}

/// A capture file sink: gzip when the name ends in `.gz`.
type CaptureSink = Box<dyn std::io::Write + Send>;

fn open_capture(
    path: &std::path::Path,
    state: &State,
    hostname: &str,
) -> std::io::Result<Recorder<CaptureSink>> {
    let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let sink: CaptureSink = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        ))
    } else {
        Box::new(file)
    };
    Recorder::start(sink, state, hostname)
}

/// What the ring buffer is drained into: decoding, process and fd state, the capture file,
/// then the pipeline.
struct Drain<'a> {
    boot: u64,
    /// Capture file being written, if any.
    recorder: Option<Recorder<CaptureSink>>,
    /// Time of the latest record (exit records carry none).
    last_ts: u64,
    state: State,
    pipeline: &'a mut Pipeline<Syscall>,
    stats: RunStats,
    observer: &'a mut dyn RunObserver,
}

impl Drain<'_> {
    /// Copies the state's and the pipeline's counts into the statistics.
    fn fill_stats(&mut self) {
        fill_state_stats(&mut self.stats, &self.state);
        self.stats.alerts_by_rule = self.pipeline.alerts_by_rule().clone();
    }

    /// Decodes one ring-buffer record, applies it to the state and runs the pipeline.
    fn handle(&mut self, bytes: &[u8]) {
        let Drain {
            boot,
            recorder,
            last_ts,
            state,
            pipeline,
            stats,
            observer,
        } = self;
        stats.records += 1;
        let mut evaluate = |ev: &SyscallEvent<'_>| {
            stats.events += 1;
            *last_ts = ev.ts_ns();
            if let Some(rec) = recorder.as_mut() {
                if let Err(e) = rec.event(ev) {
                    stats.capture_error = Some(e.to_string());
                    *recorder = None;
                }
            }
            observer.on_event(ev);
            pipeline.process(ev, &mut |f| observer.on_alert(f));
        };
        match wire::decode(bytes, *boot) {
            Ok(Record::Exec(e)) => state.exec(&e, &mut evaluate),
            Ok(Record::Fork(f)) => {
                state.fork(&f);
                if let (Some(rec), Some(parent)) =
                    (recorder.as_mut(), state.processes().get(f.parent_pid))
                {
                    *last_ts = f.ts_ns;
                    if let Err(e) = rec.fork(f.ts_ns, parent, f.parent_pid, f.child_pid) {
                        stats.capture_error = Some(e.to_string());
                        *recorder = None;
                    }
                }
            }
            Ok(Record::Exit { pid }) => {
                if let Some(rec) = recorder.as_mut() {
                    if let Err(e) = rec.exit(pid, *last_ts) {
                        stats.capture_error = Some(e.to_string());
                        *recorder = None;
                    }
                }
                state.exit(pid)
            }
            Ok(Record::Syscall(s)) => {
                state.syscall(&s, &mut evaluate);
            }
            Err(_) => stats.decode_errors += 1,
        }
    }
}

fn fill_state_stats(stats: &mut RunStats, state: &State) {
    stats.events_by_type.clear();
    for (k, v) in &state.stats.events_by_type {
        *stats
            .events_by_type
            .entry(k.name().to_string())
            .or_default() += v;
    }
    stats.state_dropped = state.processes().dropped + state.stats.fds_dropped;
    stats.undecoded_syscalls = state.stats.unknown_syscalls;
}

fn drop_alert(k: &KernelCounters, new: u64, cfg: &RunConfig) -> Finding {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    Finding {
        rule: DROP_ALERT_RULE.to_string(),
        priority: Priority::Critical,
        source: "internal".into(),
        time_ns: now,
        message: format!(
            "Falco internal: syscall event drop. {new} system calls dropped since the last report."
        ),
        output_fields: vec![
            ("n_drops".into(), new.into()),
            ("n_drops_buffer".into(), k.dropped_ringbuf.into()),
            ("n_drops_scratch".into(), k.dropped_scratch.into()),
            ("n_evts".into(), k.emitted.into()),
        ],
        tags: vec![],
        hostname: cfg.hostname.clone(),
        process: None,
    }
}
