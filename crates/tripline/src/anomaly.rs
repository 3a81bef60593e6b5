//! `tripline anomaly train|score|eval|export`, and the `--anomaly` hook of `replay`.

use std::path::{Path, PathBuf};

use serde_json::json;
use tripline_anomaly::eval::{self, Metrics};
use tripline_anomaly::input;
use tripline_anomaly::{Baseline, Observation, Score, Scorer};
use tripline_event::{Finding, Priority};

/// The default threshold, fixed before measuring (a never-seen API for an established
/// identity scores about 0.7; a known one near 0).
pub const DEFAULT_THRESHOLD: f64 = 0.6;

/// Learns a baseline from inputs and saves it.
pub fn train(inputs: &[PathBuf], output: &Path) -> anyhow::Result<()> {
    let mut b = Baseline::default();
    let observed = input::read(inputs, &mut |_, o| {
        if let Some(o) = o {
            b.learn(o);
        }
    })?;
    report_skips(&observed.skipped, observed.skipped_count);
    b.save(output)?;
    eprintln!(
        "Learned {} events of {} entities ({} records without an identity) into {}",
        b.events,
        b.entities.len(),
        observed.without_entity,
        output.display()
    );
    Ok(())
}

fn report_skips(skipped: &[String], count: u64) {
    for s in skipped.iter().take(5) {
        eprintln!("skipped {s}");
    }
    if count > 5 {
        eprintln!("skipped {} more records", count - 5);
    }
}

/// An anomaly as a finding for the outputs and the store.
pub fn finding(o: &Observation, s: &Score, source: &str, hostname: &str) -> Finding {
    let reasons: Vec<String> = s
        .parts
        .iter()
        .map(|p| format!("{} {}: {}", p.feature, p.value, p.why))
        .collect();
    Finding {
        rule: "Anomalous behaviour".into(),
        priority: if s.total >= 0.9 {
            Priority::Error
        } else {
            Priority::Warning
        },
        source: source.into(),
        time_ns: o.time_ns,
        message: format!(
            "Anomalous behaviour (score={:.2} entity={} event={} why={})",
            s.total,
            o.entity,
            o.summary,
            reasons.first().map_or("", String::as_str)
        ),
        output_fields: vec![
            (
                "anomaly.score".into(),
                json!((s.total * 1000.0).round() / 1000.0),
            ),
            ("anomaly.entity".into(), json!(o.entity)),
            ("anomaly.peer_group".into(), json!(o.peer_group)),
            ("anomaly.event".into(), json!(o.summary)),
            ("anomaly.event_id".into(), json!(o.event_id)),
            ("anomaly.reasons".into(), json!(reasons)),
        ],
        tags: vec!["anomaly".into()],
        hostname: hostname.into(),
        process: None,
    }
}

/// Scores inputs against a baseline; returns the anomalies at or above `threshold`.
pub fn score(
    baseline: &Path,
    inputs: &[PathBuf],
    threshold: f64,
) -> anyhow::Result<Vec<(Observation, Score)>> {
    let b = Baseline::load(baseline)?;
    let observed = input::read(inputs, &mut |_, _| {})?;
    report_skips(&observed.skipped, observed.skipped_count);
    let mut scorer = Scorer::new(&b);
    let mut out = Vec::new();
    for o in observed.observations {
        let s = scorer.score(&o);
        if s.total >= threshold {
            out.push((o, s));
        }
    }
    eprintln!(
        "Scored {} events against {} entities: {} at or above {threshold}",
        observed.records,
        b.entities.len(),
        out.len()
    );
    Ok(out)
}

/// One anomaly as text: the score, the event and each reason with its numbers.
pub fn text(o: &Observation, s: &Score) -> String {
    let mut t = format!(
        "{} {:.2} {} {}\n",
        tripline_event::format_rfc3339(o.time_ns),
        s.total,
        o.entity,
        o.summary
    );
    for p in &s.parts {
        t.push_str(&format!("    {} {}: {}\n", p.feature, p.value, p.why));
    }
    t
}

