//! `tripline replay`: run rules over recorded logs.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;
use tripline_event::Finding;
use tripline_pipeline::{Audit, AuditRecord, Json, Pipeline, Syscall};
use tripline_sources::input::{InputError, Limits, Reader, Skip};
use tripline_sources::SourceKind;

/// Most skip reasons kept verbatim; beyond this only the count grows.
const MAX_KEPT_SKIPS: usize = 1000;

/// How to replay logs.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Source of every input.
    pub source: SourceKind,
    /// Decoder limits.
    pub limits: Limits,
}

/// How to replay captures.
#[derive(Debug, Clone, Default)]
pub struct CaptureConfig {
    /// Also evaluate the events Falco skips unless run with `-A`.
    pub all_events: bool,
}

/// What a replay saw.
#[derive(Debug, Default, Clone)]
pub struct ReplayStats {
    /// Events decoded and evaluated.
    pub events: u64,
    /// Records skipped, first [`MAX_KEPT_SKIPS`] kept.
    pub skipped: Vec<Skip>,
    /// All records skipped.
    pub skipped_count: u64,
    /// Alerts per rule.
    pub alerts_by_rule: BTreeMap<String, u64>,
    /// Inputs that failed part-way (their earlier events were processed).
    pub input_errors: Vec<String>,
    /// Matches the detectors lost at their memory bounds (Sigma correlation groups).
    pub detector_dropped: u64,
}

impl ReplayStats {
    /// Takes the pipeline's counts.
    fn finish<K: tripline_pipeline::Events>(&mut self, pipeline: &Pipeline<K>) {
        self.alerts_by_rule = pipeline.alerts_by_rule().clone();
        self.detector_dropped = pipeline.dropped();
    }

    /// Total alerts.
    pub fn alerts(&self) -> u64 {
        self.alerts_by_rule.values().sum()
    }
}

/// The first bytes of an input, decompressed when gzip (for source detection).
fn head_of(path: &str) -> Option<Vec<u8>> {
    let p = Path::new(path);
    let file = if p.is_dir() {
        let mut stack = vec![p.to_path_buf()];
        let mut found = None;
        while let Some(d) = stack.pop() {
            let mut entries: Vec<_> = std::fs::read_dir(&d)
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for e in entries {
                if e.is_dir() {
                    stack.push(e);
                } else if found.is_none() {
                    found = Some(e);
                }
            }
            if found.is_some() {
                break;
            }
        }
        found?
    } else {
        p.to_path_buf()
    };
    let mut raw = Vec::new();
    std::fs::File::open(file)
        .ok()?
        .take(1 << 16)
        .read_to_end(&mut raw)
        .ok()?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let _ = MultiGzDecoder::new(&raw[..])
            .take(8192)
            .read_to_end(&mut out);
        return Some(out);
    }
    raw.truncate(8192);
    Some(raw)
}

/// Guesses the source of the inputs from the first one that says.
pub fn detect_source(inputs: &[String]) -> Option<SourceKind> {
    inputs
        .iter()
        .filter(|i| *i != "-")
        .find_map(|i| head_of(i).and_then(|h| SourceKind::detect(&h)))
}

/// Replays log `inputs` through `pipeline`; calls `on_alert` per finding and `on_event` per
/// event.
pub fn run(
    pipeline: &mut Pipeline<Json>,
    inputs: &[String],
    cfg: &ReplayConfig,
    on_alert: &mut dyn FnMut(Finding),
    on_event: &mut dyn FnMut(),
) -> ReplayStats {
    let mut stats = ReplayStats::default();
    let mut reader = Reader::new(cfg.source, cfg.limits);
    for input in inputs {
        let mut skips = Vec::new();
        let result = reader.read_path(
            input,
            &mut |ev| {
                stats.events += 1;
                on_event();
                pipeline.process(&ev, on_alert);
            },
            &mut |skip| skips.push(skip),
        );
        for s in skips {
            stats.skipped_count += 1;
            if stats.skipped.len() < MAX_KEPT_SKIPS {
                stats.skipped.push(s);
            }
        }
        if let Err(e) = result {
            stats.input_errors.push(match e {
                InputError::Gzip { .. } | InputError::Io { .. } | InputError::TooLarge { .. } => {
                    e.to_string()
                }
            });
        }
    }
    pipeline.finish(on_alert);
    stats.finish(pipeline);
    stats
}

/// Whether the first input is a Falco/sysdig capture (`.scap`, plain or gzip).
pub fn looks_like_capture(inputs: &[String]) -> bool {
    inputs
        .first()
        .and_then(|i| head_of(i))
        .is_some_and(|h| h.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]))
}

