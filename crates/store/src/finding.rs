//! What goes into the store and what comes out.

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tripline_event::Priority;

/// Which engine produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A Falco or Sigma rule matched an event.
    Rule,
    /// The live state differs from the runtime contract.
    Drift,
    /// A Rego policy denied a state or an input.
    Policy,
    /// An identity holds more than it uses, or can become someone else.
    Identity,
    /// Behaviour departed from a learned baseline.
    Anomaly,
}

impl Kind {
    /// All kinds.
    pub const ALL: [Kind; 5] = [
        Kind::Rule,
        Kind::Drift,
        Kind::Policy,
        Kind::Identity,
        Kind::Anomaly,
    ];

    /// Lower-case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Rule => "rule",
            Kind::Drift => "drift",
            Kind::Policy => "policy",
            Kind::Identity => "identity",
            Kind::Anomaly => "anomaly",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Severity as stored: syslog order, 0 = Emergency ... 7 = Debug, so "at least Warning" is
/// `priority <= 4`.
pub fn priority_rank(p: Priority) -> i64 {
    Priority::ALL.iter().position(|q| *q == p).unwrap_or(7) as i64
}

/// The priority for a stored rank.
pub fn priority_from_rank(r: i64) -> Priority {
    Priority::ALL
        .get(r.clamp(0, 7) as usize)
        .copied()
        .unwrap_or(Priority::Debug)
}

/// Output fields that differ on every repetition of the same thing (times, process and thread
/// ids, fd numbers); they are not part of a finding's identity.
pub const VOLATILE_FIELDS: &[&str] = &[
    "evt.time",
    "evt.time.iso8601",
    "evt.time.s",
    "evt.rawtime",
    "evt.datetime",
    "evt.num",
    "evt.latency",
    "proc.pid",
    "proc.pid.ts",
    "proc.ppid",
    "proc.vpid",
    "proc.pvpid",
    "proc.sid",
    "proc.vpgid",
    "thread.tid",
    "thread.vtid",
    "fd.num",
    "proc.duration",
    "ka.auditid",
    "ka.stage",
    "ct.id",
    "ct.request.requestid",
    "ct.response.requestid",
];

fn volatile(name: &str) -> bool {
    VOLATILE_FIELDS.contains(&name)
        || name.starts_with("proc.apid")
        || name.starts_with("evt.time")
        || name.starts_with("evt.rawtime")
}

/// A finding on its way in.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFinding {
    /// Which engine.
    pub kind: Kind,
    /// Rule or check name.
    pub rule: String,
    /// Severity.
    pub priority: Priority,
    /// Event source (`syscall`, `k8s_audit`, `aws_cloudtrail`) or state source (`host`, `k8s`).
    pub source: String,
    /// When it happened, ns since the epoch.
    pub time_ns: i64,
    /// Host that saw it.
    pub hostname: String,
    /// What it is about: container, pod, principal, file (empty: the host).
    pub entity: String,
    /// One line for people.
    pub message: String,
    /// The evidence: output fields, drift facts, policy details.
    pub fields: Map<String, Value>,
    /// Rule tags.
    pub tags: Vec<String>,
    /// The file that declared the workload or rule (contract, manifest), for SARIF locations.
    pub location: Option<String>,
}

impl NewFinding {
    /// A rule finding with the given rule, priority, source and message, now, on no host.
    pub fn new(rule: &str, priority: Priority, source: &str, message: &str) -> NewFinding {
        NewFinding {
            kind: Kind::Rule,
            rule: rule.into(),
            priority,
            source: source.into(),
            time_ns: crate::now_ns(),
            hostname: String::new(),
            entity: String::new(),
            message: message.into(),
            fields: Map::new(),
            tags: Vec::new(),
            location: None,
        }
    }

