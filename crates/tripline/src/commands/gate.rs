//! `tripline gate`: fail a pipeline on runtime findings.

use std::io::{self, Write};
use std::process::ExitCode;

use super::*;

#[derive(clap::Args)]
pub(crate) struct GateArgs {
    /// Store to read (default: the agent's default store).
    #[arg(long, env = "TRIPLINE_STORE", conflicts_with = "findings")]
    pub(crate) store: Option<String>,
    /// Read findings from a file instead: JSON lines or an array of Falco alerts or Tripline
    /// findings (`replay --format json` output, `/api/v1/findings` responses).
    #[arg(long)]
    pub(crate) findings: Option<std::path::PathBuf>,
    /// Only findings last seen within this long: 30m, 24h, 7d (default: all).
    #[arg(long, value_parser = tripline_event::parse_duration_ns)]
    pub(crate) since: Option<i64>,
    /// Fail on findings at or above this priority.
    #[arg(long, default_value = "warning")]
    pub(crate) max_priority: String,
    /// Only these kinds: rule, drift, policy, identity, anomaly (repeatable).
    #[arg(long)]
    pub(crate) kind: Vec<String>,
    /// Manifests or contracts (files or directories): SARIF locations point at the file that
    /// declares each finding's workload.
    #[arg(long)]
    pub(crate) declared: Vec<String>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: tripline::gate::GateFormat,
}

/// Runs `tripline gate`.
pub(crate) fn run(args: GateArgs) -> anyhow::Result<ExitCode> {
    use tripline::gate::GateConfig;
    let threshold: tripline_event::Priority = match args.max_priority.parse() {
        Ok(p) => p,
        Err(e) => return usage(format!("--max-priority: {e}")),
    };
    let since_ns = args
        .since
        .map(|d| tripline_store::now_ns().saturating_sub(d));
    let mut kinds = Vec::new();
    for k in &args.kind {
        match tripline_store::Kind::parse(k) {
            Some(k) => kinds.push(k),
            None => {
                return usage(format!(
                    "--kind '{k}': expected rule, drift, policy, identity or anomaly"
                ))
            }
        }
    }
    let cfg = GateConfig {
        since_ns,
        threshold,
        kinds,
        declared: args.declared.clone(),
    };
    let findings = match &args.findings {
        Some(f) => tripline::gate::from_file(f)?,
        None => tripline::gate::from_store(&store_or_default(args.store.clone()), &cfg)?,
    };
    let format = args.format;
    let mut out = io::stdout().lock();
    let code = tripline::gate::gate(findings, &cfg, format, &mut out)?;
    out.flush()?;
    Ok(ExitCode::from(code))
}