/// Runs an evaluation and prints its metrics; writes the PR curve when asked.
pub fn evaluate(
    train: &[PathBuf],
    test: &[PathBuf],
    labels: &Path,
    threshold: f64,
    curve: Option<&Path>,
) -> anyhow::Result<Metrics> {
    let e = eval::evaluate(train, test, labels)?;
    let mut out = String::new();
    macro_rules! outln {
        ($($t:tt)*) => {{
            use std::fmt::Write as _;
            let _ = writeln!(out, $($t)*);
        }};
    }
    let m = eval::metrics(&e.labelled, threshold);
    let line = |m: &Metrics| {
        format!(
            "threshold {:.3}: precision {:.3}  recall {:.3}  false-positive rate {:.3}  (TP {} FP {} FN {} TN {})",
            m.threshold,
            m.precision,
            m.recall,
            m.false_positive_rate,
            m.true_positives,
            m.false_positives,
            m.false_negatives,
            m.true_negatives
        )
    };
    outln!(
        "trained on {} events ({} labelled malicious left out), {} entities; tested on {} labelled events ({} unlabelled)",
        e.trained,
        e.excluded_malicious,
        e.baseline.entities.len(),
        e.labelled.len(),
        e.unlabelled
    );
    outln!("{}; average precision {:.3}", line(&m), m.average_precision);
    if let Some(t) = e.calibrated_threshold {
        let c = eval::metrics(&e.labelled, t);
        outln!(
            "calibrated on the training part alone (at most {:.0}% of its last third flagged): {}",
            eval::CALIBRATION_FPR * 100.0,
            line(&c)
        );
    }
    outln!("recall per ATT&CK technique:");
    for (t, (hit, total)) in &m.recall_by_technique {
        outln!("  {t:<12} {hit}/{total}");
    }
    outln!("negatives flagged, by label:");
    for (l, (hit, total)) in &m.flagged_by_negative_label {
        outln!("  {l:<16} {hit}/{total}");
    }
    if let Some(path) = curve {
        eval::plot_pr_curve(&e.labelled, threshold, path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        outln!("precision-recall curve: {}", path.display());
    }
    use std::io::Write as _;
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(m)
}

/// The `--anomaly BASELINE` hook of `replay`: scores each record, returns a finding for an
/// anomaly.
pub struct Hook {
    scorer: Scorer<'static>,
    threshold: f64,
    hostname: String,
    /// Anomalies reported.
    pub reported: u64,
}

impl Hook {
    /// Loads the baseline (kept for the life of the process).
    pub fn new(baseline: &Path, threshold: f64, hostname: &str) -> anyhow::Result<Hook> {
        let b: &'static Baseline = Box::leak(Box::new(Baseline::load(baseline)?));
        Ok(Hook {
            scorer: Scorer::new(b),
            threshold,
            hostname: hostname.into(),
            reported: 0,
        })
    }

    /// Scores one decoded record.
    pub fn check(
        &mut self,
        ev: &tripline_sources::JsonEvent,
        kind: tripline_sources::SourceKind,
    ) -> Option<Finding> {
        let o = input::observe(kind, &ev.json, ev.time_ns)?;
        let s = self.scorer.score(&o);
        if s.total < self.threshold {
            return None;
        }
        self.reported += 1;
        Some(finding(&o, &s, kind.name(), &self.hostname))
    }
}

impl tripline_pipeline::Detector<tripline_pipeline::Json> for Hook {
    fn name(&self) -> &str {
        "anomaly"
    }

    fn evaluate(&mut self, ev: &tripline_sources::JsonEvent, emit: &mut dyn FnMut(Finding)) {
        use tripline_event::Event as _;
        let Some(kind) = tripline_sources::SourceKind::from_name(ev.source()) else {
            return;
        };
        if let Some(f) = self.check(ev, kind) {
            emit(f);
        }
    }
}

/// The observation of a live-sensor event for workload baselines: programs executed (and by
/// whom), outbound destinations, ports listened on, directories written to. The entity is the container, or on the
/// host the program that started the process (its parent's executable), so a service's
/// children are learned together.
pub fn workload_observation(ev: &tripline_syscall::SyscallEvent<'_>) -> Option<Observation> {
    use tripline_anomaly::features::network_of;
    use tripline_anomaly::Feature;
    use tripline_syscall::Kind;
    let p = ev.process()?;
    let (entity, peer_group) = match p.container_id.as_deref() {
        // Containers of one image are peers: a new replica is judged by what the others do.
        Some(id) if !id.is_empty() && id != "host" => (
            format!("container:{id}"),
            match ev.container().and_then(|c| c.image_repository()) {
                Some(repo) => format!("workload:container/{repo}"),
                None => "workload:container".to_string(),
            },
        ),
        _ => {
            let parent = ev.parent().map_or("?", |pp| pp.exepath.as_str());
            (format!("host:{parent}"), "workload:host".to_string())
        }
    };
    let (features, summary) = match ev.kind()? {
        Kind::Execve | Kind::Execveat if ev.ret() == 0 && !p.exepath.is_empty() => {
            let parent = ev.parent().map_or("?", |pp| pp.comm.as_str());
            (
                vec![
                    (Feature::Executable, p.exepath.clone()),
                    (Feature::ExecPair, format!("{parent} -> {}", p.exepath)),
                ],
                format!("exec {} ({})", p.exepath, p.cmdline()),
            )
        }
        Kind::Connect if ev.ret() == 0 || ev.ret() == -115 => {
            let (_, f) = ev.fd()?;
            let t = f.sock.filter(|_| f.kind.is_ip())?;
            if t.rport == 0 || t.remote.is_loopback() || t.remote.is_unspecified() {
                return None;
            }
            let dest = format!("{}:{}", network_of(&t.remote.to_string()), t.rport);
            (
                vec![(Feature::Egress, dest)],
                format!("{} connects to {}:{}", p.exepath, t.remote, t.rport),
            )
        }
        Kind::Open | Kind::Openat | Kind::Openat2 | Kind::Creat if ev.ret() >= 0 => {
            let (_, f) = ev.fd()?;
            if !tripline_syscall::names::open_writes(f.flags as u64)
                && ev.kind() != Some(Kind::Creat)
            {
                return None;
            }
            let dir = write_dir(&f.name)?;
            (
                vec![(Feature::WriteDir, dir)],
                format!("{} writes {}", p.exepath, f.name),
            )
        }
        Kind::Listen if ev.ret() == 0 => {
            let (_, f) = ev.fd()?;
            let t = f.sock.filter(|_| f.kind.is_ip())?;
            (
                vec![(Feature::ListenPort, t.lport.to_string())],
                format!("{} listens on {}:{}", p.exepath, t.local, t.lport),
            )
        }
        _ => return None,
    };
    Some(Observation {
        entity,
        peer_group,
        time_ns: ev.ts_ns(),
        features,
        denied: false,
        summary,
        event_id: String::new(),
    })
}

/// The directory a write lands in, cut to three levels (`/var/lib/app`), so a workload learns
/// where it writes rather than every file name. Pseudo-filesystems are not writes to learn.
fn write_dir(path: &str) -> Option<String> {
    if !path.starts_with('/')
        || ["/dev/", "/proc/", "/sys/"]
            .iter()
            .any(|p| path.starts_with(p))
    {
        return None;
    }
    let parent = path
        .rsplit_once('/')
        .map_or("/", |(d, _)| if d.is_empty() { "/" } else { d });
    Some(parent.split('/').take(4).collect::<Vec<_>>().join("/"))
}

/// Workload baselines in `tripline run`: learn into a file, or score against one.
pub enum Workloads {
    /// Learning; saved to the path at the end of the run.
    Learn(Baseline, PathBuf),
    /// Scoring.
    Score {
        /// The scorer.
        scorer: Scorer<'static>,
        /// Report at or above.
        threshold: f64,
        /// Alerts' host name.
        hostname: String,
    },
}

impl Workloads {
    /// Scores against a baseline file.
    pub fn score(baseline: &Path, threshold: f64, hostname: &str) -> anyhow::Result<Workloads> {
        let b: &'static Baseline = Box::leak(Box::new(Baseline::load(baseline)?));
        Ok(Workloads::Score {
            scorer: Scorer::new(b),
            threshold,
            hostname: hostname.into(),
        })
    }

    /// Sees one event; returns an anomaly finding when scoring finds one.
    pub fn observe(&mut self, ev: &tripline_syscall::SyscallEvent<'_>) -> Option<Finding> {
        let o = workload_observation(ev)?;
        match self {
            Workloads::Learn(b, _) => {
                b.learn(&o);
                None
            }
            Workloads::Score {
                scorer,
                threshold,
                hostname,
            } => {
                let s = scorer.score(&o);
                (s.total >= *threshold).then(|| finding(&o, &s, "syscall", hostname))
            }
        }
    }

    /// Saves a learned baseline.
    pub fn finish(self) -> anyhow::Result<()> {
        if let Workloads::Learn(b, path) = self {
            b.save(&path)?;
            eprintln!(
                "Learned {} workload events of {} entities into {}",
                b.events,
                b.entities.len(),
                path.display()
            );
        }
        Ok(())
    }
}

/// Scoring workloads is a detector of the live pipeline (learning only watches).
impl tripline_pipeline::Detector<tripline_pipeline::Syscall> for Workloads {
    fn name(&self) -> &str {
        "anomaly"
    }

    fn evaluate(&mut self, ev: &tripline_syscall::SyscallEvent<'_>, emit: &mut dyn FnMut(Finding)) {
        if let Some(f) = self.observe(ev) {
            emit(Finding {
                process: ev.process_key(),
                ..f
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn write_dirs_are_cut_to_three_levels() {
        assert_eq!(
            super::write_dir("/var/lib/app/db/x.sqlite").as_deref(),
            Some("/var/lib/app")
        );
        assert_eq!(super::write_dir("/tmp/x").as_deref(), Some("/tmp"));
        assert_eq!(super::write_dir("/x").as_deref(), Some("/"));
        assert_eq!(super::write_dir("/dev/null"), None);
        assert_eq!(super::write_dir("relative"), None);
    }
}
