//! `tripline drift`: contracts, Kubernetes manifests and Terraform IAM against what is live.

use std::path::PathBuf;
use std::process::ExitCode;

use super::args::*;
use super::*;

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("desired").required(true).args(["contract", "manifests", "terraform"]))]
pub(crate) struct DriftArgs {
    /// The runtime contract (tripline.dev/v1 RuntimeContract YAML).
    #[arg(long)]
    pub(crate) contract: Option<PathBuf>,
    /// Kubernetes: desired manifests, files or directories (as helm template / kustomize build
    /// render them). Repeatable.
    #[arg(long)]
    pub(crate) manifests: Vec<PathBuf>,
    /// Kubernetes: live objects, `kubectl get -o json` dumps. Repeatable.
    #[arg(long)]
    pub(crate) live: Vec<PathBuf>,
    /// Kubernetes: read the live objects from the cluster's API server (every kind the
    /// manifests declare, in their namespaces), with --kubeconfig/--context or as kubectl
    /// would ($KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long)]
    pub(crate) live_cluster: bool,
    /// Kubernetes: kubeconfig file for --live-cluster.
    #[arg(long, requires = "live_cluster")]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// Kubernetes: kubeconfig context for --live-cluster.
    #[arg(long, requires = "live_cluster")]
    pub(crate) context: Option<String>,
    /// Kubernetes: namespace of manifests that name none.
    #[arg(long, default_value = "default")]
    pub(crate) namespace: String,
    /// Kubernetes: Argo CD-style ignoreDifferences list (YAML: group, kind, name, namespace,
    /// jsonPointers, jqPathExpressions).
    #[arg(long)]
    pub(crate) ignore: Option<PathBuf>,
    /// Kubernetes: also evaluate Rego policies on the live objects (`default` for the shipped
    /// pack, or a file or directory; repeatable). Violations are `policy` findings.
    #[arg(long, value_name = "DIR|default", requires = "manifests")]
    pub(crate) policy: Vec<PathBuf>,
    /// The --policy files use the pre-1.0 Rego syntax.
    #[arg(long, requires = "policy")]
    pub(crate) rego_v0: bool,
    /// AWS IAM: Terraform files that declare it (`terraform show -json` output of a state or a
    /// plan, or a terraform.tfstate). Repeatable; compared with --aws-auth.
    #[arg(long, requires = "aws_auth")]
    pub(crate) terraform: Vec<PathBuf>,
    /// AWS IAM: the live account, `aws iam get-account-authorization-details` output.
    #[arg(long, requires = "terraform")]
    pub(crate) aws_auth: Option<PathBuf>,
    /// Audit logs that name who changed each drifted item, when and from where: Kubernetes
    /// audit logs with --manifests, CloudTrail logs (files or directories) with --terraform.
    #[arg(long)]
    pub(crate) audit: Vec<PathBuf>,
    /// Read this directory as the root instead of the live machine.
    #[arg(long)]
    pub(crate) root: Option<PathBuf>,
    /// Also watch this machine with the live sensor for SECS seconds (needs root): programs and
    /// destinations the contract's executables/egress do not allow are drift.
    #[arg(long, value_name = "SECS")]
    pub(crate) watch: Option<u64>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: tripline::drift::DriftFormat,
    /// Store findings (`--store`), send them to outputs and run the actions bound to their
    /// rules (`--config`; drift rules are named `SECTION CHANGE`, e.g. `files changed`).
    #[command(flatten)]
    pub(crate) act: ActArgs,
}

/// Runs `tripline drift`.
pub(crate) fn run(args: DriftArgs) -> anyhow::Result<ExitCode> {
    let format = args.format;
    let act_cfg = args.act.config(false, "drift")?;
    if let Some(live) = &args.aws_auth {
        return Ok(ExitCode::from(tripline::drift::aws_drift(
            &args.terraform,
            live,
            &args.audit,
            format,
            Some(&act_cfg),
        )));
    }
    if args.contract.is_none() && args.live.is_empty() && !args.live_cluster {
        return usage(
            "--manifests needs the live side: --live kubectl-dump.json or --live-cluster".into(),
        );
    }
    Ok(ExitCode::from(match &args.contract {
        Some(contract) => {
            tripline::drift::drift(contract, args.root, args.watch, format, Some(&act_cfg))
        }
        None => tripline::drift::k8s_drift(
            &tripline::drift::K8sInputs {
                manifests: args.manifests,
                live: args.live,
                namespace: args.namespace,
                ignore: args.ignore,
                audit: args.audit,
                cluster: args
                    .live_cluster
                    .then(|| tripline_drift::k8s_live::Cluster {
                        kubeconfig: args.kubeconfig.clone(),
                        context: args.context.clone(),
                    }),
                policies: args.policy,
                rego_v0: args.rego_v0,
            },
            format,
            Some(&act_cfg),
        ),
    }))
}
