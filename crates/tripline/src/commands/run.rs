//! `tripline run`: the live agent.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tripline::format::FormatOptions;
use tripline::{bundled, rules_files};
use tripline_pipeline::{Pipeline, SigmaDetector, Syscall};

use super::args::*;
use super::*;

#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// Rules file or directory (repeatable, loaded in order, after the shipped falco_rules.yaml
    /// unless --no-default-rules).
    #[arg(long = "rules", short = 'r')]
    pub(crate) rules: Vec<String>,
    /// Do not load the shipped falco_rules.yaml.
    #[arg(long)]
    pub(crate) no_default_rules: bool,
    /// Sigma rule file or directory tree (repeatable): Linux process_creation, file_event and
    /// network_connection rules run on the sensor's events.
    #[arg(long)]
    pub(crate) sigma: Vec<String>,
    /// pySigma-style processing pipeline applied to the Sigma rules (repeatable).
    #[arg(long)]
    pub(crate) sigma_pipeline: Vec<String>,
    /// Alert format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    /// Also append alerts to this file (same format).
    #[arg(long, short = 'o')]
    pub(crate) output: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub(crate) select: SelectArgs,
    /// Print events/s, drops and alerts every N seconds on stderr (0 = never).
    #[arg(long, default_value_t = 0)]
    pub(crate) stats_interval: u64,
    /// Report every syscall Tripline decodes, not only those the rules need.
    #[arg(long)]
    pub(crate) all_syscalls: bool,
    /// Also report syscalls Tripline does not decode (counted, not evaluated): a pipeline load
    /// test, used by bench/sensor.sh.
    #[arg(long)]
    pub(crate) every_syscall: bool,
    /// Also write every event to a capture file (`.scap`, gzip if it ends in `.gz`) that
    /// `tripline replay`, `sysdig -r` and `falco -e` read. Add --all-syscalls to record more
    /// than the rules need.
    #[arg(long, value_name = "FILE")]
    pub(crate) capture: Option<std::path::PathBuf>,
    /// Ring buffer size in MiB (a power of two, 1 to 1024).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) ring_mib: u32,
    /// How syscalls are hooked: `syscall-tracepoints` runs BPF only for the syscalls the rules
    /// need; `raw` runs it on every syscall (also counts ia32 syscalls); `auto` picks the
    /// first unless --every-syscall is set or the kernel lacks syscall tracepoints.
    #[arg(
        long,
        default_value = "auto",
        value_name = "auto|raw|syscall-tracepoints"
    )]
    pub(crate) hooks: tripline_sensor::Hooks,
    /// Text appended to every syscall alert (Falco's `append_output`); empty to append nothing.
    #[arg(
        long,
        default_value = "container_id=%container.id container_name=%container.name"
    )]
    pub(crate) append_output: String,
    /// The host's root filesystem, where container runtimes keep the state that names
    /// containers and their images (`/var/lib/docker`, `/run/containerd`, ...). Set it when the
    /// agent runs in a container with the host mounted, e.g. `--host-root /host`.
    #[arg(
        long,
        value_name = "DIR",
        env = "TRIPLINE_HOST_ROOT",
        default_value = "/"
    )]
    pub(crate) host_root: PathBuf,
    /// Stop after N seconds (default: run until SIGINT or SIGTERM).
    #[arg(long)]
    pub(crate) duration: Option<u64>,
    /// Score programs run, destinations and listening ports of each workload against this
    /// baseline and report anomalies (learn one with --anomaly-learn).
    #[arg(long, value_name = "BASELINE", conflicts_with = "anomaly_learn")]
    pub(crate) anomaly: Option<PathBuf>,
    /// Learn each workload's programs, destinations and ports during this run into a baseline.
    #[arg(long, value_name = "FILE")]
    pub(crate) anomaly_learn: Option<PathBuf>,
    /// Anomaly score (0-1) at or above which an event is reported.
    #[arg(long, default_value_t = tripline::anomaly::DEFAULT_THRESHOLD)]
    pub(crate) anomaly_threshold: f64,
    #[command(flatten)]
    pub(crate) act: ActArgs,
    /// Where the web UI and API listen.
    #[arg(long, default_value = "127.0.0.1:8765")]
    pub(crate) listen: String,
    /// Serve no web UI or API.
    #[arg(long)]
    pub(crate) no_ui: bool,
}

