//! Tripline's log sources: decoders and field tables for Kubernetes audit logs, AWS CloudTrail,
//! GCP audit logs, Okta and GitHub, plus the `syscall` field table.
//!
//! Each source is a [`JsonSource`]: a [`SourceSchema`] for the rule engine, and one extractor
//! per field reproducing the matching Falco plugin. [`input::Reader`] frames files into events.
//!
//! ```
//! use tripline_sources::{input::{Limits, Reader}, SourceKind};
//! let data = br#"{"kind":"Event","auditID":"1","verb":"get","stageTimestamp":"2024-01-01T00:00:00Z"}"#;
//! let mut reader = Reader::new(SourceKind::K8sAudit, Limits::default());
//! let mut events = Vec::new();
//! reader.read_stream("demo", Box::new(&data[..]), &mut |e| events.push(e), &mut |_| {})?;
//! assert_eq!(events.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod auditd;
pub mod cloudtrail;
mod descriptor;
pub mod gcp_audit;
pub mod github;
pub mod input;
mod json_event;
mod json_path;
pub mod k8s_audit;
pub mod okta;
pub mod syscall;

pub use descriptor::Descriptor;
pub use json_event::{parse_time, JsonEvent, JsonSource};
use tripline_event::SourceSchema;

/// The log sources Tripline decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// Kubernetes audit log.
    K8sAudit,
    /// AWS CloudTrail.
    CloudTrail,
    /// Google Cloud audit log.
    GcpAudit,
    /// Okta System Log.
    Okta,
    /// GitHub webhooks.
    Github,
}

impl SourceKind {
    /// Every log source.
    pub const ALL: [SourceKind; 5] = [
        SourceKind::K8sAudit,
        SourceKind::CloudTrail,
        SourceKind::GcpAudit,
        SourceKind::Okta,
        SourceKind::Github,
    ];

    /// Everything about this source, from its module.
    pub fn descriptor(self) -> &'static Descriptor {
        match self {
            SourceKind::K8sAudit => &k8s_audit::DESCRIPTOR,
            SourceKind::CloudTrail => &cloudtrail::DESCRIPTOR,
            SourceKind::GcpAudit => &gcp_audit::DESCRIPTOR,
            SourceKind::Okta => &okta::DESCRIPTOR,
            SourceKind::Github => &github::DESCRIPTOR,
        }
    }

    /// The Falco source name (`k8s_audit`, `aws_cloudtrail`, ...).
    pub fn name(self) -> &'static str {
        self.descriptor().name
    }

    /// Looks a source up by its Falco name.
    pub fn from_name(name: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The source definition.
    pub fn source(self) -> &'static JsonSource {
        (self.descriptor().source)()
    }

    /// Guesses the source from the first bytes of an input.
    pub fn detect(head: &[u8]) -> Option<SourceKind> {
        // CloudTrail first: its records also carry `eventType`, as Okta's do.
        const ORDER: [SourceKind; 5] = [
            SourceKind::CloudTrail,
            SourceKind::K8sAudit,
            SourceKind::GcpAudit,
            SourceKind::Okta,
            SourceKind::Github,
        ];
        ORDER.into_iter().find(|k| (k.descriptor().detect)(head))
    }
}

/// Schemas of every source the rule engine knows: the log sources and `syscall`.
pub fn schemas() -> Vec<SourceSchema> {
    let mut out: Vec<SourceSchema> = SourceKind::ALL
        .iter()
        .map(|k| k.source().schema.clone())
        .collect();
    out.push(syscall::schema().clone());
    out
}
