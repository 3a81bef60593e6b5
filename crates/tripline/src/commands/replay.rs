//! `tripline replay`: recorded logs and captures through the pipeline.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use tripline::replay::{self, ReplayConfig};
use tripline::{bundled, rules_files};
use tripline_pipeline::{Audit, Json, Pipeline, SigmaDetector, Syscall};
use tripline_sources::input::Limits;
use tripline_sources::SourceKind;

use super::args::*;
use super::*;

#[derive(clap::Args)]
pub(crate) struct ReplayArgs {
    /// Rules file or directory (repeatable, loaded in order). Default: the upstream rules for
    /// the source, unless only --sigma is given.
    #[arg(long = "rules", short = 'r')]
    pub(crate) rules: Vec<String>,
    /// Sigma rule file or directory tree (repeatable), run alongside or instead of --rules.
    #[arg(long)]
    pub(crate) sigma: Vec<String>,
    /// Also load Sigma rules whose status is deprecated or unsupported.
    #[arg(long)]
    pub(crate) sigma_include_deprecated: bool,
    /// pySigma-style processing pipeline applied to the Sigma rules (repeatable).
    #[arg(long)]
    pub(crate) sigma_pipeline: Vec<String>,
    /// Source of the inputs (syscall for .scap captures, k8s_audit, aws_cloudtrail,
    /// gcp_auditlog, okta, github, auditd); `auto` detects it from the first input.
    #[arg(long, default_value = "auto")]
    pub(crate) source: String,
    /// Captures: also evaluate the read/write, memory and scheduler events Falco skips by
    /// default (Falco's -A).
    #[arg(long, short = 'A')]
    pub(crate) all_events: bool,
    /// Alert format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) select: SelectArgs,
    /// Largest single record accepted, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    pub(crate) max_event_bytes: usize,
    /// Also score every CloudTrail or Kubernetes audit record against this baseline (from
    /// `tripline anomaly train`) and report anomalies as findings.
    #[arg(long, value_name = "BASELINE")]
    pub(crate) anomaly: Option<PathBuf>,
    /// Anomaly score (0-1) at or above which a record is reported.
    #[arg(long, default_value_t = tripline::anomaly::DEFAULT_THRESHOLD)]
    pub(crate) anomaly_threshold: f64,
    #[command(flatten)]
    pub(crate) act: ActArgs,
    /// Log files, directories, or `-` for stdin (plain or gzip).
    #[arg(required = true)]
    pub(crate) inputs: Vec<String>,
}

