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
    /// A live control-plane source, KIND=WHERE (repeatable): `k8s-audit=webhook` (the API
    /// server posts audit events to --webhook-listen at /k8s-audit), or a followed file:
    /// `auditd=file:///var/log/audit/audit.log`, `k8s-audit=file:///var/log/kube-audit.log`
    /// (also cloudtrail, okta, github, gcp-audit as JSON lines).
    #[arg(long = "source", value_name = "KIND=WHERE")]
    pub(crate) sources: Vec<tripline_live::Spec>,
    /// Run only the --source inputs: no eBPF sensor, no root needed.
    #[arg(long)]
    pub(crate) no_sensor: bool,
    /// Where the webhook sources listen (Falco's k8saudit default).
    #[arg(long, default_value = "0.0.0.0:9765", value_name = "ADDRESS:PORT")]
    pub(crate) webhook_listen: std::net::SocketAddr,
    /// The webhook's TLS certificate chain (PEM). TLS is required unless the webhook listens
    /// on a loopback address.
    #[arg(long, value_name = "PEM", requires = "webhook_tls_key")]
    pub(crate) webhook_tls_cert: Option<PathBuf>,
    /// The webhook's TLS private key (PEM).
    #[arg(long, value_name = "PEM", requires = "webhook_tls_cert")]
    pub(crate) webhook_tls_key: Option<PathBuf>,
    /// Require webhook clients to present a certificate signed by this CA (PEM): the API
    /// server's webhook kubeconfig `client-certificate`.
    #[arg(long, value_name = "PEM", requires = "webhook_tls_cert")]
    pub(crate) webhook_client_ca: Option<PathBuf>,
    /// Require `Authorization: Bearer TOKEN` on webhook requests; the file holds the token
    /// (the webhook kubeconfig's `token`).
    #[arg(long, value_name = "FILE")]
    pub(crate) webhook_token_file: Option<PathBuf>,
    /// Largest webhook request body in bytes; larger ones are refused with 413.
    #[arg(long, default_value_t = 32 << 20, value_name = "BYTES")]
    pub(crate) webhook_max_bytes: usize,
    /// Send the S3 and SQS requests of cloudtrail=s3://... and sqs://... sources to this
    /// endpoint (an S3/SQS-compatible server) instead of AWS. Credentials and region come from
    /// the normal AWS chain (environment, profile, web identity, instance metadata).
    #[arg(long, value_name = "URL")]
    pub(crate) aws_endpoint_url: Option<String>,
    /// The GitHub webhook's secret (the file holds it): deliveries to /github without a valid
    /// X-Hub-Signature-256 are refused with 401.
    #[arg(long, value_name = "FILE")]
    pub(crate) github_webhook_secret_file: Option<PathBuf>,
    /// GitHub REST API the github=webhook source reads pushed diffs and workflow files from
    /// (an Enterprise server: https://HOST/api/v3).
    #[arg(long, default_value = "https://api.github.com", value_name = "URL")]
    pub(crate) github_api_url: String,
    /// Token for the GitHub API (private repositories, higher rate limits).
    #[arg(
        long,
        env = "GITHUB_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) github_token: Option<String>,
    /// Okta API token for okta=okta://ORG sources.
    #[arg(
        long,
        env = "OKTA_API_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) okta_token: Option<String>,
    /// Read the Okta System Log from this base URL instead of https://ORG (a proxy).
    #[arg(long, value_name = "URL")]
    pub(crate) okta_api_url: Option<String>,
    /// Seconds a polled source (Okta) waits once it has read everything.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) poll_interval: u64,
    /// Batches each live source queues before the webhook answers 429 (followed files wait).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub(crate) source_queue: u32,
    /// Where the web UI and API listen.
    #[arg(long, default_value = "127.0.0.1:8765")]
    pub(crate) listen: String,
    /// Serve no web UI or API.
    #[arg(long)]
    pub(crate) no_ui: bool,
}

