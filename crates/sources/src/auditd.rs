//! Linux audit logs (`/var/log/audit/audit.log`): one JSON object per audit record, with the
//! normalisation Sigma's auditd rules expect.
//!
//! * `node=NAME` prefix → `node`; `type=T msg=audit(SECONDS:SERIAL):` → `type`, `msg`;
//! * the rest is `key=value`; double quotes are removed; words without `=` are skipped;
//! * user-space records carry more pairs inside `msg='...'`, which are parsed the same way;
//! * hex-encoded EXECVE arguments (`a0`, `a1`, ...), PROCTITLE `proctitle` and PATH `name` are
//!   decoded, NUL bytes turned into spaces, and trimmed.
//!
//! Records of one event share the serial in `msg`; [`serial`] reads it.

use serde_json::{Map, Value};

/// Parses one audit log line; `None` when it is not an audit record.
///
/// ```
/// let r = tripline_sources::auditd::parse_line(
///     r#"type=EXECVE msg=audit(1700000000.123:42): argc=2 a0="cat" a1=2F6574632F736861646F77"#,
/// ).unwrap();
/// assert_eq!(r["type"], "EXECVE");
/// assert_eq!(r["a1"], "/etc/shadow");
/// assert_eq!(tripline_sources::auditd::serial(&r), Some(42));
/// ```
pub fn parse_line(line: &str) -> Option<Map<String, Value>> {
    let mut rest = line.trim_end_matches(['\r', '\n']);
    let mut out = Map::new();
    if let Some(r) = rest.strip_prefix("node=") {
        let (node, after) = r.split_once(' ')?;
        out.insert("node".into(), node.into());
        rest = after;
    }
    let r = rest.strip_prefix("type=")?;
    let (ty, after) = r.split_once(' ')?;
    let after = after.strip_prefix("msg=")?;
    let end = after.find("):")?;
    let msg = &after[..end + 1];
    if !msg.starts_with("audit(") {
        return None;
    }
    out.insert("type".into(), ty.into());
    out.insert("msg".into(), msg.into());
    pairs(&after[end + 2..], ty, &mut out);
    Some(out)
}

/// The record's serial (`msg=audit(SECONDS:SERIAL)`), shared by the records of one event.
pub fn serial(record: &Map<String, Value>) -> Option<u64> {
    let msg = record.get("msg")?.as_str()?;
    msg.strip_suffix(')')?.rsplit(':').next()?.parse().ok()
}

/// The record's time in ns since the epoch.
pub fn time_ns(record: &Map<String, Value>) -> Option<u64> {
    let msg = record.get("msg")?.as_str()?;
    let inner = msg.strip_prefix("audit(")?.split(':').next()?;
    let (s, frac) = inner.split_once('.').unwrap_or((inner, "0"));
    let secs: u64 = s.parse().ok()?;
    let mut nanos: u64 = frac.parse().ok()?;
    for _ in frac.len()..9 {
        nanos *= 10;
    }
    Some(secs * 1_000_000_000 + nanos)
}

/// Most records kept for one event; a longer event is passed on in parts.
pub const MAX_RECORDS_PER_EVENT: usize = 1024;

/// Joins consecutive records that share a serial into one audit event (the kernel writes the
/// records of one event together and ends most with an `EOE` record).
///
/// ```
/// use tripline_sources::auditd::{parse_line, Assembler};
/// let mut asm = Assembler::default();
/// let mut events = Vec::new();
/// for line in [
///     "type=SYSCALL msg=audit(1.0:7): syscall=59 exe=\"/usr/bin/id\"",
///     "type=EXECVE msg=audit(1.0:7): argc=1 a0=\"id\"",
///     "type=EOE msg=audit(1.0:7): ",
///     "type=USER_LOGIN msg=audit(2.0:8): res=success",
/// ] {
///     events.extend(asm.push(parse_line(line).unwrap()));
/// }
/// events.extend(asm.finish());
/// assert_eq!(events.len(), 2);
/// assert_eq!(events[0].len(), 2); // EOE itself is not kept
/// ```
#[derive(Debug, Default)]
pub struct Assembler {
    current: Vec<Map<String, Value>>,
    serial: Option<u64>,
}

