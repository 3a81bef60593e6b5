//! `tripline policy eval`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::args::*;
use super::*;

#[derive(Subcommand)]
pub(crate) enum PolicyCommand {
    /// Run `deny`, `violation` and `warn` rules of every package (conftest and Gatekeeper
    /// conventions). Exit 0 nothing denied, 3 denied, 1 error.
    Eval {
        /// Policy file or directory (repeatable). Default: the shipped pack (Kubernetes RBAC
        /// risks, Pod Security Standards baseline and restricted, host baseline).
        #[arg(long)]
        policy: Vec<PathBuf>,
        /// Accept pre-1.0 Rego syntax.
        #[arg(long)]
        rego_v0: bool,
        /// A `tripline contract snapshot` JSON, or Kubernetes manifests (files, directories,
        /// `kubectl get -o json` dumps). Repeatable.
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// Result format.
        #[arg(long, value_enum, default_value = "text")]
        format: tripline::policy::PolicyFormat,
        /// Store violations (`--store`), send them to outputs, run the actions bound to their
        /// package names (`--config`).
        #[command(flatten)]
        act: ActArgs,
    },
}

/// Runs `tripline policy`.
pub(crate) fn run(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    let PolicyCommand::Eval {
        policy,
        rego_v0,
        input,
        format,
        act,
    } = cmd;
    let act_cfg = act.config(false, "policy")?;
    if let Err(e) = tripline::policy::check_inputs(&input) {
        return usage(e);
    }
    Ok(ExitCode::from(tripline::policy::eval(
        &policy, rego_v0, &input, format, &act_cfg,
    )))
}