/// Prints alerts (from the sensor and every live source's worker) to stdout and --output.
pub(crate) struct AlertOut {
    format: Format,
    opts: FormatOptions,
    file: std::sync::Mutex<(Option<io::BufWriter<std::fs::File>>, Option<io::Error>)>,
}

impl AlertOut {
    pub(crate) fn print(&self, finding: &tripline_event::Finding) {
        let line = self.format.line(finding, &self.opts);
        let Ok(mut guard) = self.file.lock() else {
            return;
        };
        let (file, error) = &mut *guard;
        let mut out = io::stdout().lock();
        // Alerts are flushed one by one: a live agent must not sit on them.
        if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
            error.get_or_insert(e);
        }
        if let Some(f) = file {
            if let Err(e) = writeln!(f, "{line}").and_then(|_| f.flush()) {
                error.get_or_insert(e);
            }
        }
    }

    fn take_error(&self) -> Option<io::Error> {
        self.file.lock().ok().and_then(|mut g| g.1.take())
    }
}

/// Prints alerts and statistics of a live run.
pub(crate) struct LiveOutput {
    pub(crate) alerts: std::sync::Arc<AlertOut>,
    pub(crate) rules_active: usize,
    pub(crate) act: tripline::act::Act,
    pub(crate) live: std::sync::Arc<std::sync::Mutex<tripline_server::LiveStats>>,
    pub(crate) print_stats: bool,
    /// Learning workload baselines (`--anomaly-learn`): watches every event.
    pub(crate) learning: Option<tripline::anomaly::Workloads>,
    /// The live control-plane sources.
    pub(crate) sources: Option<tripline::live::Live>,
}

impl LiveOutput {
    /// Copies the live sources' counters to the UI and prints them when asked.
    fn source_stats(&self) {
        let Some(sources) = &self.sources else {
            return;
        };
        let status = sources.status();
        if let Ok(mut l) = self.live.lock() {
            l.sources = status.iter().map(source_row).collect();
        }
        if self.print_stats {
            for s in &status {
                eprintln!(
                    "tripline: source {}: {} events, {} batches, {} rejected, {} refused (queue full), {} unauthorized, {} errors, lag {:.1}s{}",
                    s.source,
                    s.events,
                    s.batches,
                    s.rejected,
                    s.refused_full,
                    s.unauthorized,
                    s.errors,
                    s.lag_seconds,
                    s.checkpoint
                        .as_deref()
                        .map(|c| format!(", at {c}"))
                        .unwrap_or_default()
                );
            }
        }
    }
}

