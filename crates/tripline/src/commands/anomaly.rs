//! `tripline anomaly train|score|eval|export`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::args::*;

#[derive(Subcommand)]
pub(crate) enum AnomalyCommand {
    /// Learn what each identity normally does from CloudTrail or Kubernetes audit logs.
    ///
    /// Example: tripline anomaly train --input trail/2026-10/ --input audit.log -o baseline.db
    Train {
        /// Log files or directories (repeatable); each file's source is detected.
        #[arg(long = "input", required = true)]
        inputs: Vec<PathBuf>,
        /// The baseline file to write (SQLite).
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
    /// Score logs against a baseline; print the anomalies with the numbers behind them.
    ///
    /// Example: tripline anomaly score --baseline baseline.db --input trail/today/ --threshold 0.7
    Score {
        /// Baseline from `anomaly train`.
        #[arg(long)]
        baseline: PathBuf,
        /// Log files or directories (repeatable).
        #[arg(long = "input", required = true)]
        inputs: Vec<PathBuf>,
        /// Report events scoring at or above this (0-1).
        #[arg(long, default_value_t = tripline::anomaly::DEFAULT_THRESHOLD)]
        threshold: f64,
        /// text or json (one anomaly per line).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Measure quality on labelled logs: train on one part, score the other.
    ///
    /// Example: tripline anomaly eval --train early/ --test late/ --labels labels.jsonl --curve pr.png
    Eval {
        /// Training logs (records labelled malicious are left out).
        #[arg(long = "train", required = true)]
        train: Vec<PathBuf>,
        /// Test logs.
        #[arg(long = "test", required = true)]
        test: Vec<PathBuf>,
        /// JSON lines with eventID, label (malicious = positive) and mitre_attack.
        #[arg(long)]
        labels: PathBuf,
        #[arg(long, default_value_t = tripline::anomaly::DEFAULT_THRESHOLD)]
        threshold: f64,
        /// Write the precision-recall curve to this PNG.
        #[arg(long)]
        curve: Option<PathBuf>,
    },
    /// Print a baseline as YAML, for review.
    ///
    /// Example: tripline anomaly export --baseline baseline.db > baseline.yaml
    Export {
        /// Baseline from `anomaly train`.
        #[arg(long)]
        baseline: PathBuf,
    },
}

/// Runs `tripline anomaly`.
pub(crate) fn run(cmd: AnomalyCommand) -> anyhow::Result<ExitCode> {
    use tripline::anomaly as an;
    match cmd {
        AnomalyCommand::Train { inputs, output } => an::train(&inputs, &output)?,
        AnomalyCommand::Score {
            baseline,
            inputs,
            threshold,
            format,
        } => {
            let stdout = io::stdout();
            let mut out = io::BufWriter::new(stdout.lock());
            for (o, s) in an::score(&baseline, &inputs, threshold)? {
                match format {
                    Format::Text => write!(out, "{}", an::text(&o, &s))?,
                    Format::Json => writeln!(
                        out,
                        "{}",
                        serde_json::json!({"time": tripline_event::format_rfc3339(o.time_ns), "score": s.total,
                            "entity": o.entity, "peer_group": o.peer_group, "event": o.summary,
                            "event_id": o.event_id, "parts": s.parts})
                    )?,
                }
            }
            out.flush()?;
        }
        AnomalyCommand::Eval {
            train,
            test,
            labels,
            threshold,
            curve,
        } => {
            an::evaluate(&train, &test, &labels, threshold, curve.as_deref())?;
        }
        AnomalyCommand::Export { baseline } => {
            tripline::out!("{}", tripline_anomaly::Baseline::load(&baseline)?.to_yaml());
        }
    }
    Ok(ExitCode::SUCCESS)
}
