//! `tripline contract learn|schema|snapshot`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum ContractCommand {
    /// Propose a contract from what is on the machine now (sorted, so it diffs well in Git).
    Learn {
        /// Read this directory as the root (a mounted image or container filesystem).
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// File glob to snapshot and watch (repeatable), e.g. '/etc/**' or '/opt/models/**/*.gguf'.
        #[arg(long)]
        include: Vec<String>,
        /// Contract name (default: the root's /etc/hostname).
        #[arg(long)]
        name: Option<String>,
        /// Also watch this machine with the live sensor for SECS seconds (needs root) and allow
        /// the programs it runs and the destinations it connects to.
        #[arg(long, value_name = "SECS")]
        watch: Option<u64>,
        /// Also allow what a reviewed workload baseline (`tripline run --anomaly-learn FILE`)
        /// saw: its programs and destinations.
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Copy each learned file into DIR (named by its SHA-256) and record it as the entry's
        /// `source:`, so the `restore` action can put a drifted file back.
        #[arg(long, value_name = "DIR")]
        keep_sources: Option<PathBuf>,
        /// Output file, or - for stdout.
        #[arg(short, long, default_value = "-")]
        output: PathBuf,
    },
    /// Print the contract format's JSON Schema (also in schema/runtime-contract.v1.json).
    Schema,
    /// Write the raw snapshot as JSON (files, users, packages, keys, listeners, ...).
    Snapshot {
        /// Read this directory as the root.
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// File glob to snapshot (repeatable).
        #[arg(long)]
        include: Vec<String>,
        /// Output file, or - for stdout.
        #[arg(short, long, default_value = "-")]
        output: PathBuf,
    },
}

/// Runs `tripline contract`.
pub(crate) fn run(cmd: ContractCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ContractCommand::Learn {
            root,
            include,
            name,
            watch,
            baseline,
            keep_sources,
            output,
        } => {
            tripline::drift::learn_to(
                &root,
                &include,
                name.as_deref(),
                watch,
                baseline.as_deref(),
                keep_sources.as_deref(),
                &output,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        ContractCommand::Schema => {
            tripline::outln!(
                "{}",
                serde_json::to_string_pretty(&tripline_drift::contract::json_schema())?
            );
            Ok(ExitCode::SUCCESS)
        }
        ContractCommand::Snapshot {
            root,
            include,
            output,
        } => {
            tripline::drift::snapshot_to(&root, &include, &output)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
