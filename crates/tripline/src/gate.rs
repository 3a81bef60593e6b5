//! `tripline gate`: runtime findings as a pipeline gate. Reads the store (or a findings file),
//! keeps findings at or above a priority within a time window, prints them as SARIF 2.1.0,
//! JUnit XML, JSON or text, and exits 3 when any exist (0 clean, 1 error, 2 usage).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde_json::{json, Map, Value};
use tripline_event::Priority;
use tripline_store::{Kind, Query, Store, StoredFinding};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GateFormat {
    /// One line per finding and a verdict.
    Text,
    /// `{passed, threshold, findings, counts}`.
    Json,
    /// SARIF 2.1.0 for code-scanning dashboards.
    Sarif,
    /// JUnit XML for CI test reports.
    Junit,
}

/// What to gate on.
#[derive(Debug, Clone)]
pub struct GateConfig {
    /// Findings last seen within this window (ns); `None` takes all.
    pub since_ns: Option<i64>,
    /// Fail on findings at or above this priority.
    pub threshold: Priority,
    /// Only these kinds (empty: all).
    pub kinds: Vec<Kind>,
    /// Manifests or contract files: a finding's location is the file that declares its entity.
    pub declared: Vec<String>,
}

/// Reads findings from the store.
pub fn from_store(url: &str, cfg: &GateConfig) -> anyhow::Result<Vec<StoredFinding>> {
    let mut store = Store::open(url).with_context(|| {
        format!(
            "opening the store {}",
            tripline_store::postgres::redact(url)
        )
    })?;
    let q = Query {
        since_ns: cfg.since_ns,
        ..Query::default()
    };
    let mut out: Vec<StoredFinding> = Vec::new();
    loop {
        let after = out.last().map_or(0, |f| f.id);
        let page = store.scan(&q, after, 10_000)?;
        if page.is_empty() {
            break;
        }
        out.extend(page);
    }
    Ok(out)
}

/// Reads findings from a file: JSON lines or an array of Falco alerts or Tripline findings,
/// or an API response (`{"findings": [...]}`). Errors name the file and line.
pub fn from_file(path: &Path) -> anyhow::Result<Vec<StoredFinding>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let trimmed = text.trim_start();
    let values: Vec<(usize, Value)> =
        if trimmed.starts_with('[') || trimmed.starts_with("{\"findings\"") {
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), e.line()))?;
            let arr = match v {
                Value::Array(a) => a,
                Value::Object(mut o) => match o.remove("findings") {
                    Some(Value::Array(a)) => a,
                    _ => anyhow::bail!("{}: expected a `findings` array", path.display()),
                },
                _ => anyhow::bail!("{}: expected an array of findings", path.display()),
            };
            arr.into_iter().map(|v| (0, v)).collect()
        } else {
            let mut out = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_str(line).map_err(|e| {
                    anyhow::anyhow!("{}:{}: expected a JSON finding: {e}", path.display(), i + 1)
                })?;
                out.push((i + 1, v));
            }
            out
        };
    values
        .into_iter()
        .enumerate()
        .map(|(i, (line, v))| {
            finding_from_json(&v, i as i64 + 1).map_err(|e| {
                let at = if line > 0 {
                    format!(":{line}")
                } else {
                    String::new()
                };
                anyhow::anyhow!("{}{at}: {e}", path.display())
            })
        })
        .collect()
}

fn parse_time(s: &str) -> Option<i64> {
    // YYYY-MM-DDTHH:MM:SS[.fffffffff]Z
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = s[19..].trim_end_matches('Z');
    let nanos = match frac.strip_prefix('.') {
        Some(f) => {
            let digits: String = f
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .take(9)
                .collect();
            format!("{digits:0<9}").parse::<i64>().ok()?
        }
        None => 0,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1_000_000_000) + nanos)
}

