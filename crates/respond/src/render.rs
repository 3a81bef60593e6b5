//! Renderings of a stored finding in the formats other tools consume.

use serde_json::{json, Map, Value};
use tripline_event::{format_rfc3339, Priority};
use tripline_store::StoredFinding;

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ: Priority message`, Falco's text line.
pub fn text(f: &StoredFinding) -> String {
    format!(
        "{}: {} {}",
        format_rfc3339(f.last_ns.max(0) as u64),
        f.priority,
        f.message
    )
}

/// Falco's JSON alert, as Falcosidekick and every Falco consumer reads it. A folded finding
/// carries its count in `output_fields["tripline.count"]`.
pub fn falco(f: &StoredFinding) -> Value {
    let mut fields = f.fields.clone();
    if f.count > 1 {
        fields.insert("tripline.count".into(), json!(f.count));
    }
    json!({
        "hostname": f.hostname,
        "output": text(f),
        "priority": f.priority.name(),
        "rule": f.rule,
        "source": f.source,
        "tags": f.tags,
        "time": format_rfc3339(f.first_ns.max(0) as u64),
        "output_fields": fields,
    })
}

/// Tripline's own JSON: the stored finding, with its id, kind, entity, count and first/last seen.
pub fn tripline(f: &StoredFinding) -> Value {
    serde_json::to_value(f).unwrap_or(Value::Null)
}

/// OCSF severity: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical, 6 Fatal.
pub fn ocsf_severity(p: Priority) -> (u8, &'static str) {
    match p {
        Priority::Emergency => (6, "Fatal"),
        Priority::Alert | Priority::Critical => (5, "Critical"),
        Priority::Error => (4, "High"),
        Priority::Warning => (3, "Medium"),
        Priority::Notice => (2, "Low"),
        Priority::Informational | Priority::Debug => (1, "Informational"),
    }
}

/// An OCSF Detection Finding (class 2004, category 2 Findings), activity Create.
///
/// ```
/// # use tripline_store::{Kind, StoredFinding};
/// # use tripline_event::Priority;
/// # let f = StoredFinding { id: 1, fingerprint: "fp".into(), kind: Kind::Rule, rule: "r".into(),
/// #   priority: Priority::Critical, source: "syscall".into(), hostname: "h".into(), entity: "".into(),
/// #   message: "m".into(), fields: Default::default(), tags: vec![], location: None,
/// #   first_ns: 1_000_000, last_ns: 2_000_000, count: 2 };
/// let o = tripline_respond::render::ocsf(&f);
/// assert_eq!((o["class_uid"].as_u64(), o["type_uid"].as_u64()), (Some(2004), Some(200401)));
/// assert_eq!(o["severity_id"], 5);
/// ```
pub fn ocsf(f: &StoredFinding) -> Value {
    let (severity_id, severity) = ocsf_severity(f.priority);
    let ms = |ns: i64| ns / 1_000_000;
    let mut unmapped = Map::new();
    unmapped.insert("fields".into(), Value::Object(f.fields.clone()));
    unmapped.insert("kind".into(), json!(f.kind));
    if !f.entity.is_empty() {
        unmapped.insert("entity".into(), json!(f.entity));
    }
    json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "time": ms(f.last_ns),
        "message": f.message,
        "count": f.count,
        "finding_info": {
            "uid": f.fingerprint,
            "title": f.rule,
            "desc": f.message,
            "types": [f.source],
            "first_seen_time": ms(f.first_ns),
            "last_seen_time": ms(f.last_ns),
            "analytic": { "name": f.rule, "type_id": 1, "type": "Rule" },
        },
        "metadata": {
            "version": "1.1.0",
            "profiles": ["host"],
            "labels": f.tags,
            "product": {
                "name": "Tripline",
                "vendor_name": "Tripline",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "device": { "hostname": f.hostname, "type_id": 0, "type": "Unknown" },
        "unmapped": unmapped,
    })
}

/// A Slack incoming-webhook message: a line of text plus an attachment per evidence field.
pub fn slack(f: &StoredFinding) -> Value {
    let color = match f.priority {
        Priority::Emergency | Priority::Alert | Priority::Critical | Priority::Error => "#e01e5a",
        Priority::Warning => "#ecb22e",
        _ => "#2eb67d",
    };
    let mut fields: Vec<Value> = vec![
        json!({"title": "rule", "value": f.rule, "short": false}),
        json!({"title": "priority", "value": f.priority.name(), "short": true}),
        json!({"title": "source", "value": f.source, "short": true}),
    ];
    if !f.hostname.is_empty() {
        fields.push(json!({"title": "hostname", "value": f.hostname, "short": true}));
    }
    if f.count > 1 {
        fields.push(json!({"title": "count", "value": f.count.to_string(), "short": true}));
    }
    for (k, v) in f.fields.iter().take(20) {
        let value = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        fields.push(json!({"title": k, "value": value, "short": true}));
    }
    json!({
        "text": format!("{} {}: {}", f.priority, f.rule, f.message),
        "attachments": [{ "color": color, "fields": fields, "footer": "tripline" }],
    })
}

/// Alertmanager labels are `[a-zA-Z_][a-zA-Z0-9_]*`: `proc.name` → `proc_name`.
fn label_name(k: &str) -> String {
    let mut s: String = k
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// One alert for Alertmanager's `POST /api/v2/alerts` (sent as an array). Labels carry the
/// finding's identity (rule, priority, host, source and short evidence values) so Alertmanager's
/// own grouping and silences work; the message goes in annotations.
pub fn alertmanager(f: &StoredFinding) -> Value {
    let mut labels = Map::new();
    labels.insert("alertname".into(), json!(f.rule));
    labels.insert("priority".into(), json!(f.priority.name()));
    labels.insert("severity".into(), json!(f.priority.name().to_lowercase()));
    labels.insert("source".into(), json!(f.source));
    labels.insert("kind".into(), json!(f.kind));
    if !f.hostname.is_empty() {
        labels.insert("hostname".into(), json!(f.hostname));
    }
    for (k, v) in &f.fields {
        // Long or structured values make label sets unbounded; they stay in the annotations.
        if let Value::String(s) = v {
            if !s.is_empty() && s.len() <= 64 {
                labels.entry(label_name(k)).or_insert(json!(s));
            }
        }
    }
    json!({
        "labels": labels,
        "annotations": {
            "summary": f.message,
            "description": text(f),
            "count": f.count.to_string(),
        },
        "startsAt": format_rfc3339(f.first_ns.max(0) as u64),
    })
}

/// Syslog severity (RFC 5424): the same 0..7 scale Falco's priorities follow.
pub fn syslog_severity(p: Priority) -> u8 {
    Priority::ALL.iter().position(|q| *q == p).unwrap_or(7) as u8
}

/// An RFC 5424 line: `<PRI>1 TIMESTAMP HOST tripline - RULE - MESSAGE-JSON`.
pub fn syslog(f: &StoredFinding, facility: u8) -> String {
    let pri = u16::from(facility) * 8 + u16::from(syslog_severity(f.priority));
    let host = if f.hostname.is_empty() {
        "-"
    } else {
        &f.hostname
    };
    // MSGID is at most 32 printable characters without spaces.
    let msgid: String = f
        .rule
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(32)
        .collect();
    format!(
        "<{pri}>1 {} {host} tripline - {msgid} - {}",
        format_rfc3339(f.last_ns.max(0) as u64),
        falco(f)
    )
}
