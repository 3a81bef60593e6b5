//! `tripline identity analyze|paths|propose`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use super::*;

/// The inputs every `identity` command reads.
#[derive(clap::Args, Clone)]
pub(crate) struct IdentitySources {
    /// Output of `aws iam get-account-authorization-details`.
    #[arg(long, value_name = "FILE")]
    pub(crate) aws_auth: Option<PathBuf>,
    /// IAM credential report CSV (`aws iam get-credential-report`, Content base64-decoded).
    #[arg(long, value_name = "FILE")]
    pub(crate) credential_report: Option<PathBuf>,
    /// CloudTrail logs: files or directories, plain or gzip (repeatable).
    #[arg(long, value_name = "PATH")]
    pub(crate) cloudtrail: Vec<PathBuf>,
    /// RBAC objects: `kubectl get roles,clusterroles,rolebindings,clusterrolebindings,serviceaccounts -A -o json`, or YAML (repeatable).
    #[arg(long, value_name = "FILE")]
    pub(crate) k8s_rbac: Vec<PathBuf>,
    /// Kubernetes audit logs (repeatable).
    #[arg(long, value_name = "PATH")]
    pub(crate) k8s_audit: Vec<PathBuf>,
}

impl IdentitySources {
    pub(crate) fn sources(&self) -> tripline::identity::Sources {
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
pub(crate) enum IdentityCommand {
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

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum IdentityFormatArg {
    Text,
    Json,
    Sarif,
}

/// Runs `tripline identity`.
pub(crate) fn run(cmd: IdentityCommand) -> anyhow::Result<ExitCode> {
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
