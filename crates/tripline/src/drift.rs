//! `tripline contract learn|snapshot` and `tripline drift`: the host side of runtime contracts.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use std::sync::OnceLock;

use indicatif::{ProgressBar, ProgressStyle};
use tripline_drift::collect::{self, Options, Snapshot};
use tripline_drift::{compare, learn, report, Contract};

/// Exit code when drift is found (for CI gates).
pub const EXIT_DRIFT: u8 = 3;

static BAR: OnceLock<ProgressBar> = OnceLock::new();

fn progress(done: u64, total: u64) {
    if let Some(bar) = BAR.get() {
        bar.set_length(total);
        if done.is_multiple_of(64) || done == total {
            bar.set_position(done);
        }
    }
}

/// Snapshots `root` with the file globs `include`, with a progress bar on a terminal.
pub fn snapshot(root: &Path, include: &[String]) -> Snapshot {
    if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("hashing {pos}/{len} files {wide_bar} {eta}")
                .expect("valid template"),
        );
        let _ = BAR.set(bar);
    }
    let snap = collect::collect(&Options {
        root: root.to_path_buf(),
        include: include.to_vec(),
        progress: Some(progress),
        ..Options::default()
    });
    if let Some(bar) = BAR.get() {
        bar.finish_and_clear();
    }
    for e in snap.errors.iter().take(20) {
        eprintln!("warning: {e}");
    }
    if snap.errors.len() > 20 {
        eprintln!(
            "warning: {} more unreadable sources",
            snap.errors.len() - 20
        );
    }
    snap
}

/// Records what runs and where it connects while the sensor watches.
#[derive(Default)]
struct Watch {
    executables: std::collections::BTreeSet<String>,
    egress: std::collections::BTreeSet<(String, u16)>,
    /// Sockets put in listening state, even ones closed again before the snapshot.
    listeners: std::collections::BTreeSet<tripline_drift::collect::Listener>,
}

impl crate::run::RunObserver for Watch {
    fn on_ready(&mut self, stats: &crate::run::RunStats) {
        eprintln!(
            "tripline: sensor attached; watching {} syscalls via {} hooks",
            stats.syscalls.len(),
            stats.hooks
        );
    }

    fn on_alert(&mut self, _: tripline_event::Finding) {}

    fn on_event(&mut self, ev: &tripline_syscall::SyscallEvent<'_>) {
        use tripline_syscall::Kind;
        match ev.kind() {
            Some(Kind::Execve | Kind::Execveat) if ev.ret() == 0 => {
                if let Some(p) = ev.process().filter(|p| !p.exepath.is_empty()) {
                    self.executables.insert(p.exepath.clone());
                }
            }
            // Attempts count: a blocked connection is still an egress attempt (-115 = EINPROGRESS).
            Some(Kind::Connect) if ev.ret() == 0 || ev.ret() == -115 || ev.ret() == -110 => {
                let Some((_, f)) = ev.fd() else { return };
                let Some(t) = f.sock.filter(|_| f.kind.is_ip()) else {
                    return;
                };
                if t.rport != 0 && !t.remote.is_loopback() && !t.remote.is_unspecified() {
                    self.egress.insert((t.remote.to_string(), t.rport));
                }
            }
            Some(Kind::Listen) if ev.ret() == 0 => {
                let Some((_, f)) = ev.fd() else { return };
                let Some(t) = f.sock.filter(|_| f.kind.is_ip()) else {
                    return;
                };
                self.listeners.insert(tripline_drift::collect::Listener {
                    protocol: "tcp".into(),
                    address: t.local.to_string(),
                    port: t.lport,
                    process: ev.process().map(|p| p.comm.clone()).unwrap_or_default(),
                });
            }
            _ => {}
        }
    }
}

