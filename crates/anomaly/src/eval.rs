//! Measuring detection quality on labelled events: precision, recall and false-positive rate
//! at a threshold, recall per ATT&CK technique, and the precision-recall curve.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

/// One scored, labelled event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Labelled {
    /// Score, 0..1.
    pub score: f64,
    /// Label as given (`malicious`, `benign`, `attack-setup`, ...).
    pub label: String,
    /// ATT&CK technique of a positive.
    pub technique: Option<String>,
}

impl Labelled {
    /// Positives are the events labelled `malicious`; every other label is a negative.
    pub fn positive(&self) -> bool {
        self.label == "malicious"
    }
}

/// Metrics at one threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// The threshold.
    pub threshold: f64,
    /// Positives flagged.
    pub true_positives: u64,
    /// Negatives flagged.
    pub false_positives: u64,
    /// Positives missed.
    pub false_negatives: u64,
    /// Negatives not flagged.
    pub true_negatives: u64,
    /// TP / (TP + FP).
    pub precision: f64,
    /// TP / (TP + FN).
    pub recall: f64,
    /// FP / (FP + TN).
    pub false_positive_rate: f64,
    /// Recall per technique: (flagged, total).
    pub recall_by_technique: BTreeMap<String, (u64, u64)>,
    /// False positives per negative label (`attack-setup`, `benign`, ...): (flagged, total).
    pub flagged_by_negative_label: BTreeMap<String, (u64, u64)>,
    /// Area under the precision-recall curve (average precision).
    pub average_precision: f64,
}

/// Computes the metrics at `threshold`.
///
/// ```
/// use tripline_anomaly::eval::{metrics, Labelled};
/// let l = |score, label: &str| Labelled { score, label: label.into(), technique: None };
/// let m = metrics(&[l(0.9, "malicious"), l(0.2, "malicious"), l(0.8, "benign"), l(0.1, "benign")], 0.5);
/// assert_eq!((m.precision, m.recall, m.false_positive_rate), (0.5, 0.5, 0.5));
/// ```
pub fn metrics(events: &[Labelled], threshold: f64) -> Metrics {
    let mut m = Metrics {
        threshold,
        true_positives: 0,
        false_positives: 0,
        false_negatives: 0,
        true_negatives: 0,
        precision: 0.0,
        recall: 0.0,
        false_positive_rate: 0.0,
        recall_by_technique: BTreeMap::new(),
        flagged_by_negative_label: BTreeMap::new(),
        average_precision: average_precision(events),
    };
    for e in events {
        let flagged = e.score >= threshold;
        if e.positive() {
            let t = m
                .recall_by_technique
                .entry(e.technique.clone().unwrap_or_else(|| "(none)".into()))
                .or_default();
            t.1 += 1;
            if flagged {
                t.0 += 1;
                m.true_positives += 1;
            } else {
                m.false_negatives += 1;
            }
        } else {
            let l = m
                .flagged_by_negative_label
                .entry(e.label.clone())
                .or_default();
            l.1 += 1;
            if flagged {
                l.0 += 1;
                m.false_positives += 1;
            } else {
                m.true_negatives += 1;
            }
        }
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    m.precision = ratio(m.true_positives, m.true_positives + m.false_positives);
    m.recall = ratio(m.true_positives, m.true_positives + m.false_negatives);
    m.false_positive_rate = ratio(m.false_positives, m.false_positives + m.true_negatives);
    m
}

/// (recall, precision) at every distinct score, highest threshold first.
pub fn pr_curve(events: &[Labelled]) -> Vec<(f64, f64, f64)> {
    let mut sorted: Vec<&Labelled> = events.iter().collect();
    sorted.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let positives = events.iter().filter(|e| e.positive()).count().max(1) as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut out = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let s = sorted[i].score;
        while i < sorted.len() && sorted[i].score == s {
            if sorted[i].positive() {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        out.push((s, tp / positives, tp / (tp + fp)));
    }
    out
}

fn average_precision(events: &[Labelled]) -> f64 {
    let mut ap = 0.0;
    let mut last_recall = 0.0;
    for (_, r, p) in pr_curve(events) {
        ap += (r - last_recall) * p;
        last_recall = r;
    }
    ap
}

/// Draws the precision-recall curve as a PNG, the chosen threshold marked. Text uses
/// DejaVu Sans when the system has it; the curve is drawn either way.
pub fn plot_pr_curve(events: &[Labelled], threshold: f64, path: &Path) -> Result<(), String> {
    use plotters::prelude::*;
    let curve = pr_curve(events);
    let font = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    ]
    .iter()
    .find_map(|p| std::fs::read(p).ok());
    let has_font = match font {
        Some(bytes) => {
            let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, leaked).is_ok()
        }
        None => false,
    };
    let root = BitMapBackend::new(path, (800, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .margin(20)
        .x_label_area_size(40)
        .y_label_area_size(50);
    if has_font {
        let m = metrics(events, threshold);
        builder.caption(
            format!(
                "Precision-recall (AP {:.2}); threshold {threshold}: P {:.2} R {:.2}",
                m.average_precision, m.precision, m.recall
            ),
            ("sans-serif", 20),
        );
    }
    let mut chart = builder
        .build_cartesian_2d(0.0f64..1.0, 0.0f64..1.0)
        .map_err(|e| e.to_string())?;
    let mut mesh = chart.configure_mesh();
    if has_font {
        mesh.x_desc("recall").y_desc("precision");
    } else {
        mesh.disable_x_axis().disable_y_axis();
    }
    mesh.draw().map_err(|e| e.to_string())?;
    let mut points = vec![(0.0, curve.first().map_or(1.0, |c| c.2))];
    points.extend(curve.iter().map(|(_, r, p)| (*r, *p)));
    chart
        .draw_series(LineSeries::new(points, BLUE.stroke_width(2)))
        .map_err(|e| e.to_string())?;
    let m = metrics(events, threshold);
    chart
        .draw_series(std::iter::once(Circle::new(
            (m.recall, m.precision),
            6,
            RED.filled(),
        )))
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// What an evaluation run used and produced.
#[derive(Debug)]
pub struct Evaluation {
    /// Every test record with its score and label.
    pub labelled: Vec<Labelled>,
    /// Training records learned.
    pub trained: u64,
    /// Training records left out because they are labelled `malicious`.
    pub excluded_malicious: u64,
    /// Test records without a label (not scored).
    pub unlabelled: u64,
    /// The baseline learned from the training part.
    pub baseline: crate::Baseline,
    /// A threshold chosen from the training part alone: learn its first two thirds (by time),
    /// score the last third, and take the lowest threshold that flags at most
    /// [`CALIBRATION_FPR`] of it. `None` when the training part is too small (< 30 events).
    pub calibrated_threshold: Option<f64>,
}

/// The false-positive rate calibration aims at on the training part's last third.
pub const CALIBRATION_FPR: f64 = 0.05;

/// The lowest threshold flagging at most `fpr` of `scores` (all negatives).
fn threshold_for(scores: &mut [f64], fpr: f64) -> f64 {
    scores.sort_by(|a, b| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal));
    let allowed = (scores.len() as f64 * fpr).floor() as usize;
    // Just above the first score that must not be flagged.
    scores.get(allowed).map_or(0.0, |s| (s + 1e-9).min(1.0))
}

/// An evaluation that could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Labels unreadable.
    #[error("{file}:{line}: {message}")]
    Labels {
        /// File.
        file: String,
        /// Line.
        line: usize,
        /// What was expected.
        message: String,
    },
    /// An input unreadable.
    #[error(transparent)]
    Input(#[from] tripline_sources::input::InputError),
}

/// `eventID` (or `auditID`) → (label, ATT&CK id), from JSON lines with `eventID`, `label` and
/// `mitre_attack` fields.
pub fn load_labels(
    path: &Path,
) -> Result<std::collections::HashMap<String, (String, Option<String>)>, EvalError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::Labels {
        file: file.clone(),
        line: 0,
        message: e.to_string(),
    })?;
    let mut out = std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |m: String| EvalError::Labels {
            file: file.clone(),
            line: i + 1,
            message: m,
        };
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| err(format!("not JSON: {e}")))?;
        let id = v
            .get("eventID")
            .or_else(|| v.get("auditID"))
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| err("expected an eventID (or auditID) string".into()))?;
        let label = v
            .get("label")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| err("expected a label string".into()))?;
        let technique = v
            .get("mitre_attack")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
        out.insert(id.to_string(), (label.to_string(), technique));
    }
    Ok(out)
}

