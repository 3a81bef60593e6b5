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
