//! What Tripline knows about a log source, kept in the source's own module.

use crate::JsonSource;

/// One log source, as the rest of Tripline sees it: its Falco name, fields, how an input is
/// recognised, where Sigma rules for it are routed, and the upstream rules shipped for it.
/// Each source module defines its `DESCRIPTOR`; [`SourceKind`](crate::SourceKind) reads every
/// property from there, so adding a source is one module plus one line in its list.
///
/// ```
/// let d = tripline_sources::SourceKind::CloudTrail.descriptor();
/// assert_eq!(d.name, "aws_cloudtrail");
/// assert_eq!(d.sigma, (None, Some("aws"), Some("cloudtrail")));
/// assert!((d.detect)(br#"{"Records":[{"eventVersion":"1.08"}]}"#));
/// assert_eq!(d.rules[0].0, "aws_cloudtrail_rules.yaml");
/// ```
#[derive(Debug)]
pub struct Descriptor {
    /// The Falco source name (`k8s_audit`, `aws_cloudtrail`, ...).
    pub name: &'static str,
    /// Field table and extractors (Falco's plugin fields).
    pub source: fn() -> &'static JsonSource,
    /// Whether the first bytes of an input look like this source (`--source auto`).
    pub detect: fn(&[u8]) -> bool,
    /// The Sigma log source its events are routed to: category, product, service.
    pub sigma: (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    ),
    /// The upstream Falco rules files shipped for it: file name and text, in load order.
    pub rules: &'static [(&'static str, &'static str)],
}

/// Whether `needle` occurs in `head`.
pub(crate) fn has(head: &[u8], needle: &str) -> bool {
    memchr::memmem::find(head, needle.as_bytes()).is_some()
}
