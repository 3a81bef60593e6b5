//! What Kubernetes users and service accounts actually did, from audit logs.
//!
//! The user charged is the impersonated one when a request impersonates (as the authorizer
//! sees it). Each request counts once: at `ResponseComplete`, or at its only stage when the
//! policy logs one.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;
use tripline_sources::input::{InputError, Limits, Reader, Skip};
use tripline_sources::SourceKind;

use super::rbac::Request;

/// Calls of one kind of request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestUse {
    /// Allowed calls (HTTP status below 400 except 401/403, or no status).
    pub calls: u64,
    /// Forbidden calls (403).
    pub denied: u64,
    /// Last allowed call, ns since the epoch.
    pub last_ns: u64,
}

/// What one user did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserUse {
    /// Requests (verb, group, resource, subresource, namespace; names dropped) → use.
    #[serde(serialize_with = "ser_requests")]
    pub requests: BTreeMap<Request, RequestUse>,
    /// Last event, ns since the epoch.
    pub last_ns: u64,
}

fn ser_requests<S: serde::Serializer>(
    m: &BTreeMap<Request, RequestUse>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(m.len()))?;
    for (r, u) in m {
        let key = if r.resource.is_empty() {
            format!("{} {}", r.verb, r.path)
        } else {
            format!(
                "{} {}{}{}",
                r.verb,
                if r.group.is_empty() {
                    String::new()
                } else {
                    format!("{}/", r.group)
                },
                r.full_resource(),
                if r.namespace.is_empty() {
                    String::new()
                } else {
                    format!(" -n {}", r.namespace)
                }
            )
        };
        map.serialize_entry(&key, u)?;
    }
    map.end()
}

/// Usage over audit logs, by user name (`jane`, `system:serviceaccount:ns:sa`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct K8sUsage {
    /// User → use.
    pub users: BTreeMap<String, UserUse>,
    /// Earliest and latest event, ns since the epoch.
    pub window: Option<(u64, u64)>,
    /// Events read.
    pub events: u64,
    /// Skipped records (first 100 reasons) and their count.
    pub skipped: Vec<String>,
    /// Count of skipped records.
    pub skipped_count: u64,
    seen: HashSet<String>,
}

/// The request an audit event describes.
pub fn request_of(ev: &Value) -> Option<Request> {
    let verb = ev.get("verb").and_then(Value::as_str)?.to_string();
    let Some(obj) = ev.get("objectRef") else {
        let uri = ev.get("requestURI").and_then(Value::as_str).unwrap_or("");
        return Some(Request {
            verb,
            path: uri.split('?').next().unwrap_or("").to_string(),
            ..Request::default()
        });
    };
    let s = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Some(Request {
        verb,
        group: s("apiGroup"),
        resource: s("resource"),
        subresource: s("subresource"),
        name: String::new(),
        namespace: s("namespace"),
        path: String::new(),
    })
}

impl K8sUsage {
    /// Adds one audit event.
    pub fn add(&mut self, ev: &Value, time_ns: u64) {
        let stage = ev.get("stage").and_then(Value::as_str).unwrap_or("");
        if !stage.is_empty() && stage != "ResponseComplete" && stage != "Panic" {
            return;
        }
        if let Some(id) = ev.get("auditID").and_then(Value::as_str) {
            if !self.seen.insert(id.to_string()) {
                return;
            }
        }
        self.events += 1;
        self.window = Some(match self.window {
            None => (time_ns, time_ns),
            Some((a, b)) => (a.min(time_ns), b.max(time_ns)),
        });
        let user = ev
            .pointer("/impersonatedUser/username")
            .or_else(|| ev.pointer("/user/username"))
            .and_then(Value::as_str);
        let (Some(user), Some(req)) = (user, request_of(ev)) else {
            return;
        };
        let code = ev.pointer("/responseStatus/code").and_then(Value::as_i64);
        let u = self.users.entry(user.to_string()).or_default();
        u.last_ns = u.last_ns.max(time_ns);
        let r = u.requests.entry(req).or_default();
        match code {
            Some(401) | Some(403) => r.denied += 1,
            _ => {
                r.calls += 1;
                r.last_ns = r.last_ns.max(time_ns);
            }
        }
    }

    /// Reads audit log files and directories (JSON lines, plain or gzip).
    pub fn read(paths: &[PathBuf]) -> Result<K8sUsage, InputError> {
        let mut u = K8sUsage::default();
        let mut reader = Reader::new(SourceKind::K8sAudit, Limits::default());
        for p in paths {
            let mut skipped = Vec::new();
            reader.read_path(
                &p.display().to_string(),
                &mut |ev| u.add(&ev.json, ev.time_ns),
                &mut |s: Skip| skipped.push(s.to_string()),
            )?;
            u.skipped_count += skipped.len() as u64;
            for s in skipped {
                if u.skipped.len() < 100 {
                    u.skipped.push(s);
                }
            }
        }
        Ok(u)
    }
}
