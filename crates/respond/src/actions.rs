//! Remediation actions bound to rules: kill the process or its group, quarantine a file,
//! restore a drifted file from the contract's source, or run a command with the finding as
//! JSON on stdin. Each is `approval: required` (the default: it
//! waits in the UI/API for an admin) or `automatic`. Every request, decision and outcome is
//! recorded in the store.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tripline_store::actions::Status;
use tripline_store::{NewFinding, Store, StoredFinding};

use crate::outbox_wildcard;

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// SIGKILL the process (`proc.pid`).
    Kill,
    /// SIGKILL the process group of `proc.pid`.
    KillGroup,
    /// Move the file (`fd.name`, or `fs.path.name`) into the quarantine directory and record its
    /// SHA-256.
    Quarantine,
    /// Run a command with the finding's JSON on stdin.
    Command,
    /// Put a drifted file back from its contract entry's `source:` (drift findings of the
    /// `files` section), keeping the drifted copy in the quarantine directory.
    Restore,
    /// Kubernetes: delete the finding's pod.
    DeletePod,
    /// Kubernetes: add `labels` to the finding's pod.
    LabelPod,
    /// Kubernetes: scale the pod's Deployment, StatefulSet or ReplicaSet to zero.
    ScaleToZero,
    /// Kubernetes: cut the pod off the network with a deny-all NetworkPolicy.
    NetworkIsolate,
}

impl Action {
    /// The name recorded in the store.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Kill => "kill",
            Action::KillGroup => "kill-group",
            Action::Quarantine => "quarantine",
            Action::Command => "command",
            Action::Restore => "restore",
            Action::DeletePod => "delete-pod",
            Action::LabelPod => "label-pod",
            Action::ScaleToZero => "scale-to-zero",
            Action::NetworkIsolate => "network-isolate",
        }
    }
}

/// Whether an action waits for an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// Pending until approved in the UI or API.
    #[default]
    Required,
    /// Runs at once.
    Automatic,
}

/// One binding from the config's `actions:` list.
///
/// ```
/// use tripline_respond::actions::ActionBinding;
/// let b: ActionBinding = serde_yaml::from_str("rule: 'Terminal shell*'\naction: kill").unwrap();
/// assert!(b.needs_approval());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionBinding {
    /// Rule name or `*` wildcard.
    pub rule: String,
    /// What to do.
    pub action: Action,
    /// Required (default) or automatic.
    #[serde(default)]
    pub approval: Approval,
    /// For `command`: program and arguments.
    #[serde(default)]
    pub command: Vec<String>,
    /// For `quarantine` and `restore`: where files (and drifted copies) go (default
    /// `/var/lib/tripline/quarantine`).
    #[serde(default)]
    pub quarantine_dir: Option<PathBuf>,
    /// For Kubernetes actions: the kubeconfig (default: `$KUBECONFIG`, `~/.kube/config`, or
    /// the in-cluster service account).
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// For Kubernetes actions: the kubeconfig context (default: the current one).
    #[serde(default)]
    pub context: Option<String>,
    /// For `label-pod`: the labels (default `tripline.dev/flagged: "true"`).
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

impl ActionBinding {
    /// Checks what the YAML types cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.action == Action::Command && self.command.is_empty() {
            return Err(format!(
                "action for rule '{}': `command` needs a program, e.g. command: [/usr/local/bin/notify]",
                self.rule
            ));
        }
        Ok(())
    }

    /// Whether it waits for an admin.
    pub fn needs_approval(&self) -> bool {
        self.approval == Approval::Required
    }

    /// Whether this binding applies to a new finding.
    pub fn applies(&self, f: &NewFinding) -> bool {
        outbox_wildcard(&self.rule, &f.rule)
    }

    /// What the action will act on, as recorded (`pid 4242`, `/tmp/x`).
    pub fn target(&self, f: &NewFinding) -> String {
        target_of(&self.action, &f.fields, &self.command)
    }
}