fn finding_from_json(v: &Value, seq: i64) -> Result<StoredFinding, String> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let rule = s("rule");
    if rule.is_empty() {
        return Err("expected a finding with a `rule`".into());
    }
    let priority: Priority = s("priority")
        .parse()
        .map_err(|e| format!("rule '{rule}': {e}"))?;
    let fields: Map<String, Value> = v
        .get("fields")
        .or_else(|| v.get("output_fields"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let time = v
        .get("last_ns")
        .and_then(Value::as_i64)
        .or_else(|| v.get("time").and_then(Value::as_str).and_then(parse_time))
        .unwrap_or(0);
    let message = match v.get("message").and_then(Value::as_str) {
        Some(m) => m.to_string(),
        // Falco's `output` starts with the time and priority.
        None => {
            let out = s("output");
            out.split_once(&format!(" {} ", priority.name()))
                .map_or(out.clone(), |(_, m)| m.to_string())
        }
    };
    let mut f = StoredFinding {
        id: v.get("id").and_then(Value::as_i64).unwrap_or(seq),
        fingerprint: s("fingerprint"),
        kind: Kind::parse(&s("kind")).unwrap_or(Kind::Rule),
        rule,
        priority,
        source: s("source"),
        hostname: s("hostname"),
        entity: s("entity"),
        message,
        fields,
        tags: v
            .get("tags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        location: v.get("location").and_then(Value::as_str).map(String::from),
        first_ns: v.get("first_ns").and_then(Value::as_i64).unwrap_or(time),
        last_ns: time,
        count: v.get("count").and_then(Value::as_i64).unwrap_or(1),
    };
    if f.fingerprint.is_empty() {
        let mut n = tripline_store::NewFinding::new(&f.rule, f.priority, &f.source, &f.message);
        n.kind = f.kind;
        n.hostname = f.hostname.clone();
        n.entity = f.entity.clone();
        n.fields = f.fields.clone();
        f.fingerprint = n.fingerprint();
    }
    Ok(f)
}

/// A stable SARIF rule id: the kind and the rule name in lower-case words joined by `-`.
pub fn rule_id(kind: Kind, rule: &str) -> String {
    let mut slug = String::new();
    for c in rule.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    format!("tripline/{}/{}", kind.as_str(), slug.trim_end_matches('-'))
}

/// GitHub's `security-severity` (0-10) for a priority.
pub fn security_severity(p: Priority) -> &'static str {
    match p {
        Priority::Emergency => "10.0",
        Priority::Alert => "9.5",
        Priority::Critical => "9.0",
        Priority::Error => "7.5",
        Priority::Warning => "5.5",
        Priority::Notice => "3.5",
        Priority::Informational => "2.0",
        Priority::Debug => "1.0",
    }
}

fn level(p: Priority) -> &'static str {
    if p >= Priority::Error {
        "error"
    } else if p >= Priority::Warning {
        "warning"
    } else {
        "note"
    }
}

/// The file and line that declares `name` (`name: X` in a manifest or contract), if any.
fn declared_at(files: &[(String, String)], f: &StoredFinding) -> Option<(String, usize)> {
    if let Some(l) = &f.location {
        return Some((l.clone(), 1));
    }
    let mut names: Vec<String> = Vec::new();
    for k in [
        "k8s.deployment.name",
        "k8s.pod.name",
        "ka.target.name",
        "ka.resp.name",
        "container.name",
    ] {
        if let Some(Value::String(s)) = f.fields.get(k) {
            names.push(s.clone());
        }
    }
    if !f.entity.is_empty() {
        names.push(f.entity.clone());
    }
    // Pods carry generated suffixes: `web-7d4b9c8f6d-x2x9z` is declared as `web`.
    let mut stems = Vec::new();
    for n in &names {
        let parts: Vec<&str> = n.split('-').collect();
        for cut in 1..parts.len().min(3) {
            stems.push(parts[..parts.len() - cut].join("-"));
        }
    }
    names.extend(stems);
    for name in names.iter().filter(|n| !n.is_empty()) {
        for (path, text) in files {
            for (i, line) in text.lines().enumerate() {
                let t = line.trim();
                if let Some(v) = t.strip_prefix("name:") {
                    if v.trim().trim_matches(|c| c == '"' || c == '\'') == name {
                        return Some((path.clone(), i + 1));
                    }
                }
            }
        }
    }
    None
}