fn record_id(json: &serde_json::Value) -> Option<&str> {
    json.get("eventID")
        .or_else(|| json.get("auditID"))
        .and_then(serde_json::Value::as_str)
}

/// Trains on `train` (leaving out records labelled `malicious`), scores every record of `test`
/// in time order against that baseline, and pairs each score with its label.
pub fn evaluate(
    train: &[std::path::PathBuf],
    test: &[std::path::PathBuf],
    labels: &Path,
) -> Result<Evaluation, EvalError> {
    let labels = load_labels(labels)?;
    let is_malicious = |json: &serde_json::Value| {
        record_id(json)
            .and_then(|id| labels.get(id))
            .is_some_and(|(l, _)| l == "malicious")
    };
    let mut baseline = crate::Baseline::default();
    let mut excluded = 0u64;
    let mut kept: Vec<crate::Observation> = Vec::new();
    crate::input::read(train, &mut |ev, o| {
        if let Some(o) = o {
            if is_malicious(&ev.json) {
                excluded += 1;
            } else {
                kept.push(o.clone());
            }
        }
    })?;
    kept.sort_by_key(|o| o.time_ns);
    let trained = kept.len() as u64;
    let calibrated_threshold = (kept.len() >= 30).then(|| {
        let cut = kept.len() * 2 / 3;
        let mut early = crate::Baseline::default();
        for o in &kept[..cut] {
            early.learn(o);
        }
        let mut scorer = crate::Scorer::new(&early);
        let mut scores: Vec<f64> = kept[cut..].iter().map(|o| scorer.score(o).total).collect();
        threshold_for(&mut scores, CALIBRATION_FPR)
    });
    for o in &kept {
        baseline.learn(o);
    }
    // Test records without an entity score 0; keep their ids to label them.
    let mut no_entity: Vec<String> = Vec::new();
    let observed = crate::input::read(test, &mut |ev, o| {
        if o.is_none() {
            no_entity.push(record_id(&ev.json).unwrap_or("").to_string());
        }
    })?;
    let mut scorer = crate::Scorer::new(&baseline);
    let mut labelled = Vec::new();
    let mut unlabelled = 0u64;
    let mut push = |id: &str, score: f64| match labels.get(id) {
        Some((label, technique)) => labelled.push(Labelled {
            score,
            label: label.clone(),
            technique: technique.clone(),
        }),
        None => unlabelled += 1,
    };
    for o in &observed.observations {
        let s = scorer.score(o);
        push(&o.event_id, s.total);
    }
    for id in &no_entity {
        push(id, 0.0);
    }
    Ok(Evaluation {
        labelled,
        trained,
        excluded_malicious: excluded,
        unlabelled,
        baseline,
        calibrated_threshold,
    })
}