/// Prints alerts and statistics of a live run.
pub(crate) struct LiveOutput {
    pub(crate) format: Format,
    pub(crate) opts: FormatOptions,
    pub(crate) stdout: io::Stdout,
    pub(crate) file: Option<io::BufWriter<std::fs::File>>,
    pub(crate) error: Option<io::Error>,
    pub(crate) rules_active: usize,
    pub(crate) act: tripline::act::Act,
    pub(crate) live: std::sync::Arc<std::sync::Mutex<tripline_server::LiveStats>>,
    pub(crate) print_stats: bool,
    /// Learning workload baselines (`--anomaly-learn`): watches every event.
    pub(crate) learning: Option<tripline::anomaly::Workloads>,
}

impl tripline::run::RunObserver for LiveOutput {
    fn on_ready(&mut self, stats: &tripline::run::RunStats) {
        let syscalls = &stats.syscalls;
        if let Ok(mut l) = self.live.lock() {
            l.syscalls = syscalls.to_vec();
            l.rules = self.rules_active as u64;
        }
        eprintln!(
            "tripline: sensor attached; {} rules active; {} syscalls enabled ({}) via {} hooks",
            self.rules_active,
            syscalls.len(),
            syscalls.join(","),
            stats.hooks
        );
        if !stats.unhooked.is_empty() {
            eprintln!(
                "tripline: not in this kernel (no syscall tracepoint), not reported: {}",
                stats.unhooked.join(",")
            );
        }
    }

    fn on_alert(&mut self, finding: tripline_event::Finding) {
        let line = self.format.line(&finding, &self.opts);
        let mut out = self.stdout.lock();
        // Alerts are flushed one by one: a live agent must not sit on them.
        let res = writeln!(out, "{line}").and_then(|_| out.flush());
        if let Err(e) = res {
            self.error.get_or_insert(e);
        }
        if let Some(f) = &mut self.file {
            if let Err(e) = writeln!(f, "{line}").and_then(|_| f.flush()) {
                self.error.get_or_insert(e);
            }
        }
        self.act.alert(finding);
    }

    fn on_event(&mut self, ev: &tripline_syscall::SyscallEvent<'_>) {
        if let Some(w) = self.learning.as_mut() {
            w.observe(ev);
        }
    }

    fn on_stats(&mut self, stats: &tripline::run::RunStats, rate: f64, drops: u64) {
        if let Ok(mut l) = self.live.lock() {
            l.events = stats.events;
            l.events_per_sec = rate;
            l.drops = stats.kernel.dropped() + stats.decode_errors;
            l.alerts = stats.alerts();
        }
        if !self.print_stats {
            return;
        }
        eprintln!(
            "tripline: {:.0} events/s, {} events, {} alerts, {} dropped since last ({} total)",
            rate,
            stats.events,
            stats.alerts(),
            drops,
            stats.kernel.dropped()
        );
    }
}