fn target_of(action: &Action, fields: &serde_json::Map<String, Value>, cmd: &[String]) -> String {
    let text = |k: &str| match fields.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    match action {
        Action::Kill | Action::KillGroup => text("proc.pid").map_or_else(
            || "no proc.pid in the evidence".into(),
            |p| format!("pid {p}"),
        ),
        Action::Quarantine => text("fd.name")
            .or_else(|| text("fs.path.name"))
            .or_else(|| text("fd.filename"))
            .unwrap_or_else(|| "no file in the evidence".into()),
        Action::Command => cmd.join(" "),
        Action::Restore => {
            text("drift.item").unwrap_or_else(|| "no drift.item in the evidence".into())
        }
        Action::DeletePod | Action::LabelPod | Action::ScaleToZero | Action::NetworkIsolate => {
            crate::kubernetes::pod_of(fields).map_or_else(
                || "no pod in the evidence (k8s.ns.name/k8s.pod.name)".into(),
                |(ns, name)| format!("pod {ns}/{name}"),
            )
        }
    }
}

/// Runs approved actions from the store.
pub struct Executor {
    store: Store,
    bindings: Vec<ActionBinding>,
}

impl Executor {
    /// An executor over the store's approved actions.
    pub fn new(store: Store, bindings: Vec<ActionBinding>) -> Executor {
        Executor { store, bindings }
    }

    /// Runs approved actions every 200 ms until `stop`.
    pub fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = self.run_approved() {
                eprintln!("tripline: actions: {e}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// One pass: runs every approved action; returns what each did.
    pub fn run_approved(&mut self) -> Result<Vec<Outcome>, tripline_store::StoreError> {
        let mut done = Vec::new();
        let approved = self.store.actions(Some(Status::Approved), 100)?;
        for a in &approved {
            let finding = match a.finding_id {
                Some(id) => self.store.get(id)?,
                None => None,
            };
            let binding = self
                .bindings
                .iter()
                .find(|b| b.action.name() == a.action)
                .cloned();
            let outcome = match (finding, binding) {
                (Some(f), Some(b)) => execute(&b, &f),
                (None, _) => Err("the finding is gone (retention)".into()),
                (_, None) => Err(format!("no '{}' action is configured any more", a.action)),
            };
            let (ok, text) = match outcome {
                Ok(t) => (true, t),
                Err(t) => (false, t),
            };
            self.store.finish_action(a.id, ok, &text)?;
            done.push(Outcome {
                action: a.action.clone(),
                target: a.target.clone(),
                ok,
                text,
            });
        }
        Ok(done)
    }
}

/// What one action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Action name.
    pub action: String,
    /// What it acted on.
    pub target: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// What happened, for people.
    pub text: String,
}

/// Runs one action for a stored finding; the text says what happened.
pub fn execute(b: &ActionBinding, f: &StoredFinding) -> Result<String, String> {
    match b.action {
        Action::Kill => {
            let p = live_process(f)?;
            signal(p, false).map(|_| format!("killed pid {p}"))
        }
        Action::KillGroup => {
            let p = live_process(f)?;
            signal(p, true).map(|g| format!("killed process group {g} (of pid {p})"))
        }
        Action::Quarantine => {
            let path = target_of(&b.action, &f.fields, &b.command);
            let dir = b
                .quarantine_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("/var/lib/tripline/quarantine"));
            quarantine(Path::new(&path), &dir)
        }
        Action::Command => run_command(&b.command, f),
        Action::Restore => restore(b, f),
        Action::DeletePod | Action::LabelPod | Action::ScaleToZero | Action::NetworkIsolate => {
            use crate::kubernetes::{self, K8sAction};
            let (ns, name) = kubernetes::pod_of(&f.fields).ok_or(
                "no pod in the evidence: k8s.ns.name and k8s.pod.name, or an audit finding about a pod",
            )?;
            let action = match b.action {
                Action::DeletePod => K8sAction::DeletePod,
                Action::LabelPod => K8sAction::LabelPod,
                Action::ScaleToZero => K8sAction::ScaleToZero,
                _ => K8sAction::NetworkIsolate,
            };
            let cluster = kubernetes::Cluster {
                kubeconfig: b.kubeconfig.clone(),
                context: b.context.clone(),
            };
            kubernetes::run(action, &cluster, &ns, &name, &b.labels)
        }
    }
}