/// SARIF 2.1.0: one rule per distinct finding rule, one result per finding.
pub fn sarif(findings: &[StoredFinding], declared: &[(String, String)]) -> Value {
    let mut rules: BTreeMap<String, (usize, &StoredFinding)> = BTreeMap::new();
    for f in findings {
        let id = rule_id(f.kind, &f.rule);
        let n = rules.len();
        rules.entry(id).or_insert((n, f));
    }
    let mut ordered: Vec<(&String, &(usize, &StoredFinding))> = rules.iter().collect();
    ordered.sort_by_key(|(_, (i, _))| *i);
    let rule_objs: Vec<Value> = ordered
        .iter()
        .map(|(id, (_, f))| {
            json!({
                "id": id,
                "name": f.rule,
                "shortDescription": { "text": f.rule },
                "defaultConfiguration": { "level": level(f.priority) },
                "properties": {
                    "security-severity": security_severity(f.priority),
                    "tags": f.tags,
                    "kind": f.kind.as_str(),
                },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let id = rule_id(f.kind, &f.rule);
            let mut r = json!({
                "ruleId": id,
                "ruleIndex": rules[&id].0,
                "level": level(f.priority),
                "message": { "text": f.message },
                "partialFingerprints": { "triplineFingerprint/v1": f.fingerprint },
                "properties": {
                    "priority": f.priority.name(),
                    "source": f.source,
                    "hostname": f.hostname,
                    "entity": f.entity,
                    "count": f.count,
                    "firstSeen": tripline_event::format_rfc3339(f.first_ns.max(0) as u64),
                    "lastSeen": tripline_event::format_rfc3339(f.last_ns.max(0) as u64),
                },
            });
            if let Some((uri, line)) = declared_at(declared, f) {
                r["locations"] = json!([{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri },
                        "region": { "startLine": line },
                    }
                }]);
            }
            r
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "Tripline",
                "informationUri": "https://tripline.dev",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rule_objs,
            }},
            "results": results,
        }],
    })
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// JUnit XML: a test case per rule seen; the rules with findings at or above the threshold fail.
pub fn junit(all: &[StoredFinding], threshold: Priority) -> String {
    let mut by_rule: BTreeMap<(String, &str), Vec<&StoredFinding>> = BTreeMap::new();
    for f in all {
        by_rule
            .entry((f.rule.clone(), f.kind.as_str()))
            .or_default()
            .push(f);
    }
    let failing = |v: &Vec<&StoredFinding>| v.iter().any(|f| f.priority >= threshold);
    let failures = by_rule.values().filter(|v| failing(v)).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"tripline gate\" tests=\"{}\" failures=\"{failures}\">\n  <testsuite name=\"runtime findings\" tests=\"{}\" failures=\"{failures}\">\n",
        by_rule.len(),
        by_rule.len()
    ));
    for ((rule, kind), fs) in &by_rule {
        out.push_str(&format!(
            "    <testcase classname=\"tripline.{kind}\" name=\"{}\">\n",
            xml(rule)
        ));
        if failing(fs) {
            let over: Vec<&&StoredFinding> =
                fs.iter().filter(|f| f.priority >= threshold).collect();
            let n: i64 = over.iter().map(|f| f.count).sum();
            out.push_str(&format!(
                "      <failure type=\"{}\" message=\"{n} occurrences at or above {}\">",
                over[0].priority.name(),
                threshold.name()
            ));
            for f in over.iter().take(50) {
                out.push_str(&xml(&format!(
                    "\n{} {} [{}] {}",
                    tripline_event::format_rfc3339(f.last_ns.max(0) as u64),
                    f.priority.name(),
                    f.hostname,
                    f.message
                )));
            }
            out.push_str("\n      </failure>\n");
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Runs the gate: prints the report, returns the exit code (0 pass, 3 findings).
pub fn gate(
    findings: Vec<StoredFinding>,
    cfg: &GateConfig,
    format: GateFormat,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let in_window: Vec<StoredFinding> = findings
        .into_iter()
        .filter(|f| cfg.since_ns.is_none_or(|s| f.last_ns >= s))
        .filter(|f| cfg.kinds.is_empty() || cfg.kinds.contains(&f.kind))
        .collect();
    let over: Vec<StoredFinding> = in_window
        .iter()
        .filter(|f| f.priority >= cfg.threshold)
        .cloned()
        .collect();
    let mut declared = Vec::new();
    for d in &cfg.declared {
        for p in crate::gate_files(d)? {
            let text = std::fs::read_to_string(&p).with_context(|| format!("reading {p}"))?;
            declared.push((p, text));
        }
    }
    match format {
        GateFormat::Sarif => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&sarif(&over, &declared))?
        )?,
        GateFormat::Junit => write!(out, "{}", junit(&in_window, cfg.threshold))?,
        GateFormat::Json => {
            let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
            for f in &over {
                *counts.entry(&f.rule).or_default() += f.count;
            }
            let v = json!({
                "passed": over.is_empty(),
                "threshold": cfg.threshold.name(),
                "findings": over,
                "counts": counts,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        GateFormat::Text => {
            for f in &over {
                writeln!(
                    out,
                    "{} {} {} [{}] {} (x{})",
                    tripline_event::format_rfc3339(f.last_ns.max(0) as u64),
                    f.priority.name(),
                    f.rule,
                    f.hostname,
                    f.message,
                    f.count
                )?;
            }
            let verdict = if over.is_empty() { "PASS" } else { "FAIL" };
            writeln!(
                out,
                "{verdict}: {} findings at or above {} ({} in the window)",
                over.len(),
                cfg.threshold.name(),
                in_window.len()
            )?;
        }
    }
    Ok(if over.is_empty() { 0 } else { 3 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_stable_slugs() {
        assert_eq!(
            rule_id(Kind::Rule, "Terminal shell in container"),
            "tripline/rule/terminal-shell-in-container"
        );
        assert_eq!(
            rule_id(Kind::Drift, "files: /etc/sudoers (changed)"),
            "tripline/drift/files-etc-sudoers-changed"
        );
    }

    #[test]
    fn falco_times_parse() {
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(
            parse_time("2024-02-29T12:00:00.000000001Z"),
            Some(1_709_208_000_000_000_001)
        );
        assert_eq!(parse_time("garbage"), None);
    }
}
