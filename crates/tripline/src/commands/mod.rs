//! One module per command (as cargo's `commands/`): its arguments and what it does.

pub(crate) mod anomaly;
pub(crate) mod args;
pub(crate) mod contract;
pub(crate) mod drift;
pub(crate) mod gate;
pub(crate) mod identity;
pub(crate) mod policy;
pub(crate) mod replay;
pub(crate) mod rules;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tripline_sources::SourceKind;

use anomaly::*;
use contract::*;
use drift::*;
use gate::*;
use identity::*;
use policy::*;
use replay::*;
use rules::*;
use run::*;
use serve::*;
use token::*;

#[derive(Parser)]
#[command(
    name = "tripline",
    version,
    about = "Runtime security: Falco rules over audit logs and cloud trails."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run rules over recorded logs (Kubernetes audit, CloudTrail, GCP audit, Okta, GitHub).
    ///
    /// Example: tripline replay --rules my_rules.yaml audit.log.gz
    Replay(ReplayArgs),
    /// Watch this machine with the eBPF sensor and run syscall rules live (needs root).
    ///
    /// Example: sudo tripline run --rules my_rules.yaml --format json
    Run(Box<RunArgs>),
    /// Validate or list rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Runtime contracts: learn one from this machine or an image root, or snapshot it.
    ///
    /// Example: tripline contract learn --include '/etc/**' --include '/usr/bin/*' -o contract.yaml
    #[command(subcommand)]
    Contract(ContractCommand),
    /// Evaluate Rego policies (OPA v1; --rego-v0 for old syntax) over snapshots and manifests.
    ///
    /// Example: tripline policy eval --input manifests/ --format policyreport
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Compare what was declared with what is live: a runtime contract with this machine (or
    /// --root), Kubernetes manifests with the cluster, Terraform's IAM with the AWS account.
    /// Exit 0 clean, 3 drift, 1 error.
    ///
    /// Example: tripline drift --contract contract.yaml --format json
    Drift(DriftArgs),
    /// Fail a pipeline on runtime findings: exit 3 when findings at or above a priority exist.
    ///
    /// Example: tripline gate --since 24h --max-priority warning --format sarif > runtime.sarif
    Gate(GateArgs),
    /// Serve the web UI and API over a store without running the sensor.
    ///
    /// Example: tripline serve --store findings.db --listen 127.0.0.1:8765
    Serve(ServeArgs),
    /// Identity sprawl in AWS IAM and Kubernetes RBAC: unused and risky grants, escalation paths,
    /// least-privilege proposals.
    ///
    /// Example: tripline identity analyze --aws-auth auth.json --cloudtrail trail/ --format text
    #[command(subcommand)]
    Identity(IdentityCommand),
    /// Learned behaviour: baselines per identity, explained anomalies, and their measured quality.
    ///
    /// Example: tripline anomaly train --input trail/ -o baseline.db
    #[command(subcommand)]
    Anomaly(AnomalyCommand),
    /// Create or revoke API tokens (stored hashed; shown once).
    ///
    /// Example: tripline token create ci --role viewer
    #[command(subcommand)]
    Token(TokenCommand),
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Replay(args) => replay::run(args),
        Command::Run(args) => run::run(*args),
        Command::Rules(cmd) => rules::run(cmd),
        Command::Contract(cmd) => contract::run(cmd),
        Command::Policy(cmd) => policy::run(cmd),
        Command::Drift(args) => drift::run(args),
        Command::Gate(args) => gate::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Token(cmd) => token::run(cmd),
        Command::Identity(cmd) => identity::run(cmd),
        Command::Anomaly(cmd) => anomaly::run(cmd),
    }
}

pub(crate) fn store_or_default(store: Option<String>) -> String {
    store.unwrap_or_else(tripline::act::default_store)
}

pub(crate) fn usage(msg: String) -> anyhow::Result<ExitCode> {
    eprintln!("tripline: {msg}");
    Ok(ExitCode::from(2))
}

/// The log sources `--source` names, from their descriptors.
pub(crate) fn source_names() -> Vec<&'static str> {
    SourceKind::ALL.iter().map(|k| k.name()).collect()
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

pub(crate) fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
