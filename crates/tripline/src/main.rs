//! `tripline`: runtime-security engine. See `tripline --help`.
//!
//! Exit codes: 0 success; 1 rules failed to load or an input could not be read; 2 usage error.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tripline::format::{json_alert, text_line, FormatOptions};
use tripline::replay::{self, ReplayConfig};
use tripline::{bundled, rules_files};
use tripline_event::Priority;
use tripline_pipeline::{Audit, Json, Pipeline, SigmaDetector, Syscall};
use tripline_rules::falco::{load, RulesFile};
use tripline_rules::{LoadReport, RuleMatching, Ruleset, Selection};
use tripline_sources::input::Limits;
use tripline_sources::{schemas, SourceKind};

/// mimalloc: documents of 100k objects are allocated and freed as millions of small maps,
/// where glibc's allocator spends more time consolidating free chunks than the work takes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Watch this machine with the eBPF sensor and run syscall rules live (needs root).
    ///
    /// Example: sudo tripline run --rules my_rules.yaml --format json
    Run(RunArgs),
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

/// Where findings go: the store, outputs, actions (shared by `run` and `replay`).
#[derive(clap::Args)]
struct ActArgs {
    /// Finding store: a SQLite file, or postgres://USER:PASSWORD@HOST/DB. `run` keeps one by
    /// default (/var/lib/tripline/store.db as root, else ~/.local/state/tripline/store.db);
    /// `replay` only when given.
    #[arg(long, env = "TRIPLINE_STORE")]
    store: Option<String>,
    /// Keep no store: alerts only print (no UI, outputs or actions).
    #[arg(long, conflicts_with = "store")]
    no_store: bool,
    /// Send new findings to an output (repeatable): stdout[=json], file=PATH, ocsf=PATH,
    /// webhook=URL, falcosidekick=URL, slack=URL, alertmanager=URL, syslog=udp://HOST:PORT.
    /// Delivery is retried until it succeeds, across restarts.
    #[arg(long = "sink", value_name = "TYPE=TARGET")]
    sinks: Vec<String>,
    /// YAML file with `outputs:` and `actions:` lists (see README).
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// Fold identical findings this many seconds apart into one with a count (0: never).
    #[arg(long, default_value_t = 60)]
    dedup_window: u64,
    /// New findings per rule per minute; the rest are counted, not stored (0: no limit).
    #[arg(long, default_value_t = 600)]
    rate_limit: u32,
    /// Delete findings last seen longer ago than this (30d, 12h; 0 keeps all).
    #[arg(long, default_value = "30d", value_parser = retain_arg)]
    retain: Retain,
    /// Delete the oldest findings while the store holds more than this many MiB (0: no limit).
    #[arg(long, default_value_t = 1024)]
    max_store_mib: u64,
    /// Serve the web UI and API over TLS with this PEM certificate (chain); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
}

