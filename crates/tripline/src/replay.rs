//! `tripline replay`: run rules over recorded logs.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;
use tripline_event::Finding;
use tripline_rules::{RuleMatching, Ruleset};
use tripline_sigma::{LogSource, SigmaRuleset};
use tripline_sources::input::{InputError, Limits, Reader, Skip};
use tripline_sources::SourceKind;

/// Most skip reasons kept verbatim; beyond this only the count grows.
const MAX_KEPT_SKIPS: usize = 1000;

/// How to replay.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Source of every input.
    pub source: SourceKind,
    /// First match only, or all.
    pub matching: RuleMatching,
    /// Reported as the alerts' `hostname`.
    pub hostname: String,
    /// Decoder limits.
    pub limits: Limits,
}

/// How to replay captures.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    /// First match only, or all.
    pub matching: RuleMatching,
    /// Reported as the alerts' `hostname`.
    pub hostname: String,
    /// Also evaluate the events Falco skips unless run with `-A`.
    pub all_events: bool,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            matching: RuleMatching::First,
            hostname: "localhost".into(),
            all_events: false,
        }
    }
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
}

impl ReplayStats {
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

/// The Sigma log source of a Tripline source (how Sigma rules are routed to its events).
pub fn sigma_logsource(source: SourceKind) -> LogSource {
    match source.name() {
        "aws_cloudtrail" => LogSource::new(None, Some("aws"), Some("cloudtrail")),
        "k8s_audit" => LogSource::new(Some("application"), Some("kubernetes"), Some("audit")),
        "gcp_auditlog" => LogSource::new(None, Some("gcp"), Some("gcp.audit")),
        "okta" => LogSource::new(None, Some("okta"), Some("okta")),
        "github" => LogSource::new(None, Some("github"), Some("audit")),
        other => LogSource::new(None, Some(other), None),
    }
}

/// Scores one record for anomalies (`replay --anomaly`), returning a finding for one.
pub type AnomalyCheck<'a> = dyn FnMut(&tripline_sources::JsonEvent) -> Option<Finding> + 'a;

/// Replays `inputs` through `rules` (and Sigma rules, if given); calls `on_alert` per alert
/// and `on_event` per event.
pub fn run(
    rules: &Ruleset,
    mut sigma: Option<&mut SigmaRuleset>,
    inputs: &[String],
    cfg: &ReplayConfig,
    on_alert: &mut dyn FnMut(Finding),
    on_event: &mut dyn FnMut(),
    mut anomaly: Option<&mut AnomalyCheck<'_>>,
) -> ReplayStats {
    let stream = sigma_logsource(cfg.source);
    let mut stats = ReplayStats::default();
    let mut reader = Reader::new(cfg.source, cfg.limits);
    for input in inputs {
        let mut skips = Vec::new();
        let result = reader.read_path(
            input,
            &mut |ev| {
                stats.events += 1;
                on_event();
                rules.evaluate(&ev, cfg.matching, |rule| {
                    *stats.alerts_by_rule.entry(rule.name.clone()).or_default() += 1;
                    on_alert(rule.finding(&ev, &cfg.hostname));
                });
                if let Some(set) = sigma.as_deref_mut() {
                    let source = cfg.source.name();
                    for f in set.findings(&ev.json, &stream, ev.time_ns, source, &cfg.hostname) {
                        *stats.alerts_by_rule.entry(f.rule.clone()).or_default() += 1;
                        on_alert(f);
                    }
                }
                if let Some(f) = anomaly.as_deref_mut().and_then(|score| score(&ev)) {
                    *stats.alerts_by_rule.entry(f.rule.clone()).or_default() += 1;
                    on_alert(f);
                }
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
    stats
}

/// Whether the first input is a Falco/sysdig capture (`.scap`, plain or gzip).
pub fn looks_like_capture(inputs: &[String]) -> bool {
    inputs
        .first()
        .and_then(|i| head_of(i))
        .is_some_and(|h| h.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]))
}

/// Replays syscall captures through Falco rules (and Sigma's Linux rules, if given), one
/// capture after the other, each with its own process and fd state. `all_events` also
/// evaluates the I/O, memory and scheduler events Falco skips by default (its `-A`).
///
/// ```
/// use tripline::replay::{run_capture, CaptureConfig};
/// let (rules, _) = tripline_rules::falco::load(
///     &[tripline_rules::falco::RulesFile {
///         name: "r.yaml".into(),
///         content: "- rule: cat opens\n  desc: d\n  condition: evt.type=open and proc.name=cat\n  output: '%fd.name'\n  priority: WARNING\n".into(),
///     }],
///     &tripline_sources::schemas(),
/// );
/// let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/falco/tests/syscall/captures/cat_write.scap");
/// let stats = run_capture(&rules, None, &[capture.into()], &CaptureConfig::default(), &mut |_| {}, &mut || {});
/// assert_eq!(stats.alerts(), 8); // 4 opens, each reported on enter and on exit
/// ```
pub fn run_capture(
    rules: &Ruleset,
    mut sigma: Option<&mut SigmaRuleset>,
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
                rules.evaluate(ev, cfg.matching, |rule| {
                    *stats.alerts_by_rule.entry(rule.name.clone()).or_default() += 1;
                    on_alert(rule.finding(ev, &cfg.hostname));
                });
                if let Some(set) = sigma.as_deref_mut() {
                    if let Some((stream, json)) = crate::sigma_events::sysmon_event(ev) {
                        for f in set.findings(&json, &stream, ev.ts_ns(), "syscall", &cfg.hostname)
                        {
                            *stats.alerts_by_rule.entry(f.rule.clone()).or_default() += 1;
                            on_alert(f);
                        }
                    }
                }
            });
        }
        stats.skipped_count += reader.unknown_events;
    }
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

