//! Argument groups several commands share: store and outputs, rule selection.

use std::process::ExitCode;

use clap::ValueEnum;
use tripline::format::FormatOptions;
use tripline::rules_files;
use tripline_event::Priority;
use tripline_rules::falco::{load, RulesFile};
use tripline_rules::{LoadReport, RuleMatching, Ruleset, Selection};
use tripline_sources::schemas;

use super::*;

/// Where findings go: the store, outputs, actions (shared by `run` and `replay`).
#[derive(clap::Args)]
pub(crate) struct ActArgs {
    /// Finding store: a SQLite file, or postgres://USER:PASSWORD@HOST/DB. `run` keeps one by
    /// default (/var/lib/tripline/store.db as root, else ~/.local/state/tripline/store.db);
    /// `replay` only when given.
    #[arg(long, env = "TRIPLINE_STORE")]
    pub(crate) store: Option<String>,
    /// Keep no store: alerts only print (no UI, outputs or actions).
    #[arg(long, conflicts_with = "store")]
    pub(crate) no_store: bool,
    /// Send new findings to an output (repeatable): stdout[=json], file=PATH, ocsf=PATH,
    /// webhook=URL, falcosidekick=URL, slack=URL, alertmanager=URL, syslog=udp://HOST:PORT.
    /// Delivery is retried until it succeeds, across restarts.
    #[arg(long = "sink", value_name = "TYPE=TARGET")]
    pub(crate) sinks: Vec<String>,
    /// YAML file with `outputs:` and `actions:` lists (see README).
    #[arg(long)]
    pub(crate) config: Option<std::path::PathBuf>,
    /// Fold identical findings this many seconds apart into one with a count (0: never).
    #[arg(long, default_value_t = 60)]
    pub(crate) dedup_window: u64,
    /// New findings per rule per minute; the rest are counted, not stored (0: no limit).
    #[arg(long, default_value_t = 600)]
    pub(crate) rate_limit: u32,
    /// Delete findings last seen longer ago than this (30d, 12h; 0 keeps all).
    #[arg(long, default_value = "30d", value_parser = retain_arg)]
    pub(crate) retain: Retain,
    /// Delete the oldest findings while the store holds more than this many MiB (0: no limit).
    #[arg(long, default_value_t = 1024)]
    pub(crate) max_store_mib: u64,
    /// Serve the web UI and API over TLS with this PEM certificate (chain); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub(crate) tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub(crate) tls_key: Option<std::path::PathBuf>,
}