impl Assembler {
    /// Adds a record; returns the previous event when this record starts a new one.
    pub fn push(&mut self, record: Map<String, Value>) -> Option<Vec<Map<String, Value>>> {
        let serial = serial(&record);
        let eoe = record.get("type").and_then(Value::as_str) == Some("EOE");
        let mut done = None;
        if serial != self.serial || self.current.len() >= MAX_RECORDS_PER_EVENT {
            done = self.take();
            self.serial = serial;
        }
        if eoe {
            return done.or_else(|| self.take());
        }
        self.current.push(record);
        done
    }

    /// Whether no record is held (every record pushed so far left in an event).
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }

    /// The last event, if any.
    pub fn finish(&mut self) -> Option<Vec<Map<String, Value>>> {
        self.take()
    }

    fn take(&mut self) -> Option<Vec<Map<String, Value>>> {
        self.serial = None;
        (!self.current.is_empty()).then(|| std::mem::take(&mut self.current))
    }
}

fn pairs(text: &str, ty: &str, out: &mut Map<String, Value>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    let is_key = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    while i < bytes.len() {
        // A key is a run of [A-Za-z0-9_-] followed by '='; anything else is skipped
        // (words such as "user" or "PAM:", and punctuation such as the "(" in "(hostname=").
        if !is_key(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_key(bytes[i]) {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            continue;
        }
        let key = &text[start..i];
        i += 1;
        let (value, quoted) = match bytes.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let vstart = i + 1;
                let vend = text[vstart..]
                    .find(q as char)
                    .map_or(text.len(), |n| vstart + n);
                i = (vend + 1).min(text.len());
                (&text[vstart..vend], Some(q))
            }
            _ => {
                let vstart = i;
                while i < bytes.len() && bytes[i] != b' ' {
                    i += 1;
                }
                (&text[vstart..i], None)
            }
        };
        if key == "msg" && quoted == Some(b'\'') {
            pairs(value, ty, out);
            continue;
        }
        let decoded = if quoted.is_none() && is_hex_field(ty, key) {
            decode_hex(value)
        } else {
            None
        };
        out.insert(
            key.to_string(),
            Value::String(decoded.unwrap_or_else(|| value.to_string())),
        );
    }
}

fn is_hex_field(ty: &str, key: &str) -> bool {
    match ty {
        "EXECVE" => {
            key.len() > 1 && key.starts_with('a') && key[1..].bytes().all(|b| b.is_ascii_digit())
        }
        "PROCTITLE" => key == "proctitle",
        "PATH" => key == "name",
        _ => false,
    }
}

fn decode_hex(v: &str) -> Option<String> {
    if v.is_empty() || !v.len().is_multiple_of(2) || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> = (0..v.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&v[i..i + 2], 16).expect("checked hex"))
        .map(|b| if b == 0 { b' ' } else { b })
        .collect();
    Some(String::from_utf8_lossy(&bytes).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_space_records_and_node_prefix() {
        let r = parse_line("node=web1 type=USER_CMD msg=audit(1488862769.030:19469538): user pid=3027 uid=497 msg='cwd=\"/\" cmd=6C73 terminal=? res=success'").unwrap();
        assert_eq!(r["node"], "web1");
        assert_eq!(r["cwd"], "/");
        assert_eq!(r["cmd"], "6C73"); // only EXECVE/PROCTITLE/PATH values are decoded
        assert_eq!(r["res"], "success");
        assert_eq!(r["msg"], "audit(1488862769.030:19469538)");
        assert!(!r.contains_key("user"));
        assert_eq!(time_ns(&r), Some(1_488_862_769_030_000_000));
    }

    #[test]
    fn not_audit_lines() {
        assert!(parse_line("hello").is_none());
        assert!(parse_line("type=X msg=foo").is_none());
        assert!(parse_line("").is_none());
    }
}