fn source_row(s: &tripline_live::SourceStatus) -> tripline_server::SourceStats {
    tripline_server::SourceStats {
        source: s.source.clone(),
        events: s.events,
        batches: s.batches,
        rejected: s.rejected,
        refused_full: s.refused_full,
        unauthorized: s.unauthorized,
        errors: s.errors,
        lag_seconds: s.lag_seconds,
        checkpoint: s.checkpoint.clone(),
        last_error: s.last_error.clone(),
    }
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
        self.alerts.print(&finding);
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
        self.source_stats();
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
    if args.no_sensor && args.sources.is_empty() {
        return usage(
            "--no-sensor needs at least one --source, e.g. --source k8s-audit=webhook".into(),
        );
    }
    let sensor = !args.no_sensor;
    let mut files = Vec::new();
    if !args.no_default_rules {
        if sensor {
            files.extend(bundled::for_source("syscall"));
        }
        let mut kinds: Vec<&str> = args.sources.iter().map(|s| s.kind.rules_source()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        for k in kinds {
            files.extend(bundled::for_source(k));
        }
    }
    files.extend(rules_files::read(&args.rules)?);
    let mut rules = match args.select.load(&files) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    if sensor && !args.append_output.is_empty() {
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
    let webhook_token = match &args.webhook_token_file {
        Some(p) => {
            let t = std::fs::read_to_string(p)
                .with_context(|| format!("reading --webhook-token-file {}", p.display()))?;
            let t = t.trim().to_string();
            if t.is_empty() {
                return usage(format!(
                    "--webhook-token-file {}: the file is empty",
                    p.display()
                ));
            }
            Some(t)
        }
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
    let mut act_cfg = args
        .act
        .config(true, if sensor { "sensor" } else { "live" })?;
    act_cfg.listen = (!args.no_ui && act_cfg.store.is_some()).then(|| args.listen.clone());
    act_cfg.execute_actions = true;
    let mut act = tripline::act::Act::start(&act_cfg)?;
    let alerts = Arc::new(AlertOut {
        format: args.format,
        opts: args.select.format_options(),
        file: std::sync::Mutex::new((file, None)),
    });
    let hostname = args.select.hostname();
    let rules = Arc::new(rules);
    // Each pipeline gets its own Sigma ruleset: correlation state is per pipeline.
    let mut sigma = if args.sigma.is_empty() {
        None
    } else {
        match load_sigma(&args.sigma, &args.sigma_pipeline, false)? {
            Ok(set) => Some(set),
            Err(code) => return Ok(code),
        }
    };
    let mut sigma_set = || -> anyhow::Result<Option<tripline_sigma::SigmaRuleset>> {
        if let Some(first) = sigma.take() {
            return Ok(Some(first));
        }
        if args.sigma.is_empty() {
            return Ok(None);
        }
        Ok(load_sigma(&args.sigma, &args.sigma_pipeline, false)?.ok())
    };
    let sources = if args.sources.is_empty() {
        None
    } else {
        let live_cfg = tripline::live::LiveConfig {
            specs: args.sources.clone(),
            webhook: tripline_live::webhook::WebhookConfig {
                listen: args.webhook_listen,
                tls: args
                    .webhook_tls_cert
                    .as_ref()
                    .map(|cert| tripline_live::webhook::TlsFiles {
                        cert: cert.clone(),
                        key: args.webhook_tls_key.clone().unwrap_or_default(),
                        client_ca: args.webhook_client_ca.clone(),
                    }),
                bearer_token: webhook_token,
                max_body_bytes: args.webhook_max_bytes,
                commit_timeout: std::time::Duration::from_secs(30),
            },
            follow: tripline_live::follow::FollowConfig::default(),
            aws: tripline_live::aws::AwsConfig {
                endpoint_url: args.aws_endpoint_url.clone(),
                ..Default::default()
            },
            okta_token: args.okta_token.clone(),
            okta_api_url: args.okta_api_url.clone(),
            poll: std::time::Duration::from_secs(args.poll_interval),
            github: match &args.github_webhook_secret_file {
                Some(p) => {
                    let secret = std::fs::read(p).with_context(|| {
                        format!("reading --github-webhook-secret-file {}", p.display())
                    })?;
                    let secret = secret.trim_ascii().to_vec();
                    if secret.is_empty() {
                        return usage(format!(
                            "--github-webhook-secret-file {}: the file is empty",
                            p.display()
                        ));
                    }
                    Some(tripline_live::github::GithubConfig {
                        secret,
                        api_url: args.github_api_url.clone(),
                        token: args.github_token.clone(),
                        max_wait: std::time::Duration::from_secs(60),
                    })
                }
                None => None,
            },
            queue_batches: args.source_queue as usize,
        };
        let print: tripline::live::Printer = {
            let alerts = alerts.clone();
            Arc::new(move |f| alerts.print(f))
        };
        let matching = args.select.matching();
        let mut make =
            |kind: tripline_live::Kind| -> anyhow::Result<tripline::live::SourcePipeline> {
                use tripline::live::SourcePipeline;
                use tripline_pipeline::{Audit, Json};
                Ok(match kind {
                    tripline_live::Kind::Json(_) => {
                        let mut p: Pipeline<Json> =
                            Pipeline::falco(rules.clone(), matching, &hostname);
                        if let Some(set) = sigma_set()? {
                            p.push(Box::new(SigmaDetector::new(set, &hostname)));
                        }
                        SourcePipeline::Json(p)
                    }
                    tripline_live::Kind::Auditd => {
                        let mut p: Pipeline<Audit> = Pipeline::new(Vec::new());
                        if let Some(set) = sigma_set()? {
                            p.push(Box::new(SigmaDetector::new(set, &hostname)));
                        }
                        SourcePipeline::Audit(p)
                    }
                })
            };
        match tripline::live::Live::start(&live_cfg, &mut act, print, &mut make) {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("tripline: {e:#}");
                act.finish();
                return Ok(ExitCode::from(1));
            }
        }
    };
    let mut out = LiveOutput {
        live: act.stats(),
        act,
        print_stats: args.stats_interval > 0,
        alerts,
        rules_active: rules.active_count(),
        learning: match (&args.anomaly, &args.anomaly_learn) {
            (None, Some(path)) => Some(tripline::anomaly::Workloads::Learn(
                tripline_anomaly::Baseline::default(),
                path.clone(),
            )),
            _ => None,
        },
        sources,
    };
    let stats = if sensor {
        let syscalls = tripline::run::needed_syscalls(&rules, false);
        let mut pipeline: Pipeline<Syscall> =
            Pipeline::falco(rules.clone(), args.select.matching(), &hostname);
        if let Some(set) = sigma_set()? {
            pipeline.push(Box::new(SigmaDetector::new(set, &hostname)));
        }
        if let Some(b) = &args.anomaly {
            pipeline.push(Box::new(tripline::anomaly::Workloads::score(
                b,
                args.anomaly_threshold,
                &hostname,
            )?));
        }
        match tripline::run::run(&mut pipeline, syscalls, &cfg, &stop, &mut out) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("tripline: {e}");
                if let Some(l) = out.sources.take() {
                    l.stop();
                }
                return Ok(ExitCode::from(1));
            }
        }
    } else {
        wait_for_stop(&cfg, &stop, &mut out);
        None
    };
    if let Some(stats) = &stats {
        print_sensor_summary(stats, &cfg);
    }
    if let Some(l) = out.sources.take() {
        let last = l.status();
        for (id, summary) in l.stop() {
            let status = last.iter().find(|s| s.source == id);
            eprintln!(
                "Source {id}: {} events, {} alerts, {} rejected, {} refused (queue full), {} unauthorized, {} errors{}",
                summary.events,
                summary.alerts_by_rule.values().sum::<u64>(),
                status.map_or(0, |s| s.rejected),
                status.map_or(0, |s| s.refused_full),
                status.map_or(0, |s| s.unauthorized),
                status.map_or(0, |s| s.errors),
                status
                    .and_then(|s| s.last_error.as_deref())
                    .map(|e| format!(" (last: {e})"))
                    .unwrap_or_default()
            );
            for (rule, n) in &summary.alerts_by_rule {
                eprintln!("  {rule}: {n}");
            }
        }
    }
    out.act.finish();
    if let Some(w) = out.learning.take() {
        w.finish()?;
    }
    if let Some(e) = out.alerts.take_error() {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Without the sensor: refreshes the UI's counters (and prints them) until stopped.
fn wait_for_stop(
    cfg: &tripline::run::RunConfig,
    stop: &std::sync::atomic::AtomicBool,
    out: &mut LiveOutput,
) {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};
    let started = Instant::now();
    let mut last = Instant::now();
    let every = cfg.stats_interval.unwrap_or(Duration::from_secs(1));
    while !stop.load(Ordering::Relaxed) && cfg.duration.is_none_or(|d| started.elapsed() < d) {
        std::thread::sleep(Duration::from_millis(50));
        if last.elapsed() >= every {
            last = Instant::now();
            out.source_stats();
        }
    }
}

fn print_sensor_summary(stats: &tripline::run::RunStats, cfg: &tripline::run::RunConfig) {
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
}