impl ActArgs {
    pub(crate) fn config(
        &self,
        default_store: bool,
        mode: &str,
    ) -> anyhow::Result<tripline::act::ActConfig> {
        let file = match &self.config {
            Some(p) => tripline::act::FileConfig::read(p)?,
            None => tripline::act::FileConfig::default(),
        };
        let mut outputs = file.outputs;
        for s in &self.sinks {
            let mut o = tripline_respond::config::OutputConfig::from_flag(s)
                .map_err(|e| anyhow::anyhow!("--sink {s}: {e}"))?;
            let n = outputs
                .iter()
                .filter(|x| x.name.starts_with(&o.name))
                .count();
            if n > 0 {
                o.name = format!("{}-{}", o.name, n + 1);
            }
            outputs.push(o);
        }
        let store = if self.no_store {
            None
        } else {
            self.store.clone().or_else(|| {
                (default_store || !outputs.is_empty() || !file.actions.is_empty())
                    .then(tripline::act::default_store)
            })
        };
        Ok(tripline::act::ActConfig {
            store,
            limits: tripline_store::Config {
                dedup_window_ns: self.dedup_window as i64 * 1_000_000_000,
                // A drift or policy run reports a state, not a stream: each of its findings is
                // a different item, so none is held back by the per-rule rate limit.
                rate_per_minute: if matches!(mode, "drift" | "policy") {
                    0
                } else {
                    self.rate_limit
                },
                burst: self.rate_limit.clamp(1, 100),
            },
            outputs,
            actions: file.actions,
            listen: None,
            execute_actions: false,
            mode: mode.into(),
            retention: tripline_store::Retention {
                max_age_ns: self.retain.0,
                max_bytes: (self.max_store_mib > 0).then_some((self.max_store_mib << 20) as i64),
            },
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(tripline_server::Tls {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                _ => None,
            },
            // Only the live agent must never wait on the store; everything else can.
            overflow: if mode == "sensor" {
                tripline_pipeline::Overflow::HoldBack
            } else {
                tripline_pipeline::Overflow::Block
            },
        })
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

impl Format {
    /// One alert as printed: Falco's text line or Falco's JSON alert.
    pub(crate) fn line(
        self,
        f: &tripline_event::Finding,
        opts: &tripline::format::FormatOptions,
    ) -> String {
        match self {
            Format::Text => tripline::format::text_line(f, opts),
            Format::Json => tripline::format::json_alert(f, opts).to_string(),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Matching {
    First,
    All,
}

/// Rule selection and alert options shared by `replay` and `run`.
#[derive(clap::Args)]
pub(crate) struct SelectArgs {
    /// Fire only the first matching rule per event (Falco's default) or every matching rule.
    #[arg(long, value_enum, default_value = "first")]
    pub(crate) rule_matching: Matching,
    /// Skip rules below this priority (emergency ... debug).
    #[arg(long, default_value = "debug")]
    pub(crate) min_priority: String,
    /// Disable rules whose whole name matches this wildcard (`*` = any text). Repeatable.
    #[arg(long)]
    pub(crate) disable_rule: Vec<String>,
    /// Enable rules by name wildcard (applied after --disable-rule). Repeatable.
    #[arg(long)]
    pub(crate) enable_rule: Vec<String>,
    /// Disable rules carrying this tag. Repeatable.
    #[arg(long)]
    pub(crate) disable_tag: Vec<String>,
    /// Enable rules carrying this tag (applied last). Repeatable.
    #[arg(long)]
    pub(crate) enable_tag: Vec<String>,
    /// Host name in alerts (default: this machine's).
    #[arg(long, env = "FALCO_HOSTNAME")]
    pub(crate) hostname: Option<String>,
    /// Print `HH:MM:SS.ns` instead of ISO 8601 in text alerts.
    #[arg(long)]
    pub(crate) clock_time: bool,
}

impl SelectArgs {
    pub(crate) fn matching(&self) -> RuleMatching {
        match self.rule_matching {
            Matching::First => RuleMatching::First,
            Matching::All => RuleMatching::All,
        }
    }

    pub(crate) fn hostname(&self) -> String {
        self.hostname.clone().unwrap_or_else(hostname)
    }

    pub(crate) fn format_options(&self) -> FormatOptions {
        FormatOptions {
            iso8601: !self.clock_time,
            ..FormatOptions::default()
        }
    }

    /// Loads `files` and applies the selection; `Err` carries the exit code to return.
    pub(crate) fn load(&self, files: &[RulesFile]) -> Result<Ruleset, ExitCode> {
        let Ok(min_priority) = self.min_priority.parse::<Priority>() else {
            eprintln!("tripline: unknown priority '{}' (expected emergency, alert, critical, error, warning, notice, informational or debug)", self.min_priority);
            return Err(ExitCode::from(2));
        };
        let (mut rules, report) = load(files, &schemas());
        if !report.is_ok() {
            print_report(&report);
            eprintln!(
                "tripline: rules failed to load ({} errors)",
                report.errors.len()
            );
            return Err(ExitCode::from(1));
        }
        let mut selection = Vec::new();
        selection.extend(
            self.disable_rule
                .iter()
                .cloned()
                .map(Selection::DisableRule),
        );
        selection.extend(self.disable_tag.iter().cloned().map(Selection::DisableTag));
        selection.extend(self.enable_rule.iter().cloned().map(Selection::EnableRule));
        selection.extend(self.enable_tag.iter().cloned().map(Selection::EnableTag));
        rules.select(&selection);
        rules.set_min_priority(min_priority);
        Ok(rules)
    }
}

/// `--retain`: a maximum age in ns, or `None` (`0`) to keep every finding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retain(pub(crate) Option<i64>);

pub(crate) fn retain_arg(s: &str) -> Result<Retain, String> {
    match s.trim() {
        "0" => Ok(Retain(None)),
        s => tripline_event::parse_duration_ns(s).map(|d| Retain(Some(d))),
    }
}

/// Loads Sigma rules and pipelines, printing every error with file and line; `Err` is the
/// exit code to return.
pub(crate) fn load_sigma(
    paths: &[String],
    pipelines: &[String],
    include_deprecated: bool,
) -> anyhow::Result<Result<tripline_sigma::SigmaRuleset, ExitCode>> {
    let opts = tripline_sigma::LoadOptions { include_deprecated };
    let (set, errors, _) = rules_files::load_sigma(&rules_files::read(paths)?, pipelines, opts);
    if errors.is_empty() {
        return Ok(Ok(set));
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    eprintln!(
        "tripline: Sigma rules failed to load ({} errors)",
        errors.len()
    );
    Ok(Err(ExitCode::from(1)))
}

pub(crate) fn print_report(report: &LoadReport) {
    for d in &report.errors {
        eprintln!("error: {d}");
    }
    for d in &report.warnings {
        eprintln!("warning: {d}");
    }
}