fn restore(b: &ActionBinding, f: &StoredFinding) -> Result<String, String> {
    let field = |k: &str| match f.fields.get(k) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(format!(
            "no {k} in the evidence: restore acts on drift findings of files"
        )),
    };
    if field("drift.section")? != "files" {
        return Err("restore acts on the files section only".into());
    }
    let contract_path = PathBuf::from(field("drift.contract")?);
    let item = field("drift.item")?;
    let root = PathBuf::from(field("drift.root").unwrap_or_else(|_| "/".into()));
    let contract = tripline_drift::Contract::load(&contract_path).map_err(|e| e.to_string())?;
    let dir = b
        .quarantine_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("/var/lib/tripline/quarantine"));
    let r = tripline_drift::restore::restore(&contract, &contract_path, &item, &root, &dir)?;
    Ok(format!(
        "restored {} from {} (sha256 {}){}",
        r.path.display(),
        r.source.display(),
        r.sha256,
        r.backup
            .map(|p| format!("; the drifted copy is {}", p.display()))
            .unwrap_or_default()
    ))
}

/// How far a process's start time read now may be from the recorded one and still be the
/// same process: `/proc` counts in 10 ms ticks and the boot epoch is read from two clocks.
/// A reused pid starts much later (the kernel cycles through every free pid first).
const START_TOLERANCE_NS: u64 = 50_000_000;

/// The pid of a finding's process, if that very process still runs: the finding must carry
/// its start time (`proc.pid.ts`) and `/proc` must show the same one, so an action approved
/// minutes later never signals an unrelated process that got the pid since.
fn live_process(f: &StoredFinding) -> Result<i32, String> {
    let number = |k: &str| match f.fields.get(k) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    let pid = number("proc.pid")
        .and_then(|p| u32::try_from(p).ok())
        .filter(|p| *p > 1)
        .ok_or("no usable proc.pid in the evidence")?;
    let recorded = number("proc.pid.ts").ok_or_else(|| {
        format!("pid {pid}: the evidence has no process start time (proc.pid.ts), so a reused pid cannot be ruled out; not signalled")
    })?;
    let boot = tripline_syscall::state::boot_epoch_ns();
    let now = tripline_syscall::process::Process::start_ns_of(pid, boot)
        .ok_or_else(|| format!("pid {pid} is no longer running; not signalled"))?;
    if now.abs_diff(recorded) > START_TOLERANCE_NS {
        return Err(format!(
            "pid {pid} now belongs to another process (started at {}, the finding's at {}); not signalled",
            tripline_event::format_rfc3339(now),
            tripline_event::format_rfc3339(recorded)
        ));
    }
    Ok(pid as i32)
}

fn signal(pid: i32, group: bool) -> Result<i32, String> {
    let target = if group {
        // SAFETY: getpgid has no memory preconditions.
        let g = unsafe { libc::getpgid(pid) };
        if g <= 1 {
            return Err(format!(
                "pid {pid}: no process group ({})",
                std::io::Error::last_os_error()
            ));
        }
        g
    } else {
        pid
    };
    // SAFETY: kill has no memory preconditions; a negative id addresses the group.
    let rc = unsafe { libc::kill(if group { -target } else { target }, libc::SIGKILL) };
    if rc == 0 {
        Ok(target)
    } else {
        Err(format!(
            "kill {target}: {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// Moves a file into `dir` as `SHA256-NAME`, mode 0400, and writes the hash record beside it.
pub fn quarantine(path: &Path, dir: &Path) -> Result<String, String> {
    use tripline_drift::restore::{keep, Keep};
    let (dest, sha) = keep(path, dir, Keep::Move, "quarantined by a rule's action")?;
    Ok(format!(
        "moved {} to {} (sha256 {sha})",
        path.display(),
        dest.display()
    ))
}

fn run_command(cmd: &[String], f: &StoredFinding) -> Result<String, String> {
    let (prog, args) = cmd.split_first().ok_or("empty command")?;
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{prog}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(crate::render::tripline(f).to_string().as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{prog}: {e}"))?;
    let tail = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        s.chars()
            .rev()
            .take(500)
            .collect::<String>()
            .chars()
            .rev()
            .collect::<String>()
    };
    if out.status.success() {
        Ok(format!("{prog} exited 0: {}", tail(&out.stdout).trim()))
    } else {
        Err(format!(
            "{prog} failed ({}): {}",
            out.status,
            tail(&out.stderr).trim()
        ))
    }
}