/// Replays Linux audit logs (plain or gzip, files or `-`) through Sigma rules of
/// `product: linux, service: auditd`, one event per audit record.
pub fn run_auditd(
    sigma: &mut SigmaRuleset,
    inputs: &[String],
    hostname: &str,
    on_alert: &mut dyn FnMut(Finding),
) -> ReplayStats {
    use std::io::BufRead;
    let stream = LogSource::new(None, Some("linux"), Some("auditd"));
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
                audit_event(sigma, &stream, event, hostname, &mut stats, on_alert);
            }
        }
        if let Some(event) = assembler.finish() {
            audit_event(sigma, &stream, event, hostname, &mut stats, on_alert);
        }
    }
    stats
}

/// Evaluates each record of one audit event (Sigma's unit is the record) and adds the event's
/// context to the alerts: its serial, its record types, and who ran what (from SYSCALL).
fn audit_event(
    sigma: &mut SigmaRuleset,
    stream: &LogSource,
    event: Vec<serde_json::Map<String, serde_json::Value>>,
    hostname: &str,
    stats: &mut ReplayStats,
    on_alert: &mut dyn FnMut(Finding),
) {
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
    let context: Vec<(String, Value)> = ["exe", "comm", "uid", "auid"]
        .iter()
        .filter_map(|k| Some((format!("audit.{k}"), syscall?.get(*k)?.clone())))
        .collect();
    for record in event {
        stats.events += 1;
        let ts = tripline_sources::auditd::time_ns(&record).unwrap_or(0);
        let ev = Value::Object(record);
        for mut f in sigma.findings(&ev, stream, ts, "auditd", hostname) {
            f.output_fields.push(("audit.serial".into(), serial.into()));
            f.output_fields
                .push(("audit.records".into(), types.clone().into()));
            f.output_fields.extend(context.iter().cloned());
            *stats.alerts_by_rule.entry(f.rule.clone()).or_default() += 1;
            on_alert(f);
        }
    }
}
