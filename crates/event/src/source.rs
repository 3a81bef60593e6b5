//! What a source declares to the rule engines: its name, its fields, and which Falco plugins
//! it stands in for.

use crate::field::FieldTable;

/// The static description of an event source.
///
/// ```
/// use tripline_event::{FieldTable, SourceSchema};
/// let s = SourceSchema::new("k8s_audit", FieldTable::default())
///     .with_plugin("k8saudit", "0.18.0");
/// assert!(s.provides_plugin("k8saudit", "0.17.0"));
/// assert!(!s.provides_plugin("k8saudit", "0.19.0"));
/// assert!(!s.provides_plugin("k8saudit", "1.0.0"));
/// ```
#[derive(Debug, Clone)]
pub struct SourceSchema {
    /// Source name as rules write it (`source: k8s_audit`).
    pub name: String,
    /// Every field rules of this source may use.
    pub fields: FieldTable,
    /// Falco plugins (name, semver) whose fields this source implements, for
    /// `required_plugin_versions`.
    pub plugins: Vec<(String, String)>,
    /// Rules are indexed by event type (syscalls); plugin sources have a single event type.
    pub indexed_by_event_type: bool,
}

impl SourceSchema {
    /// A source with one event type and no plugin equivalents.
    pub fn new(name: &str, fields: FieldTable) -> SourceSchema {
        SourceSchema {
            name: name.to_string(),
            fields,
            plugins: Vec::new(),
            indexed_by_event_type: false,
        }
    }

    /// Declares that this source provides the fields of Falco plugin `name` at `version`.
    pub fn with_plugin(mut self, name: &str, version: &str) -> SourceSchema {
        self.plugins.push((name.to_string(), version.to_string()));
        self
    }

    /// Whether a rules file asking for plugin `name` >= `version` is satisfied (same major).
    pub fn provides_plugin(&self, name: &str, version: &str) -> bool {
        self.plugins.iter().any(|(n, v)| {
            n == name
                && match (parse_semver(v), parse_semver(version)) {
                    (Some(have), Some(want)) => have.0 == want.0 && have >= want,
                    _ => false,
                }
        })
    }
}

/// Parses `x.y.z` (a bare integer `N` means `0.N.0`, as Falco reads engine versions).
pub fn parse_semver(text: &str) -> Option<(u64, u64, u64)> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u64>() {
        return Some((0, n, 0));
    }
    let mut parts = text.split('.');
    let v = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    parts.next().is_none().then_some(v)
}
