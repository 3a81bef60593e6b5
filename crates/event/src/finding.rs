//! Findings: what every engine produces and every sink renders.

use crate::priority::Priority;

/// A rule match (or, later, a drift, policy or identity result).
///
/// ```
/// use tripline_event::{Finding, Priority};
/// let f = Finding {
///     rule: "K8s Secret Deleted".into(),
///     priority: Priority::Informational,
///     source: "k8s_audit".into(),
///     time_ns: 1_470_327_477_881_781_397,
///     message: "K8s Secret Deleted (user=alice)".into(),
///     output_fields: vec![("ka.user.name".into(), "alice".into())],
///     tags: vec!["k8s".into()],
///     hostname: "node-1".into(),
///     process: None,
/// };
/// assert_eq!(f.rfc3339_time(), "2016-08-04T16:17:57.881781397Z");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Rule (or check) name.
    pub rule: String,
    /// Severity.
    pub priority: Priority,
    /// Event source that produced it.
    pub source: String,
    /// Event time, ns since the epoch.
    pub time_ns: u64,
    /// The rendered output template (without time and priority prefix).
    pub message: String,
    /// Every field of the output template with its typed value (`null` when absent).
    pub output_fields: Vec<(String, serde_json::Value)>,
    /// Rule tags, sorted.
    pub tags: Vec<String>,
    /// Host that saw the event.
    pub hostname: String,
    /// The process the event came from, when it came from one (syscall events): what an
    /// action that signals it must find still running, so a reused pid is never hit.
    pub process: Option<ProcessKey>,
}

/// A process that cannot be confused with a later one of the same pid: its pid and its start
/// time (Tetragon's exec id, Falco's `proc.pid` with `proc.pid.ts`).
///
/// ```
/// use tripline_event::ProcessKey;
/// let k = ProcessKey { pid: 4242, start_ns: 1_700_000_000_000_000_000 };
/// assert_eq!(k.to_string(), "4242@1700000000000000000");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcessKey {
    /// Process id (host pid namespace).
    pub pid: u32,
    /// Start time, ns since the epoch (`proc.pid.ts`).
    pub start_ns: u64,
}

impl std::fmt::Display for ProcessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.pid, self.start_ns)
    }
}

impl Finding {
    /// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, as in Falco's JSON `time`.
    pub fn rfc3339_time(&self) -> String {
        format_rfc3339(self.time_ns)
    }

    /// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000`, Falco's `time_format_iso_8601` text prefix.
    pub fn iso8601_time(&self) -> String {
        format_iso8601(self.time_ns)
    }

    /// `HH:MM:SS.nnnnnnnnn` (UTC), Falco's default `%evt.time` text prefix.
    pub fn clock_time(&self) -> String {
        format_clock(self.time_ns)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` for ns since the epoch (UTC).
pub fn format_rfc3339(ns: u64) -> String {
    let (date, secs_of_day, nanos) = split_time(ns);
    format!(
        "{date}T{:02}:{:02}:{:02}.{nanos:09}Z",
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60
    )
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000` for ns since the epoch (UTC).
pub fn format_iso8601(ns: u64) -> String {
    let t = format_rfc3339(ns);
    format!("{}+0000", &t[..t.len() - 1])
}

/// `HH:MM:SS.nnnnnnnnn` for ns since the epoch (UTC).
pub fn format_clock(ns: u64) -> String {
    let (_, secs_of_day, nanos) = split_time(ns);
    format!(
        "{:02}:{:02}:{:02}.{nanos:09}",
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60
    )
}

/// Splits epoch ns into a civil date string, seconds of day and nanoseconds (UTC).
fn split_time(ns: u64) -> (String, u64, u64) {
    let secs = ns / 1_000_000_000;
    let nanos = ns % 1_000_000_000;
    let days = (secs / 86_400) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (format!("{y:04}-{m:02}-{d:02}"), secs % 86_400, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_renders() {
        let f = Finding {
            rule: String::new(),
            priority: Priority::Debug,
            source: String::new(),
            time_ns: 0,
            message: String::new(),
            output_fields: vec![],
            tags: vec![],
            hostname: String::new(),
            process: None,
        };
        assert_eq!(f.rfc3339_time(), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(f.iso8601_time(), "1970-01-01T00:00:00.000000000+0000");
        assert_eq!(f.clock_time(), "00:00:00.000000000");
    }
}
