//! Falco's priorities (syslog severities).

use std::fmt;
use std::str::FromStr;

/// Severity of a rule and its findings, most severe first.
///
/// ```
/// use tripline_event::Priority;
/// let p: Priority = "info".parse().unwrap();
/// assert_eq!(p, Priority::Informational);
/// assert!(Priority::Critical > Priority::Warning);
/// assert_eq!(p.to_string(), "Informational");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// Least severe.
    Debug,
    /// Informational.
    Informational,
    /// Notice.
    Notice,
    /// Warning.
    Warning,
    /// Error.
    Error,
    /// Critical.
    Critical,
    /// Alert.
    Alert,
    /// Most severe.
    Emergency,
}

impl Priority {
    /// All priorities, most severe first.
    pub const ALL: [Priority; 8] = [
        Priority::Emergency,
        Priority::Alert,
        Priority::Critical,
        Priority::Error,
        Priority::Warning,
        Priority::Notice,
        Priority::Informational,
        Priority::Debug,
    ];

    /// The capitalised name Falco prints.
    pub fn name(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }
}

impl FromStr for Priority {
    type Err = String;

    /// Case-insensitive; `info` is accepted for `informational`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Priority::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(&lower))
            .or(if lower == "info" {
                Some(Priority::Informational)
            } else {
                None
            })
            .ok_or_else(|| format!("unknown priority '{s}'"))
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