/// Watches this machine with the live sensor for `secs` seconds and adds the programs run, the
/// outbound connections attempted and the ports listened on (also short-lived ones) to the
/// snapshot.
pub fn observe(snap: &mut Snapshot, secs: u64) -> anyhow::Result<()> {
    let cfg = crate::run::RunConfig {
        all_syscalls: true,
        duration: Some(std::time::Duration::from_secs(secs)),
        ..Default::default()
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut watch = Watch::default();
    eprintln!("watching for {secs} s with the live sensor ...");
    // No detector: the watch only collects what runs (every syscall Tripline decodes).
    let mut pipeline = tripline_pipeline::Pipeline::new(Vec::new());
    crate::run::run(&mut pipeline, None, &cfg, &stop, &mut watch)?;
    snap.executables = watch.executables;
    snap.egress = watch.egress;
    snap.listeners.extend(watch.listeners);
    snap.watched = true;
    Ok(())
}

/// Adds what a workload baseline saw (programs, destinations) to the snapshot, so the
/// contract learned from it allows them.
pub fn allow_baseline(snap: &mut Snapshot, b: &tripline_anomaly::Baseline) {
    use tripline_anomaly::Feature;
    for e in b
        .entities
        .values()
        .filter(|e| e.peer_group.starts_with("workload:"))
    {
        for (f, v) in e.values.keys() {
            match f {
                Feature::Executable => {
                    snap.executables.insert(v.clone());
                }
                Feature::Egress => {
                    if let Some((dest, port)) = v.rsplit_once(':') {
                        if let Ok(port) = port.parse() {
                            snap.egress.insert((dest.to_string(), port));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    snap.watched = true;
}

/// The host name of `root` (its /etc/hostname), for a learned contract's name.
pub fn host_name(root: &Path) -> String {
    std::fs::read_to_string(root.join("etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// Learns a contract and writes it to `output` (or stdout for `-`).
pub fn learn_to(
    root: &Path,
    include: &[String],
    name: Option<&str>,
    watch: Option<u64>,
    baseline: Option<&Path>,
    keep_sources: Option<&Path>,
    output: &Path,
) -> anyhow::Result<()> {
    let mut snap = snapshot(root, include);
    if let Some(secs) = watch {
        observe(&mut snap, secs)?;
    }
    if let Some(path) = baseline {
        allow_baseline(&mut snap, &tripline_anomaly::Baseline::load(path)?);
    }
    let name = name.map_or_else(|| host_name(root), str::to_string);
    let mut contract = learn::learn(&snap, &name, include);
    if let Some(dir) = keep_sources {
        let n = learn::keep_sources(&mut contract, root, dir)
            .with_context(|| format!("--keep-sources {}", dir.display()))?;
        eprintln!("kept {n} new source copies in {}", dir.display());
    }
    write_out(output, &contract.to_yaml())?;
    eprintln!(
        "learned: {} files, {} users, {} packages, {} keys, {} listeners, {} units, {} cron entries, {} programs, {} destinations",
        snap.files.len(),
        snap.users.len(),
        snap.packages.len(),
        snap.authorized_keys.len(),
        snap.listeners.len(),
        snap.units.len(),
        snap.cron.len(),
        snap.executables.len(),
        snap.egress.len()
    );
    Ok(())
}

/// Writes a snapshot as JSON (the input of policies).
pub fn snapshot_to(root: &Path, include: &[String], output: &Path) -> anyhow::Result<()> {
    let snap = snapshot(root, include);
    write_out(output, &serde_json::to_string_pretty(&snap)?)
}

fn write_out(output: &Path, text: &str) -> anyhow::Result<()> {
    if output == Path::new("-") {
        crate::out!("{text}");
        Ok(())
    } else {
        std::fs::write(output, text).map_err(|e| anyhow::anyhow!("{}: {e}", output.display()))
    }
}

/// Output of `tripline drift`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DriftFormat {
    /// Lines for people.
    Text,
    /// `{"findings": [...], "summary": {...}}`.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// `wgpolicyk8s.io/v1alpha2` PolicyReport (YAML).
    #[value(name = "policyreport")]
    PolicyReport,
}

/// What `tripline drift --manifests` compares.
#[derive(Debug, Clone, Default)]
pub struct K8sInputs {
    /// Desired manifests: files or directories of YAML/JSON, multi-document.
    pub manifests: Vec<PathBuf>,
    /// Live objects: `kubectl get -o json` dumps.
    pub live: Vec<PathBuf>,
    /// Namespace of manifests that name none.
    pub namespace: String,
    /// Argo CD-style `ignoreDifferences` list (YAML).
    pub ignore: Option<PathBuf>,
    /// Kubernetes audit logs, to name who changed each drifted object.
    pub audit: Vec<PathBuf>,
    /// Read the live objects from this cluster's API server (as well as any dumps).
    pub cluster: Option<tripline_drift::k8s_live::Cluster>,
    /// Also evaluate these Rego policies (`default`: the shipped pack) on the live objects.
    pub policies: Vec<PathBuf>,
    /// The policies use the pre-1.0 Rego syntax.
    pub rego_v0: bool,
}

/// Kubernetes drift; returns the exit code like [`drift`].
pub fn k8s_drift(
    inputs: &K8sInputs,
    format: DriftFormat,
    act_cfg: Option<&crate::act::ActConfig>,
) -> u8 {
    use tripline_drift::k8s;
    let run = || -> Result<Vec<tripline_drift::compare::Finding>, String> {
        // Both sides at once: a live dump of 100k objects takes a second to read.
        let (desired, live) = std::thread::scope(|s| {
            let live = s.spawn(|| k8s::load(&inputs.live, &inputs.namespace));
            let desired = k8s::load(&inputs.manifests, &inputs.namespace);
            (desired, live.join())
        });
        let desired = desired.map_err(|e| e.to_string())?;
        let mut live = live
            .map_err(|_| "reading the live objects panicked".to_string())?
            .map_err(|e| e.to_string())?;
        if let Some(cluster) = &inputs.cluster {
            live.extend(tripline_drift::k8s_live::fetch(&desired, cluster)?);
        }
        let ignore: Vec<k8s::IgnoreRule> = match &inputs.ignore {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?
            }
            None => Vec::new(),
        };
        let audit = k8s::load_audit(&inputs.audit).map_err(|e| e.to_string())?;
        let mut findings = k8s::drift(&desired, &live, &ignore, &audit);
        if !inputs.policies.is_empty() {
            let mut set = crate::policy::policy_set(&inputs.policies, inputs.rego_v0)?;
            let objects: Vec<(String, serde_json::Value)> =
                live.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            let prepared = set.prepare_objects(&objects)?;
            let violations = set.eval_prepared(&prepared)?;
            std::mem::forget(prepared);
            findings.extend(violations.into_iter().map(policy_finding));
            findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.item.cmp(&b.item)));
            std::mem::forget(objects);
        } else {
            std::mem::forget(live);
        }
        // Millions of small maps: the process exits next, so freeing them one by one is time
        // spent for nothing.
        std::mem::forget(desired);
        Ok(findings)
    };
    match run() {
        Ok(findings) => {
            let declared = inputs.manifests.first().map(PathBuf::as_path);
            store_and_print(
                &findings,
                "kubernetes",
                format,
                act_cfg,
                declared,
                "kubernetes",
            )
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// A policy violation on a live object, as a finding of the `policy` section: forbidden by
/// policy rather than by the manifests.
fn policy_finding(v: tripline_policy::Violation) -> tripline_drift::compare::Finding {
    use tripline_drift::compare::{Change, Finding, Severity};
    Finding {
        section: "policy",
        change: Change::Forbidden,
        item: v.subject,
        severity: match v.severity.to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" => Severity::High,
            "medium" => Severity::Medium,
            _ => Severity::Low,
        },
        evidence: vec![format!("{} {}: {}", v.package, v.rule, v.msg)],
        hint: format!("fix the object, or the policy ({})", v.package),
        attribution: None,
    }
}

/// AWS IAM drift: what Terraform files declare against `aws iam
/// get-account-authorization-details` output, with CloudTrail logs naming who changed what.
/// Returns the exit code like [`drift`].
pub fn aws_drift(
    terraform: &[PathBuf],
    live: &Path,
    cloudtrail: &[PathBuf],
    format: DriftFormat,
    act_cfg: Option<&crate::act::ActConfig>,
) -> u8 {
    use tripline_identity::aws;
    let run = || -> Result<Vec<tripline_drift::compare::Finding>, String> {
        let declared = aws::terraform::load(terraform).map_err(|e| e.to_string())?;
        let live = aws::Account::load(live).map_err(|e| e.to_string())?;
        let (trail, skipped) = aws::drift::read_trail(cloudtrail)?;
        if let Some(first) = &skipped.first {
            eprintln!(
                "warning: {} records skipped, not CloudTrail (first: {first})",
                skipped.count
            );
        }
        Ok(aws::drift::drift(&declared, &live, &trail))
    };
    match run() {
        Ok(findings) => {
            let declared = terraform.first().map(PathBuf::as_path);
            store_and_print(&findings, "aws-iam", format, act_cfg, declared, "aws")
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn print_findings(
    findings: &[tripline_drift::compare::Finding],
    name: &str,
    format: DriftFormat,
) -> u8 {
    match format {
        DriftFormat::Text => crate::out!("{}", report::text(findings)),
        DriftFormat::Json => {
            // A closed pipe (`| head`) ends the output quietly.
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let _ = report::write_json(findings, &mut out).map(|_| writeln!(out));
        }
        DriftFormat::Sarif => crate::outln!(
            "{}",
            serde_json::to_string_pretty(&report::sarif(findings, name)).expect("json")
        ),
        DriftFormat::PolicyReport => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let r = report::policy_report(findings, name, now);
            crate::out!("{}", serde_yaml::to_string(&r).expect("yaml"));
        }
    }
    if findings.is_empty() {
        0
    } else {
        EXIT_DRIFT
    }
}

/// A drift finding for the store, outputs and actions. The rule is `SECTION CHANGE`
/// (`files changed`), which is what an action binding names; the fields carry what `restore`
/// needs: the contract, the item and the root it was compared under.
pub fn new_finding(
    f: &compare::Finding,
    contract: &Path,
    root: &Path,
    hostname: &str,
    now_ns: i64,
) -> tripline_store::NewFinding {
    use serde_json::Value;
    let change = serde_json::to_value(f.change)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let abs = |p: &Path| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let mut fields = serde_json::Map::new();
    for (k, v) in [
        ("drift.section", f.section.to_string()),
        ("drift.change", change.clone()),
        ("drift.item", f.item.clone()),
        ("drift.severity", f.severity.as_str().to_string()),
        ("drift.contract", abs(contract)),
        ("drift.root", abs(root)),
        ("hint", f.hint.clone()),
    ] {
        fields.insert(k.into(), Value::String(v));
    }
    fields.insert(
        "evidence".into(),
        Value::Array(f.evidence.iter().cloned().map(Value::String).collect()),
    );
    if let Some(a) = &f.attribution {
        fields.insert(
            "attribution".into(),
            serde_json::to_value(a).unwrap_or(Value::Null),
        );
    }
    tripline_store::NewFinding {
        kind: tripline_store::Kind::Drift,
        rule: format!("{} {change}", f.section),
        priority: crate::identity::priority(f.severity),
        source: "drift".into(),
        time_ns: now_ns,
        hostname: hostname.to_string(),
        entity: f.item.clone(),
        message: format!("{} {change}: {}", f.section, f.item),
        fields,
        tags: vec!["drift".into(), f.section.to_string()],
        location: Some(contract.display().to_string()),
    }
}

/// Compares `root` with the contract at `contract`; prints the findings. Returns the exit code:
/// 0 clean, [`EXIT_DRIFT`] drift found, 1 the contract could not be read. With a store in
/// `act_cfg`, findings are stored and their automatic actions run.
pub fn drift(
    contract: &Path,
    root: Option<PathBuf>,
    watch: Option<u64>,
    format: DriftFormat,
    act_cfg: Option<&crate::act::ActConfig>,
) -> u8 {
    let c = match Contract::load(contract) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let root = root.unwrap_or_else(|| PathBuf::from("/"));
    let mut snap = snapshot(&root, &c.spec.watch);
    if let Some(secs) = watch {
        if let Err(e) = observe(&mut snap, secs) {
            eprintln!("error: {e}");
            return 1;
        }
    }
    let findings = compare::compare(&c, &snap);
    // Stored before printing: a reader that closes stdout early loses nothing.
    if let Some(cfg) = act_cfg.filter(|c| c.store.is_some()) {
        let (now, host) = (tripline_store::now_ns(), host_name(&root));
        let stored: Vec<_> = findings
            .iter()
            .map(|f| new_finding(f, contract, &root, &host, now))
            .collect();
        if let Err(e) = crate::act::Act::store_once(cfg, &stored) {
            eprintln!("error: {e:#}");
            return 1;
        }
    }
    print_findings(&findings, &c.metadata.name, format)
}

/// Stores `findings` when `act_cfg` names a store (and runs their automatic actions), then
/// prints them. `declared` is the file that declared the compared side (the first manifest or
/// Terraform file), named as each finding's location.
fn store_and_print(
    findings: &[compare::Finding],
    name: &str,
    format: DriftFormat,
    act_cfg: Option<&crate::act::ActConfig>,
    declared: Option<&Path>,
    hostname: &str,
) -> u8 {
    if let Some(cfg) = act_cfg.filter(|c| c.store.is_some()) {
        let now = tripline_store::now_ns();
        let declared = declared.unwrap_or(Path::new(name));
        let stored: Vec<_> = findings
            .iter()
            .map(|f| new_finding(f, declared, Path::new("/"), hostname, now))
            .collect();
        if let Err(e) = crate::act::Act::store_once(cfg, &stored) {
            eprintln!("error: {e:#}");
            return 1;
        }
    }
    print_findings(findings, name, format)
}