/// Runs `tripline run`.
pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    if !args.ring_mib.is_power_of_two() {
        return usage(format!(
            "--ring-mib must be a power of two, got {}",
            args.ring_mib
        ));
    }
    let mut files = if args.no_default_rules {
        Vec::new()
    } else {
        bundled::for_source("syscall")
    };
    files.extend(rules_files::read(&args.rules)?);
    let mut rules = match args.select.load(&files) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    if !args.append_output.is_empty() {
        let table = &tripline_sources::syscall::schema().fields;
        if let Err(e) = rules.append_output("syscall", &args.append_output, table) {
            return usage(format!("--append-output: {e}"));
        }
    }
    let file = match &args.output {
        Some(p) => Some(io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening --output {}", p.display()))?,
        )),
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let cfg = tripline::run::RunConfig {
        hostname: args.select.hostname(),
        // Workload baselines need exec, connect and listen whatever the rules use.
        all_syscalls: args.all_syscalls || args.anomaly.is_some() || args.anomaly_learn.is_some(),
        every_syscall: args.every_syscall,
        ring_bytes: args.ring_mib << 20,
        hooks: args.hooks,
        duration: args.duration.map(std::time::Duration::from_secs),
        // The UI shows live counters: refresh them every second even when none are printed.
        stats_interval: if args.stats_interval > 0 {
            Some(std::time::Duration::from_secs(args.stats_interval))
        } else if args.no_ui {
            None
        } else {
            Some(std::time::Duration::from_secs(1))
        },
        capture: args.capture.clone(),
        host_root: args.host_root.clone(),
    };
    let mut act_cfg = args.act.config(true, "sensor")?;
    act_cfg.listen = (!args.no_ui && act_cfg.store.is_some()).then(|| args.listen.clone());
    act_cfg.execute_actions = true;
    let act = tripline::act::Act::start(&act_cfg)?;
    let mut out = LiveOutput {
        live: act.stats(),
        act,
        print_stats: args.stats_interval > 0,
        format: args.format,
        opts: args.select.format_options(),
        stdout: io::stdout(),
        file,
        error: None,
        rules_active: rules.active_count(),
        learning: match (&args.anomaly, &args.anomaly_learn) {
            (None, Some(path)) => Some(tripline::anomaly::Workloads::Learn(
                tripline_anomaly::Baseline::default(),
                path.clone(),
            )),
            _ => None,
        },
    };
    let hostname = args.select.hostname();
    let syscalls = tripline::run::needed_syscalls(&rules, false);
    let mut pipeline: Pipeline<Syscall> = Pipeline::falco(rules, args.select.matching(), &hostname);
    if !args.sigma.is_empty() {
        match load_sigma(&args.sigma, &args.sigma_pipeline, false)? {
            Ok(set) => pipeline.push(Box::new(SigmaDetector::new(set, &hostname))),
            Err(code) => return Ok(code),
        }
    }
    if let Some(b) = &args.anomaly {
        pipeline.push(Box::new(tripline::anomaly::Workloads::score(
            b,
            args.anomaly_threshold,
            &hostname,
        )?));
    }
    let stats = match tripline::run::run(&mut pipeline, syscalls, &cfg, &stop, &mut out) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tripline: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    if let Some(path) = &cfg.capture {
        eprintln!(
            "Capture: {} events written to {} ({} of kinds without a capture layout skipped)",
            stats.captured,
            path.display(),
            stats.capture_skipped
        );
        if let Some(e) = &stats.capture_error {
            eprintln!("tripline: writing the capture stopped early: {e}");
        }
    }
    let secs = stats.elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "Events: {} evaluated, {} records in {:.1}s ({:.0} records/s); kernel records: {}, dropped: {} (ring buffer full: {}), truncated: {}, undecodable: {}",
        stats.events,
        stats.records,
        secs,
        stats.records as f64 / secs,
        stats.kernel.emitted,
        stats.kernel.dropped(),
        stats.kernel.dropped_ringbuf,
        stats.kernel.truncated,
        stats.decode_errors
    );
    if stats.kernel.compat_skipped > 0 {
        eprintln!(
            "32-bit (ia32) syscalls seen but not decoded: {}",
            stats.kernel.compat_skipped
        );
    }
    let mut by_type: Vec<(&String, &u64)> = stats.events_by_type.iter().collect();
    by_type.sort_by(|a, b| b.1.cmp(a.1));
    let top: Vec<String> = by_type
        .iter()
        .take(8)
        .map(|(t, n)| format!("{t}={n}"))
        .collect();
    if !top.is_empty() {
        eprintln!("Events by type: {}", top.join(" "));
    }
    eprintln!("Alerts: {}", stats.alerts());
    for (rule, n) in &stats.alerts_by_rule {
        eprintln!("  {rule}: {n}");
    }
    out.act.finish();
    if let Some(w) = out.learning.take() {
        w.finish()?;
    }
    if let Some(e) = out.error {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    Ok(ExitCode::SUCCESS)
}