impl ActArgs {
    fn config(&self, default_store: bool, mode: &str) -> anyhow::Result<tripline::act::ActConfig> {
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

#[derive(clap::Args)]
struct GateArgs {
    /// Store to read (default: the agent's default store).
    #[arg(long, env = "TRIPLINE_STORE", conflicts_with = "findings")]
    store: Option<String>,
    /// Read findings from a file instead: JSON lines or an array of Falco alerts or Tripline
    /// findings (`replay --format json` output, `/api/v1/findings` responses).
    #[arg(long)]
    findings: Option<std::path::PathBuf>,
    /// Only findings last seen within this long: 30m, 24h, 7d (default: all).
    #[arg(long, value_parser = tripline_event::parse_duration_ns)]
    since: Option<i64>,
    /// Fail on findings at or above this priority.
    #[arg(long, default_value = "warning")]
    max_priority: String,
    /// Only these kinds: rule, drift, policy, identity, anomaly (repeatable).
    #[arg(long)]
    kind: Vec<String>,
    /// Manifests or contracts (files or directories): SARIF locations point at the file that
    /// declares each finding's workload.
    #[arg(long)]
    declared: Vec<String>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    format: GateFormatArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum GateFormatArg {
    Text,
    Json,
    Sarif,
    Junit,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Store to serve (default: the agent's default store).
    #[arg(long, env = "TRIPLINE_STORE")]
    store: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8765")]
    listen: String,
    /// PEM certificate (chain) for HTTPS; needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
}

/// The inputs every `identity` command reads.
#[derive(clap::Args, Clone)]
struct IdentitySources {
    /// Output of `aws iam get-account-authorization-details`.
    #[arg(long, value_name = "FILE")]
    aws_auth: Option<PathBuf>,
    /// IAM credential report CSV (`aws iam get-credential-report`, Content base64-decoded).
    #[arg(long, value_name = "FILE")]
    credential_report: Option<PathBuf>,
    /// CloudTrail logs: files or directories, plain or gzip (repeatable).
    #[arg(long, value_name = "PATH")]
    cloudtrail: Vec<PathBuf>,
    /// RBAC objects: `kubectl get roles,clusterroles,rolebindings,clusterrolebindings,serviceaccounts -A -o json`, or YAML (repeatable).
    #[arg(long, value_name = "FILE")]
    k8s_rbac: Vec<PathBuf>,
    /// Kubernetes audit logs (repeatable).
    #[arg(long, value_name = "PATH")]
    k8s_audit: Vec<PathBuf>,
}

impl IdentitySources {
    fn sources(&self) -> tripline::identity::Sources {
        tripline::identity::Sources {
            aws_auth: self.aws_auth.clone(),
            credential_report: self.credential_report.clone(),
            cloudtrail: self.cloudtrail.clone(),
            k8s_rbac: self.k8s_rbac.clone(),
            k8s_audit: self.k8s_audit.clone(),
        }
    }
}

#[derive(Subcommand)]
enum IdentityCommand {
    /// Ranked findings: risky grants, escalation paths, unused identities, permissions and keys.
    ///
    /// Example: tripline identity analyze --aws-auth auth.json --cloudtrail trail/ --k8s-rbac rbac.json --k8s-audit audit.log
    Analyze {
        #[command(flatten)]
        sources: IdentitySources,
        /// An identity or key idle this many days is unused.
        #[arg(long, default_value_t = 90)]
        unused_days: u64,
        /// Access keys older than this many days should be rotated.
        #[arg(long, default_value_t = 90)]
        key_max_age_days: u64,
        /// Judge idleness as of this time (RFC 3339; default: now).
        #[arg(long)]
        now: Option<String>,
        /// Exit 3 when a finding at or above this severity exists (low, medium, high, critical).
        #[arg(long, value_name = "SEVERITY")]
        fail_on: Option<String>,
        /// text (ranked list), json (findings, paths, admins) or sarif (SARIF 2.1.0).
        #[arg(long, value_enum, default_value = "text")]
        format: IdentityFormatArg,
        /// Store the findings and send them to outputs (a SQLite file or postgres:// URL).
        #[arg(long, env = "TRIPLINE_STORE")]
        store: Option<String>,
        /// Also deliver to this output (stdout, file:PATH, webhook:URL, ...; repeatable).
        #[arg(long = "sink")]
        sinks: Vec<String>,
    },
    /// The shortest path from each identity to an admin-equivalent one.
    ///
    /// Example: tripline identity paths --to admin --aws-auth auth.json --k8s-rbac rbac.json
    Paths {
        #[command(flatten)]
        sources: IdentitySources,
        /// Target: `admin` (admin-equivalent identities).
        #[arg(long, default_value = "admin")]
        to: String,
        /// Only paths starting at this identity (ARN, name or Kubernetes subject).
        #[arg(long)]
        from: Option<String>,
        /// text (one path per line) or json.
        #[arg(long, value_enum, default_value = "text")]
        format: IdentityFormatArg,
    },
    /// Write a least-privilege policy (AWS) or Role (Kubernetes) from what the logs show was
    /// used, and a unified diff against what is granted now.
    ///
    /// Example: tripline identity propose --identity arn:aws:iam::1:role/ci --aws-auth auth.json --cloudtrail trail/ -o proposals/
    Propose {
        #[command(flatten)]
        sources: IdentitySources,
        /// ARN, user or role name, or Kubernetes subject (`jane`, `system:serviceaccount:ns:sa`).
        #[arg(long)]
        identity: String,
        /// Directory to write the proposal into.
        #[arg(short = 'o', long, default_value = ".")]
        output: PathBuf,
    },
}

#[derive(Subcommand)]
enum AnomalyCommand {
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

#[derive(Clone, Copy, ValueEnum)]
enum IdentityFormatArg {
    Text,
    Json,
    Sarif,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it (once).
    Create {
        /// Token name (shown in the UI and the action audit trail).
        name: String,
        /// viewer (read-only) or admin (approves actions).
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Store (default: the agent's default store).
        #[arg(long, env = "TRIPLINE_STORE")]
        store: Option<String>,
    },
    /// Revoke a token by name.
    Revoke {
        /// Token name.
        name: String,
        /// Store (default: the agent's default store).
        #[arg(long, env = "TRIPLINE_STORE")]
        store: Option<String>,
    },
}

#[derive(Subcommand)]
enum ContractCommand {
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

#[derive(Subcommand)]
enum PolicyCommand {
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
        format: PolicyFormatArg,
        /// Store violations (`--store`), send them to outputs, run the actions bound to their
        /// package names (`--config`).
        #[command(flatten)]
        act: ActArgs,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum PolicyFormatArg {
    Text,
    Json,
    Policyreport,
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("desired").required(true).args(["contract", "manifests", "terraform"]))]
struct DriftArgs {
    /// The runtime contract (tripline.dev/v1 RuntimeContract YAML).
    #[arg(long)]
    contract: Option<PathBuf>,
    /// Kubernetes: desired manifests, files or directories (as helm template / kustomize build
    /// render them). Repeatable.
    #[arg(long)]
    manifests: Vec<PathBuf>,
    /// Kubernetes: live objects, `kubectl get -o json` dumps. Repeatable.
    #[arg(long)]
    live: Vec<PathBuf>,
    /// Kubernetes: read the live objects from the cluster's API server (every kind the
    /// manifests declare, in their namespaces), with --kubeconfig/--context or as kubectl
    /// would ($KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long)]
    live_cluster: bool,
    /// Kubernetes: kubeconfig file for --live-cluster.
    #[arg(long, requires = "live_cluster")]
    kubeconfig: Option<PathBuf>,
    /// Kubernetes: kubeconfig context for --live-cluster.
    #[arg(long, requires = "live_cluster")]
    context: Option<String>,
    /// Kubernetes: namespace of manifests that name none.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Kubernetes: Argo CD-style ignoreDifferences list (YAML: group, kind, name, namespace,
    /// jsonPointers, jqPathExpressions).
    #[arg(long)]
    ignore: Option<PathBuf>,
    /// Kubernetes: also evaluate Rego policies on the live objects (`default` for the shipped
    /// pack, or a file or directory; repeatable). Violations are `policy` findings.
    #[arg(long, value_name = "DIR|default", requires = "manifests")]
    policy: Vec<PathBuf>,
    /// The --policy files use the pre-1.0 Rego syntax.
    #[arg(long, requires = "policy")]
    rego_v0: bool,
    /// AWS IAM: Terraform files that declare it (`terraform show -json` output of a state or a
    /// plan, or a terraform.tfstate). Repeatable; compared with --aws-auth.
    #[arg(long, requires = "aws_auth")]
    terraform: Vec<PathBuf>,
    /// AWS IAM: the live account, `aws iam get-account-authorization-details` output.
    #[arg(long, requires = "terraform")]
    aws_auth: Option<PathBuf>,
    /// Audit logs that name who changed each drifted item, when and from where: Kubernetes
    /// audit logs with --manifests, CloudTrail logs (files or directories) with --terraform.
    #[arg(long)]
    audit: Vec<PathBuf>,
    /// Read this directory as the root instead of the live machine.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Also watch this machine with the live sensor for SECS seconds (needs root): programs and
    /// destinations the contract's executables/egress do not allow are drift.
    #[arg(long, value_name = "SECS")]
    watch: Option<u64>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    format: DriftFormatArg,
    /// Store findings (`--store`), send them to outputs and run the actions bound to their
    /// rules (`--config`; drift rules are named `SECTION CHANGE`, e.g. `files changed`).
    #[command(flatten)]
    act: ActArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum DriftFormatArg {
    Text,
    Json,
    Sarif,
    Policyreport,
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
    /// Rules file or directory (repeatable, loaded in order). Default: the upstream rules for
    /// the source, unless only --sigma is given.
    #[arg(long = "rules", short = 'r')]
    rules: Vec<String>,
    /// Sigma rule file or directory tree (repeatable), run alongside or instead of --rules.
    #[arg(long)]
    sigma: Vec<String>,
    /// Also load Sigma rules whose status is deprecated or unsupported.
    #[arg(long)]
    sigma_include_deprecated: bool,
    /// pySigma-style processing pipeline applied to the Sigma rules (repeatable).
    #[arg(long)]
    sigma_pipeline: Vec<String>,
    /// Source of the inputs (syscall for .scap captures, k8s_audit, aws_cloudtrail,
    /// gcp_auditlog, okta, github, auditd); `auto` detects it from the first input.
    #[arg(long, default_value = "auto")]
    source: String,
    /// Captures: also evaluate the read/write, memory and scheduler events Falco skips by
    /// default (Falco's -A).
    #[arg(long, short = 'A')]
    all_events: bool,
    /// Alert format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    select: SelectArgs,
    /// Largest single record accepted, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_event_bytes: usize,
    /// Also score every CloudTrail or Kubernetes audit record against this baseline (from
    /// `tripline anomaly train`) and report anomalies as findings.
    #[arg(long, value_name = "BASELINE")]
    anomaly: Option<PathBuf>,
    /// Anomaly score (0-1) at or above which a record is reported.
    #[arg(long, default_value_t = tripline::anomaly::DEFAULT_THRESHOLD)]
    anomaly_threshold: f64,
    #[command(flatten)]
    act: ActArgs,
    /// Log files, directories, or `-` for stdin (plain or gzip).
    #[arg(required = true)]
    inputs: Vec<String>,
}

/// Rule selection and alert options shared by `replay` and `run`.
#[derive(clap::Args)]
struct SelectArgs {
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
}

impl SelectArgs {
    fn matching(&self) -> RuleMatching {
        match self.rule_matching {
            Matching::First => RuleMatching::First,
            Matching::All => RuleMatching::All,
        }
    }

    fn hostname(&self) -> String {
        self.hostname.clone().unwrap_or_else(hostname)
    }

    fn format_options(&self) -> FormatOptions {
        FormatOptions {
            iso8601: !self.clock_time,
            ..FormatOptions::default()
        }
    }

    /// Loads `files` and applies the selection; `Err` carries the exit code to return.
    fn load(&self, files: &[RulesFile]) -> Result<Ruleset, ExitCode> {
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

#[derive(clap::Args)]
struct RunArgs {
    /// Rules file or directory (repeatable, loaded in order, after the shipped falco_rules.yaml
    /// unless --no-default-rules).
    #[arg(long = "rules", short = 'r')]
    rules: Vec<String>,
    /// Do not load the shipped falco_rules.yaml.
    #[arg(long)]
    no_default_rules: bool,
    /// Sigma rule file or directory tree (repeatable): Linux process_creation, file_event and
    /// network_connection rules run on the sensor's events.
    #[arg(long)]
    sigma: Vec<String>,
    /// pySigma-style processing pipeline applied to the Sigma rules (repeatable).
    #[arg(long)]
    sigma_pipeline: Vec<String>,
    /// Alert format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Also append alerts to this file (same format).
    #[arg(long, short = 'o')]
    output: Option<std::path::PathBuf>,
    #[command(flatten)]
    select: SelectArgs,
    /// Print events/s, drops and alerts every N seconds on stderr (0 = never).
    #[arg(long, default_value_t = 0)]
    stats_interval: u64,
    /// Report every syscall Tripline decodes, not only those the rules need.
    #[arg(long)]
    all_syscalls: bool,
    /// Also report syscalls Tripline does not decode (counted, not evaluated): a pipeline load
    /// test, used by bench/sensor.sh.
    #[arg(long)]
    every_syscall: bool,
    /// Also write every event to a capture file (`.scap`, gzip if it ends in `.gz`) that
    /// `tripline replay`, `sysdig -r` and `falco -e` read. Add --all-syscalls to record more
    /// than the rules need.
    #[arg(long, value_name = "FILE")]
    capture: Option<std::path::PathBuf>,
    /// Ring buffer size in MiB (a power of two, 1 to 1024).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    ring_mib: u32,
    /// How syscalls are hooked: `syscall-tracepoints` runs BPF only for the syscalls the rules
    /// need; `raw` runs it on every syscall (also counts ia32 syscalls); `auto` picks the
    /// first unless --every-syscall is set or the kernel lacks syscall tracepoints.
    #[arg(
        long,
        default_value = "auto",
        value_name = "auto|raw|syscall-tracepoints"
    )]
    hooks: tripline_sensor::Hooks,
    /// Text appended to every syscall alert (Falco's `append_output`); empty to append nothing.
    #[arg(
        long,
        default_value = "container_id=%container.id container_name=%container.name"
    )]
    append_output: String,
    /// The host's root filesystem, where container runtimes keep the state that names
    /// containers and their images (`/var/lib/docker`, `/run/containerd`, ...). Set it when the
    /// agent runs in a container with the host mounted, e.g. `--host-root /host`.
    #[arg(
        long,
        value_name = "DIR",
        env = "TRIPLINE_HOST_ROOT",
        default_value = "/"
    )]
    host_root: PathBuf,
    /// Stop after N seconds (default: run until SIGINT or SIGTERM).
    #[arg(long)]
    duration: Option<u64>,
    /// Score programs run, destinations and listening ports of each workload against this
    /// baseline and report anomalies (learn one with --anomaly-learn).
    #[arg(long, value_name = "BASELINE", conflicts_with = "anomaly_learn")]
    anomaly: Option<PathBuf>,
    /// Learn each workload's programs, destinations and ports during this run into a baseline.
    #[arg(long, value_name = "FILE")]
    anomaly_learn: Option<PathBuf>,
    /// Anomaly score (0-1) at or above which an event is reported.
    #[arg(long, default_value_t = tripline::anomaly::DEFAULT_THRESHOLD)]
    anomaly_threshold: f64,
    #[command(flatten)]
    act: ActArgs,
    /// Where the web UI and API listen.
    #[arg(long, default_value = "127.0.0.1:8765")]
    listen: String,
    /// Serve no web UI or API.
    #[arg(long)]
    no_ui: bool,
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

/// `--retain`: a maximum age in ns, or `None` (`0`) to keep every finding.
#[derive(Debug, Clone, Copy)]
struct Retain(Option<i64>);

fn retain_arg(s: &str) -> Result<Retain, String> {
    match s.trim() {
        "0" => Ok(Retain(None)),
        s => tripline_event::parse_duration_ns(s).map(|d| Retain(Some(d))),
    }
}

/// `mi_option_purge_delay` in `mimalloc.h` (the same in mimalloc 2 and 3; the bindings leave
/// it out).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Large pages where the kernel allows them (transparent huge pages): a fault per 4 KiB
    // page is most of the time spent reading a 100k-object dump on a virtual machine.
    // SAFETY: sets a process-wide allocator option; no allocation is in flight.
    unsafe { libmimalloc_sys::mi_option_set(libmimalloc_sys::mi_option_large_os_pages, 1) };
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if !matches!(cli.command, Command::Run(_) | Command::Serve(_)) {
        // A one-shot command keeps the memory it frees instead of returning it to the kernel
        // after 10 ms: giving back a huge page and faulting it in again (zeroed) cost more
        // system time than the policy evaluation of 100k objects itself. The agent and the
        // server keep mimalloc's default and give memory back.
        // SAFETY: sets a process-wide allocator option; mimalloc reads it when it purges.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
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
        Command::Run(args) => run_cmd(args),
        Command::Rules(RulesCommand::Validate { files }) => validate_cmd(&files),
        Command::Rules(RulesCommand::List { source, rules }) => list_cmd(source, &rules),
        Command::Contract(ContractCommand::Learn {
            root,
            include,
            name,
            watch,
            baseline,
            keep_sources,
            output,
        }) => {
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
        Command::Identity(cmd) => identity(cmd),
        Command::Anomaly(cmd) => anomaly(cmd),
        Command::Contract(ContractCommand::Schema) => {
            tripline::outln!(
                "{}",
                serde_json::to_string_pretty(&tripline_drift::contract::json_schema())?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Contract(ContractCommand::Snapshot {
            root,
            include,
            output,
        }) => {
            tripline::drift::snapshot_to(&root, &include, &output)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy(PolicyCommand::Eval {
            policy,
            rego_v0,
            input,
            format,
            act,
        }) => {
            let act_cfg = act.config(false, "policy")?;
            if let Err(e) = tripline::policy::check_inputs(&input) {
                return usage(e);
            }
            let format = match format {
                PolicyFormatArg::Text => tripline::policy::PolicyFormat::Text,
                PolicyFormatArg::Json => tripline::policy::PolicyFormat::Json,
                PolicyFormatArg::Policyreport => tripline::policy::PolicyFormat::PolicyReport,
            };
            Ok(ExitCode::from(tripline::policy::eval(
                &policy, rego_v0, &input, format, &act_cfg,
            )))
        }
        Command::Gate(args) => gate_cmd(args),
        Command::Serve(args) => serve_cmd(args),
        Command::Token(cmd) => token_cmd(cmd),
        Command::Drift(args) => {
            let format = match args.format {
                DriftFormatArg::Text => tripline::drift::DriftFormat::Text,
                DriftFormatArg::Json => tripline::drift::DriftFormat::Json,
                DriftFormatArg::Sarif => tripline::drift::DriftFormat::Sarif,
                DriftFormatArg::Policyreport => tripline::drift::DriftFormat::PolicyReport,
            };
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
                    "--manifests needs the live side: --live kubectl-dump.json or --live-cluster"
                        .into(),
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
    }
}

fn store_or_default(store: Option<String>) -> String {
    store.unwrap_or_else(tripline::act::default_store)
}

fn gate_cmd(args: GateArgs) -> anyhow::Result<ExitCode> {
    use tripline::gate::{GateConfig, GateFormat};
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
    let format = match args.format {
        GateFormatArg::Text => GateFormat::Text,
        GateFormatArg::Json => GateFormat::Json,
        GateFormatArg::Sarif => GateFormat::Sarif,
        GateFormatArg::Junit => GateFormat::Junit,
    };
    let mut out = io::stdout().lock();
    let code = tripline::gate::gate(findings, &cfg, format, &mut out)?;
    out.flush()?;
    Ok(ExitCode::from(code))
}

fn serve_cmd(args: ServeArgs) -> anyhow::Result<ExitCode> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let url = store_or_default(args.store);
    let act = tripline::act::Act::start(&tripline::act::ActConfig {
        store: Some(url),
        limits: Default::default(),
        outputs: Vec::new(),
        actions: Vec::new(),
        listen: Some(args.listen.clone()),
        execute_actions: false,
        mode: "serve".into(),
        overflow: tripline_pipeline::Overflow::Block,
        retention: Default::default(),
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(tripline_server::Tls { cert, key }),
            _ => None,
        },
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    act.finish();
    Ok(ExitCode::SUCCESS)
}

fn token_cmd(cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCommand::Create { name, role, store } => {
            let Some(role) = tripline_store::auth::Role::parse(&role) else {
                return usage(format!("--role '{role}': expected viewer or admin"));
            };
            let mut s = tripline_store::Store::open(&store_or_default(store))?;
            let token = s.create_token(&name, role)?;
            tripline::outln!("{token}");
            eprintln!(
                "tripline: token '{name}' ({}) created; it is shown only now",
                role.as_str()
            );
        }
        TokenCommand::Revoke { name, store } => {
            let mut s = tripline_store::Store::open(&store_or_default(store))?;
            if !s.revoke_token(&name)? {
                eprintln!("tripline: no token named '{name}'");
                return Ok(ExitCode::from(1));
            }
            eprintln!("tripline: token '{name}' revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
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
            None => return usage("could not detect the input's source; pass --source k8s_audit|aws_cloudtrail|gcp_auditlog|okta|github".into()),
        }
    } else {
        match SourceKind::from_name(&args.source) {
            Some(s) => Some(s),
            None => return usage(format!("unknown source '{}' (expected auto, syscall, k8s_audit, aws_cloudtrail, gcp_auditlog, okta or github)", args.source)),
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
            let line = match args.format {
                Format::Text => text_line(&finding, &opts),
                Format::Json => json_alert(&finding, &opts).to_string(),
            };
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
fn replay_auditd(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
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
        let line = match args.format {
            Format::Text => text_line(&f, &opts),
            Format::Json => json_alert(&f, &opts).to_string(),
        };
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

/// Loads Sigma rules and pipelines, printing every error with file and line; `Err` is the
/// exit code to return.
fn load_sigma(
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
    // Correlation matches dropped at the group limit are reported, never silent.
    if stats.detector_dropped > 0 {
        eprintln!(
            "Sigma correlation matches dropped (more than {} groups): {}",
            tripline_sigma::correlation::MAX_GROUPS,
            stats.detector_dropped
        );
    }
}

fn validate_cmd(paths: &[String]) -> anyhow::Result<ExitCode> {
    let all = rules_files::read(paths)?;
    let (sigma_files, falco_files): (Vec<RulesFile>, Vec<RulesFile>) =
        all.into_iter().partition(rules_files::is_sigma);
    let mut ok = true;
    if !falco_files.is_empty() || sigma_files.is_empty() {
        let (rules, report) = load(&falco_files, &schemas());
        print_report(&report);
        let names: Vec<&str> = falco_files.iter().map(|f| f.name.as_str()).collect();
        if report.is_ok() {
            tripline::outln!(
                "{}: ok ({} rules, {} warnings)",
                names.join(", "),
                rules.rules().len(),
                report.warnings.len()
            );
        } else {
            ok = false;
            tripline::outln!(
                "{}: {} errors, {} warnings",
                names.join(", "),
                report.errors.len(),
                report.warnings.len()
            );
        }
    }
    if !sigma_files.is_empty() {
        let opts = tripline_sigma::LoadOptions {
            include_deprecated: true,
        };
        let (set, errors, _) = rules_files::load_sigma(&sigma_files, &[], opts);
        for e in &errors {
            eprintln!("error: {e}");
        }
        ok &= errors.is_empty();
        tripline::outln!(
            "Sigma: {} files, {} rules, {} correlations, {} errors",
            sigma_files.len(),
            set.rules().len(),
            set.correlations().correlations().len(),
            errors.len()
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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

/// Prints alerts and statistics of a live run.
struct LiveOutput {
    format: Format,
    opts: FormatOptions,
    stdout: io::Stdout,
    file: Option<io::BufWriter<std::fs::File>>,
    error: Option<io::Error>,
    rules_active: usize,
    act: tripline::act::Act,
    live: std::sync::Arc<std::sync::Mutex<tripline_server::LiveStats>>,
    print_stats: bool,
    /// Learning workload baselines (`--anomaly-learn`): watches every event.
    learning: Option<tripline::anomaly::Workloads>,
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
        let line = match self.format {
            Format::Text => text_line(&finding, &self.opts),
            Format::Json => json_alert(&finding, &self.opts).to_string(),
        };
        let mut out = self.stdout.lock();
        // Alerts are flushed one by one: a live agent must not sit on them.
        let res = writeln!(out, "{line}").and_then(|_| out.flush());
        if let Err(e) = res {
            self.error.get_or_insert(e);
        }
        if let Some(f) = &mut self.file {
            if let Err(e) = writeln!(f, "{line}").and_then(|_| f.flush()) {
                self.error.get_or_insert(e);
            }
        }
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

fn run_cmd(args: RunArgs) -> anyhow::Result<ExitCode> {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    if !args.ring_mib.is_power_of_two() {
        return usage(format!(
            "--ring-mib must be a power of two, got {}",
            args.ring_mib
        ));
    }
    let mut files = if args.no_default_rules {
        Vec::new()
    } else {
        bundled::for_source("syscall")
    };
    files.extend(rules_files::read(&args.rules)?);
    let mut rules = match args.select.load(&files) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    if !args.append_output.is_empty() {
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
    let mut act_cfg = args.act.config(true, "sensor")?;
    act_cfg.listen = (!args.no_ui && act_cfg.store.is_some()).then(|| args.listen.clone());
    act_cfg.execute_actions = true;
    let act = tripline::act::Act::start(&act_cfg)?;
    let mut out = LiveOutput {
        live: act.stats(),
        act,
        print_stats: args.stats_interval > 0,
        format: args.format,
        opts: args.select.format_options(),
        stdout: io::stdout(),
        file,
        error: None,
        rules_active: rules.active_count(),
        learning: match (&args.anomaly, &args.anomaly_learn) {
            (None, Some(path)) => Some(tripline::anomaly::Workloads::Learn(
                tripline_anomaly::Baseline::default(),
                path.clone(),
            )),
            _ => None,
        },
    };
    let hostname = args.select.hostname();
    let syscalls = tripline::run::needed_syscalls(&rules, false);
    let mut pipeline: Pipeline<Syscall> = Pipeline::falco(rules, args.select.matching(), &hostname);
    if !args.sigma.is_empty() {
        match load_sigma(&args.sigma, &args.sigma_pipeline, false)? {
            Ok(set) => pipeline.push(Box::new(SigmaDetector::new(set, &hostname))),
            Err(code) => return Ok(code),
        }
    }
    if let Some(b) = &args.anomaly {
        pipeline.push(Box::new(tripline::anomaly::Workloads::score(
            b,
            args.anomaly_threshold,
            &hostname,
        )?));
    }
    let stats = match tripline::run::run(&mut pipeline, syscalls, &cfg, &stop, &mut out) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tripline: {e}");
            return Ok(ExitCode::from(1));
        }
    };
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
    out.act.finish();
    if let Some(w) = out.learning.take() {
        w.finish()?;
    }
    if let Some(e) = out.error {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn identity(cmd: IdentityCommand) -> anyhow::Result<ExitCode> {
    use tripline::identity as id;
    match cmd {
        IdentityCommand::Analyze {
            sources,
            unused_days,
            key_max_age_days,
            now,
            fail_on,
            format,
            store,
            sinks,
        } => {
            let fail_on = match fail_on.as_deref() {
                None => None,
                Some(s) => Some(match s {
                    "low" => tripline_identity::finding::Severity::Low,
                    "medium" => tripline_identity::finding::Severity::Medium,
                    "high" => tripline_identity::finding::Severity::High,
                    "critical" => tripline_identity::finding::Severity::Critical,
                    _ => anyhow::bail!("--fail-on '{s}': expected low, medium, high or critical"),
                }),
            };
            let now_secs = match now.as_deref() {
                None => chrono_now(),
                Some(t) => tripline_sources::parse_time(t)
                    .map(|ns| (ns / 1_000_000_000) as i64)
                    .ok_or_else(|| {
                        anyhow::anyhow!("--now '{t}': expected RFC 3339, like 2026-01-31T00:00:00Z")
                    })?,
            };
            let opts = tripline_identity::analyze::Options {
                unused_days,
                key_max_age_days,
                now_secs,
            };
            let report = id::analyze(&sources.sources(), &opts)?;
            let out = match format {
                IdentityFormatArg::Text => id::text(&report),
                IdentityFormatArg::Json => serde_json::to_string_pretty(&report)? + "\n",
                IdentityFormatArg::Sarif => {
                    serde_json::to_string_pretty(&id::sarif(&report))? + "\n"
                }
            };
            tripline::out!("{out}");
            if store.is_some() || !sinks.is_empty() {
                let mut outputs = Vec::new();
                for s in &sinks {
                    outputs.push(
                        tripline_respond::config::OutputConfig::from_flag(s)
                            .map_err(|e| anyhow::anyhow!("--sink {s}: {e}"))?,
                    );
                }
                // Daily re-runs fold into the same findings; identity findings are never rate limited.
                let cfg = tripline::act::ActConfig {
                    store: Some(store.unwrap_or_else(tripline::act::default_store)),
                    limits: tripline_store::Config {
                        dedup_window_ns: 7 * 86_400 * 1_000_000_000,
                        rate_per_minute: 0,
                        burst: 1,
                    },
                    outputs,
                    actions: Vec::new(),
                    listen: None,
                    execute_actions: false,
                    mode: "identity".into(),
                    overflow: tripline_pipeline::Overflow::Block,
                    retention: tripline_store::Retention::default(),
                    tls: None,
                };
                let mut act = tripline::act::Act::start(&cfg)?;
                let now_ns = tripline_store::now_ns();
                for f in &report.findings {
                    act.finding(&id::new_finding(f, now_ns));
                }
                act.finish();
            }
            let fail = fail_on.is_some_and(|t| report.findings.iter().any(|f| f.severity >= t));
            Ok(if fail {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
        IdentityCommand::Paths {
            sources,
            to,
            from,
            format,
        } => {
            if to != "admin" {
                anyhow::bail!("--to '{to}': only `admin` is supported");
            }
            let report = id::analyze(
                &sources.sources(),
                &tripline_identity::analyze::Options::default(),
            )?;
            let paths: Vec<&tripline_identity::graph::EscalationPath> = report
                .paths
                .iter()
                .filter(|p| {
                    from.as_deref().is_none_or(|f| {
                        p.from == f
                            || p.from.ends_with(&format!("/{f}"))
                            || p.from == format!("k8s:{f}")
                    })
                })
                .collect();
            match format {
                IdentityFormatArg::Text => {
                    for p in &paths {
                        tripline::outln!("{}", p.display());
                    }
                    eprintln!(
                        "{} paths to admin; {} admin-equivalent identities",
                        paths.len(),
                        report.admins.len()
                    );
                }
                _ => tripline::outln!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"paths": paths, "admins": report.admins})
                    )?
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        IdentityCommand::Propose {
            sources,
            identity,
            output,
        } => {
            for p in id::propose_to(&sources.sources(), &identity, &output)? {
                tripline::outln!("{}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn anomaly(cmd: AnomalyCommand) -> anyhow::Result<ExitCode> {
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