/// Runs `tripline replay`.
pub(crate) fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    if args.source == "auditd" || (args.source == "auto" && replay::looks_like_auditd(&args.inputs))
    {
        return replay_auditd(&args);
    }
    let capture = args.source == "syscall"
        || (args.source == "auto" && replay::looks_like_capture(&args.inputs));
    let source = if capture {
        None
    } else if args.source == "auto" {
        match replay::detect_source(&args.inputs) {
            Some(s) => Some(s),
            None => {
                return usage(format!(
                    "could not detect the input's source; pass --source {}",
                    source_names().join("|")
                ))
            }
        }
    } else {
        match SourceKind::from_name(&args.source) {
            Some(s) => Some(s),
            None => {
                return usage(format!(
                    "unknown source '{}' (expected auto, syscall, auditd or {})",
                    args.source,
                    source_names().join(", ")
                ))
            }
        }
    };
    let files = if !args.rules.is_empty() {
        rules_files::read(&args.rules)?
    } else if args.sigma.is_empty() {
        bundled::for_source(source.map_or("syscall", SourceKind::name))
    } else {
        Vec::new()
    };
    let rules = match args.select.load(&files) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let mut sigma = None;
    if !args.sigma.is_empty() {
        match load_sigma(
            &args.sigma,
            &args.sigma_pipeline,
            args.sigma_include_deprecated,
        )? {
            Ok(set) => sigma = Some(set),
            Err(code) => return Ok(code),
        }
    }

    let hostname = args.select.hostname();
    let matching = args.select.matching();
    let act = tripline::act::Act::start(&args.act.config(false, "replay")?)?;
    if capture && args.anomaly.is_some() {
        anyhow::bail!("--anomaly scores CloudTrail and Kubernetes audit logs, not captures");
    }
    let rules = std::sync::Arc::new(rules);
    let opts = args.select.format_options();
    let progress = if io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos} events ({per_sec}) {msg}")
                .expect("valid template"),
        );
        Some(bar)
    } else {
        None
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut write_err: Option<io::Error> = None;
    let mut events = 0u64;
    let mut on_alert = |finding: tripline_event::Finding| {
        if write_err.is_none() {
            let line = args.format.line(&finding, &opts);
            if let Err(e) = writeln!(out, "{line}") {
                write_err = Some(e);
            }
        }
        act.alert(finding);
    };
    let mut on_event = || {
        events += 1;
        if events.is_multiple_of(4096) {
            if let Some(bar) = &progress {
                bar.set_position(events);
            }
        }
    };
    let stats = if capture {
        let mut pipeline: Pipeline<Syscall> = Pipeline::falco(rules, matching, &hostname);
        if let Some(set) = sigma {
            pipeline.push(Box::new(SigmaDetector::new(set, &hostname)));
        }
        let cfg = replay::CaptureConfig {
            all_events: args.all_events,
        };
        replay::run_capture(
            &mut pipeline,
            &args.inputs,
            &cfg,
            &mut on_alert,
            &mut on_event,
        )
    } else {
        let mut pipeline: Pipeline<Json> = Pipeline::falco(rules, matching, &hostname);
        if let Some(set) = sigma {
            pipeline.push(Box::new(SigmaDetector::new(set, &hostname)));
        }
        if let Some(b) = &args.anomaly {
            pipeline.push(Box::new(tripline::anomaly::Hook::new(
                b,
                args.anomaly_threshold,
                &hostname,
            )?));
        }
        let cfg = ReplayConfig {
            source: source.unwrap_or(SourceKind::K8sAudit),
            limits: Limits {
                max_event_bytes: args.max_event_bytes,
                ..Limits::default()
            },
        };
        replay::run(
            &mut pipeline,
            &args.inputs,
            &cfg,
            &mut on_alert,
            &mut on_event,
        )
    };
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    // Everything evaluated is stored before the summary, also when stdout closed early.
    act.finish();
    if let Some(e) = write_err {
        return Err(e.into());
    }
    out.flush()?;
    summary(&stats);
    Ok(if stats.input_errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Linux audit logs run through Sigma rules only (Falco has no auditd rules).
pub(crate) fn replay_auditd(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    if args.sigma.is_empty() {
        return usage(
            "Linux audit logs are evaluated with Sigma rules; pass --sigma FILE|DIR \
             (for example --sigma data/sigma/rules/linux/auditd)"
                .into(),
        );
    }
    let set = match load_sigma(
        &args.sigma,
        &args.sigma_pipeline,
        args.sigma_include_deprecated,
    )? {
        Ok(set) => set,
        Err(code) => return Ok(code),
    };
    let mut pipeline: Pipeline<Audit> = Pipeline::new(vec![Box::new(SigmaDetector::new(
        set,
        &args.select.hostname(),
    ))]);
    let opts = args.select.format_options();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut write_err: Option<io::Error> = None;
    let stats = replay::run_auditd(&mut pipeline, &args.inputs, &mut |f| {
        if write_err.is_some() {
            return;
        }
        let line = args.format.line(&f, &opts);
        if let Err(e) = writeln!(out, "{line}") {
            write_err = Some(e);
        }
    });
    if let Some(e) = write_err {
        return Err(e.into());
    }
    out.flush()?;
    summary(&stats);
    Ok(if stats.input_errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(crate) fn summary(stats: &replay::ReplayStats) {
    eprintln!("Events read: {}", stats.events);
    if stats.skipped_count > 0 {
        eprintln!("Records skipped: {}", stats.skipped_count);
        for s in stats.skipped.iter().take(20) {
            eprintln!("  {s}");
        }
        if stats.skipped_count > 20 {
            eprintln!("  ... and {} more", stats.skipped_count - 20);
        }
    }
    for e in &stats.input_errors {
        eprintln!("Input error: {e}");
    }
    eprintln!("Alerts: {}", stats.alerts());
    for (rule, n) in &stats.alerts_by_rule {
        eprintln!("  {rule}: {n}");
    }
    // Correlation matches dropped at the group limit are reported, never silent.
    if stats.detector_dropped > 0 {
        eprintln!(
            "Sigma correlation matches dropped (more than {} groups): {}",
            tripline_sigma::correlation::MAX_GROUPS,
            stats.detector_dropped
        );
    }
}