    /// A rule alert from the engines; the entity is the container, pod or principal it names.
    pub fn from_alert(f: &tripline_event::Finding) -> NewFinding {
        let mut fields: Map<String, Value> = f.output_fields.iter().cloned().collect();
        // A pid in the evidence gets its process's start time, which kill actions check so a
        // reused pid is never signalled.
        if let Some(p) = f.process {
            if fields.get("proc.pid").and_then(Value::as_i64) == Some(i64::from(p.pid)) {
                fields.insert("proc.pid.ts".into(), p.start_ns.into());
            }
        }
        let entity = entity_of(&fields).unwrap_or_default();
        NewFinding {
            kind: Kind::Rule,
            rule: f.rule.clone(),
            priority: f.priority,
            source: f.source.clone(),
            time_ns: f.time_ns as i64,
            hostname: f.hostname.clone(),
            entity,
            message: f.message.clone(),
            fields,
            tags: f.tags.clone(),
            location: None,
        }
    }

    /// The identity used for dedup: kind, rule, host, entity and every non-volatile field.
    /// Stable across processes and versions (SHA-256, first 16 bytes in hex).
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.kind.as_str(),
            &self.rule,
            &self.hostname,
            &self.entity,
            &self.source,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        let mut keys: Vec<&String> = self.fields.keys().filter(|k| !volatile(k)).collect();
        keys.sort();
        for k in keys {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(self.fields[k].to_string().as_bytes());
            h.update([0]);
        }
        if self.fields.is_empty() {
            h.update(self.message.as_bytes());
        }
        h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The first entity-naming field present: container, pod, Kubernetes user, AWS principal.
fn entity_of(fields: &Map<String, Value>) -> Option<String> {
    const ENTITY_FIELDS: &[&str] = &[
        "container.id",
        "k8s.pod.name",
        "ka.target.name",
        "ka.resp.name",
        "ka.user.name",
        "ct.user.arn",
        "ct.user",
    ];
    ENTITY_FIELDS.iter().find_map(|k| match fields.get(*k) {
        Some(Value::String(s)) if !s.is_empty() && s != "host" => Some(s.clone()),
        _ => None,
    })
}

/// A stored finding, possibly folded from many.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredFinding {
    /// Store id.
    pub id: i64,
    /// Dedup identity.
    pub fingerprint: String,
    /// Which engine.
    pub kind: Kind,
    /// Rule or check name.
    pub rule: String,
    /// Severity.
    #[serde(serialize_with = "priority_name")]
    pub priority: Priority,
    /// Source.
    pub source: String,
    /// Host.
    pub hostname: String,
    /// Entity.
    pub entity: String,
    /// Message (of the first occurrence).
    pub message: String,
    /// Evidence (of the first occurrence).
    pub fields: Map<String, Value>,
    /// Tags.
    pub tags: Vec<String>,
    /// Declaring file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// First seen, ns.
    pub first_ns: i64,
    /// Last seen, ns.
    pub last_ns: i64,
    /// Occurrences folded into this row.
    pub count: i64,
}

fn priority_name<S: serde::Serializer>(p: &Priority, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volatile_fields_do_not_change_the_fingerprint() {
        let mut a = NewFinding::new("r", Priority::Warning, "syscall", "m");
        a.fields.insert("proc.name".into(), "bash".into());
        a.fields.insert("proc.pid".into(), 10.into());
        let mut b = a.clone();
        b.fields.insert("proc.pid".into(), 11.into());
        b.fields.insert("evt.time".into(), 5.into());
        b.message = "m at another time".into();
        assert_eq!(a.fingerprint(), b.fingerprint());
        b.fields.insert("proc.name".into(), "sh".into());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn ranks_follow_syslog_order() {
        assert_eq!(priority_rank(Priority::Emergency), 0);
        assert_eq!(priority_rank(Priority::Warning), 4);
        assert_eq!(priority_from_rank(4), Priority::Warning);
        assert_eq!(priority_from_rank(99), Priority::Debug);
    }
}
