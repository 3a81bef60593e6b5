//! `tripline`: runtime-security engine. See `tripline --help`.
//!
//! Exit codes: 0 success; 1 rules failed to load or an input could not be read; 2 usage error.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tripline::format::{json_alert, text_line, FormatOptions};
use tripline::replay::{self, ReplayConfig};
use tripline::{bundled, rules_files};
use tripline_event::Priority;
use tripline_rules::falco::{load, RulesFile};
use tripline_rules::{LoadReport, RuleMatching, Selection};
use tripline_sources::input::Limits;
use tripline_sources::{schemas, SourceKind};

#[derive(Parser)]
#[command(
    name = "tripline",
    version,
    about = "Runtime security: Falco rules over audit logs and cloud trails."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run rules over recorded logs (Kubernetes audit, CloudTrail, GCP audit, Okta, GitHub).
    ///
    /// Example: tripline replay --rules my_rules.yaml audit.log.gz
    Replay(ReplayArgs),
    /// Validate or list rules.
    #[command(subcommand)]
    Rules(RulesCommand),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Matching {
    First,
    All,
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// Rules file or directory (repeatable, loaded in order). Default: the upstream rules for the source.
    #[arg(long = "rules", short = 'r')]
    rules: Vec<String>,
    /// Source of the inputs; `auto` detects it from the first input.
    #[arg(long, default_value = "auto")]
    source: String,
    /// Alert format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Fire only the first matching rule per event (Falco's default) or every matching rule.
    #[arg(long, value_enum, default_value = "first")]
    rule_matching: Matching,
    /// Skip rules below this priority (emergency ... debug).
    #[arg(long, default_value = "debug")]
    min_priority: String,
    /// Disable rules whose whole name matches this wildcard (`*` = any text). Repeatable.
    #[arg(long)]
    disable_rule: Vec<String>,
    /// Enable rules by name wildcard (applied after --disable-rule). Repeatable.
    #[arg(long)]
    enable_rule: Vec<String>,
    /// Disable rules carrying this tag. Repeatable.
    #[arg(long)]
    disable_tag: Vec<String>,
    /// Enable rules carrying this tag (applied last). Repeatable.
    #[arg(long)]
    enable_tag: Vec<String>,
    /// Host name in alerts (default: this machine's).
    #[arg(long, env = "FALCO_HOSTNAME")]
    hostname: Option<String>,
    /// Print `HH:MM:SS.ns` instead of ISO 8601 in text alerts.
    #[arg(long)]
    clock_time: bool,
    /// Largest single record accepted, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_event_bytes: usize,
    /// Log files, directories, or `-` for stdin (plain or gzip).
    #[arg(required = true)]
    inputs: Vec<String>,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Load rules files and report errors and warnings with Falco's codes, file and line.
    ///
    /// Example: tripline rules validate k8s_audit_rules.yaml my_overrides.yaml
    Validate {
        /// Rules files or directories, loaded in order.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// List rules (default: the shipped upstream rules).
    List {
        /// Only rules of this source.
        #[arg(long)]
        source: Option<String>,
        /// Rules files instead of the shipped ones.
        #[arg(long = "rules", short = 'r')]
        rules: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("tripline: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Replay(args) => replay_cmd(args),
        Command::Rules(RulesCommand::Validate { files }) => validate_cmd(&files),
        Command::Rules(RulesCommand::List { source, rules }) => list_cmd(source, &rules),
    }
}

fn usage(msg: String) -> anyhow::Result<ExitCode> {
    eprintln!("tripline: {msg}");
    Ok(ExitCode::from(2))
}

fn print_report(report: &LoadReport) {
    for d in &report.errors {
        eprintln!("error: {d}");
    }
    for d in &report.warnings {
        eprintln!("warning: {d}");
    }
}

fn replay_cmd(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let Ok(min_priority) = args.min_priority.parse::<Priority>() else {
        return usage(format!("unknown priority '{}' (expected emergency, alert, critical, error, warning, notice, informational or debug)", args.min_priority));
    };
    let source = if args.source == "auto" {
        match replay::detect_source(&args.inputs) {
            Some(s) => s,
            None => return usage("could not detect the input's source; pass --source k8s_audit|aws_cloudtrail|gcp_auditlog|okta|github".into()),
        }
    } else {
        match SourceKind::from_name(&args.source) {
            Some(s) => s,
            None => return usage(format!("unknown source '{}' (expected auto, k8s_audit, aws_cloudtrail, gcp_auditlog, okta or github)", args.source)),
        }
    };
    let files = if args.rules.is_empty() {
        bundled::for_source(source.name())
    } else {
        rules_files::read(&args.rules)?
    };
    let (mut rules, report) = load(&files, &schemas());
    if !report.is_ok() {
        print_report(&report);
        eprintln!(
            "tripline: rules failed to load ({} errors)",
            report.errors.len()
        );
        return Ok(ExitCode::from(1));
    }
    let mut selection = Vec::new();
    selection.extend(
        args.disable_rule
            .iter()
            .cloned()
            .map(Selection::DisableRule),
    );
    selection.extend(args.disable_tag.iter().cloned().map(Selection::DisableTag));
    selection.extend(args.enable_rule.iter().cloned().map(Selection::EnableRule));
    selection.extend(args.enable_tag.iter().cloned().map(Selection::EnableTag));
    rules.select(&selection);
    rules.set_min_priority(min_priority);

    let cfg = ReplayConfig {
        source,
        matching: match args.rule_matching {
            Matching::First => RuleMatching::First,
            Matching::All => RuleMatching::All,
        },
        hostname: args.hostname.unwrap_or_else(hostname),
        limits: Limits {
            max_event_bytes: args.max_event_bytes,
            ..Limits::default()
        },
    };
    let opts = FormatOptions {
        iso8601: !args.clock_time,
        ..FormatOptions::default()
    };
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
    let stats = replay::run(
        &rules,
        &args.inputs,
        &cfg,
        &mut |finding| {
            if write_err.is_some() {
                return;
            }
            let line = match args.format {
                Format::Text => text_line(&finding, &opts),
                Format::Json => json_alert(&finding, &opts).to_string(),
            };
            if let Err(e) = writeln!(out, "{line}") {
                write_err = Some(e);
            }
        },
        &mut || {
            events += 1;
            if events.is_multiple_of(4096) {
                if let Some(bar) = &progress {
                    bar.set_position(events);
                }
            }
        },
    );
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
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

fn summary(stats: &replay::ReplayStats) {
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
}

fn validate_cmd(paths: &[String]) -> anyhow::Result<ExitCode> {
    let files = rules_files::read(paths)?;
    let (rules, report) = load(&files, &schemas());
    print_report(&report);
    if report.is_ok() {
        println!(
            "{}: ok ({} rules, {} warnings)",
            paths.join(", "),
            rules.rules().len(),
            report.warnings.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{}: {} errors, {} warnings",
            paths.join(", "),
            report.errors.len(),
            report.warnings.len()
        );
        Ok(ExitCode::from(1))
    }
}

fn list_cmd(source: Option<String>, paths: &[String]) -> anyhow::Result<ExitCode> {
    let files: Vec<RulesFile> = if paths.is_empty() {
        bundled::FILES
            .iter()
            .filter(|(_, s, _)| source.as_deref().is_none_or(|want| want == *s))
            .map(|(n, _, t)| RulesFile {
                name: format!("<builtin>/{n}"),
                content: t.to_string(),
            })
            .collect()
    } else {
        rules_files::read(paths).context("reading rules")?
    };
    let mut listed = Vec::new();
    // Load each shipped file on its own: they belong to different sources and namespaces.
    for f in &files {
        let (rules, report) = load(std::slice::from_ref(f), &schemas());
        if !report.is_ok() {
            print_report(&report);
            return Ok(ExitCode::from(1));
        }
        listed.extend(rules.rules().to_vec());
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for r in listed
        .iter()
        .filter(|r| source.as_deref().is_none_or(|s| s == r.source))
    {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            r.source,
            r.priority,
            if r.enabled { "enabled" } else { "disabled" },
            r.name,
            r.tags.join(",")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}