/// Replays syscall captures through `pipeline`, one capture after the other, each with its
/// own process and fd state. `all_events` also evaluates the I/O, memory and scheduler events
/// Falco skips by default (its `-A`).
///
/// ```
/// use std::sync::Arc;
/// use tripline::replay::{run_capture, CaptureConfig};
/// use tripline_pipeline::{FalcoDetector, Pipeline, Syscall};
/// let (rules, _) = tripline_rules::falco::load(
///     &[tripline_rules::falco::RulesFile {
///         name: "r.yaml".into(),
///         content: "- rule: cat opens\n  desc: d\n  condition: evt.type=open and proc.name=cat\n  output: '%fd.name'\n  priority: WARNING\n".into(),
///     }],
///     &tripline_sources::schemas(),
/// );
/// let falco = FalcoDetector::new(Arc::new(rules), tripline_rules::RuleMatching::First, "h");
/// let mut pipeline: Pipeline<Syscall> = Pipeline::new(vec![Box::new(falco)]);
/// let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/falco/tests/syscall/captures/cat_write.scap");
/// let stats = run_capture(&mut pipeline, &[capture.into()], &CaptureConfig::default(), &mut |_| {}, &mut || {});
/// assert_eq!(stats.alerts(), 8); // 4 opens, each reported on enter and on exit
/// ```
pub fn run_capture(
    pipeline: &mut Pipeline<Syscall>,
    inputs: &[String],
    cfg: &CaptureConfig,
    on_alert: &mut dyn FnMut(Finding),
    on_event: &mut dyn FnMut(),
) -> ReplayStats {
    let mut stats = ReplayStats::default();
    for input in inputs {
        let mut reader = match tripline_scap::Reader::open(input) {
            Ok(r) => r,
            Err(e) => {
                stats.input_errors.push(format!("{input}: {e}"));
                continue;
            }
        };
        let mut replay = tripline_scap::replay::Replayer::new(cfg.all_events);
        loop {
            let block = match reader.next_block() {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(e) => {
                    // Events before the damage were evaluated; say where it stopped.
                    stats.input_errors.push(format!("{input}: {e}"));
                    break;
                }
            };
            replay.block(block, &mut |ev| {
                stats.events += 1;
                on_event();
                pipeline.process(ev, on_alert);
            });
        }
        stats.skipped_count += reader.unknown_events;
    }
    pipeline.finish(on_alert);
    stats.finish(pipeline);
    stats
}

/// Whether an input looks like a Linux audit log (`type=...` or `node=... type=...` lines).
pub fn looks_like_auditd(inputs: &[String]) -> bool {
    inputs.first().and_then(|i| head_of(i)).is_some_and(|h| {
        let line = h.split(|&b| b == b'\n').next().unwrap_or_default();
        line.starts_with(b"type=")
            || (line.starts_with(b"node=") && line.windows(6).any(|w| w == b" type="))
    })
}

/// Replays Linux audit logs (plain or gzip, files or `-`) through `pipeline` (Sigma rules of
/// `product: linux, service: auditd`), one event per audit record.
pub fn run_auditd(
    pipeline: &mut Pipeline<Audit>,
    inputs: &[String],
    on_alert: &mut dyn FnMut(Finding),
) -> ReplayStats {
    use std::io::BufRead;
    let mut stats = ReplayStats::default();
    for input in inputs {
        let mut assembler = tripline_sources::auditd::Assembler::default();
        let reader: Box<dyn Read> = if input == "-" {
            Box::new(std::io::stdin())
        } else {
            match std::fs::File::open(input) {
                Ok(f) => Box::new(f),
                Err(e) => {
                    stats.input_errors.push(format!("{input}: {e}"));
                    continue;
                }
            }
        };
        let mut buffered = std::io::BufReader::new(reader);
        let gz = buffered
            .fill_buf()
            .is_ok_and(|b| b.starts_with(&[0x1f, 0x8b]));
        let reader: Box<dyn BufRead> = if gz {
            Box::new(std::io::BufReader::new(MultiGzDecoder::new(buffered)))
        } else {
            Box::new(buffered)
        };
        for (n, line) in reader.split(b'\n').enumerate() {
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    stats.input_errors.push(format!("{input}:{}: {e}", n + 1));
                    break;
                }
            };
            let text = String::from_utf8_lossy(&line);
            if text.trim().is_empty() {
                continue;
            }
            let Some(record) = tripline_sources::auditd::parse_line(&text) else {
                stats.skipped_count += 1;
                if stats.skipped.len() < MAX_KEPT_SKIPS {
                    stats.skipped.push(Skip {
                        file: input.clone(),
                        line: n + 1,
                        reason: "not an audit record (expected 'type=T msg=audit(...)')".into(),
                    });
                }
                continue;
            };
            if let Some(event) = assembler.push(record) {
                stats.events += audit_event(pipeline, event, on_alert);
            }
        }
        if let Some(event) = assembler.finish() {
            stats.events += audit_event(pipeline, event, on_alert);
        }
    }
    pipeline.finish(on_alert);
    stats.finish(pipeline);
    stats
}

/// Evaluates each record of one audit event (Sigma's unit is the record) with the event's
/// context: its serial, its record types, and who ran what (from SYSCALL). Returns the
/// records evaluated.
pub(crate) fn audit_event(
    pipeline: &mut Pipeline<Audit>,
    event: Vec<serde_json::Map<String, serde_json::Value>>,
    on_alert: &mut dyn FnMut(Finding),
) -> u64 {
    use serde_json::Value;
    let types: Vec<&str> = event
        .iter()
        .filter_map(|r| r.get("type").and_then(Value::as_str))
        .collect();
    let types = types.join(",");
    let serial = event.first().and_then(tripline_sources::auditd::serial);
    let syscall = event
        .iter()
        .find(|r| r.get("type").and_then(Value::as_str) == Some("SYSCALL"));
    let mut context: Vec<(String, Value)> = vec![
        ("audit.serial".into(), serial.into()),
        ("audit.records".into(), types.into()),
    ];
    context.extend(
        ["exe", "comm", "uid", "auid"]
            .iter()
            .filter_map(|k| Some((format!("audit.{k}"), syscall?.get(*k)?.clone()))),
    );
    let records = event.len() as u64;
    for record in event {
        let time_ns = tripline_sources::auditd::time_ns(&record).unwrap_or(0);
        let record = Value::Object(record);
        pipeline.process(
            &AuditRecord {
                record: &record,
                time_ns,
                context: &context,
            },
            on_alert,
        );
    }
    records
}
