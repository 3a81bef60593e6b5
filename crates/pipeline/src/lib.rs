//! The one detection pipeline: every way in (a replayed file, a capture, the live sensor, later a
//! webhook or a bus subject) is a *source* of events; a [`Pipeline`] runs each event through its
//! [`Detector`]s (Falco rules, Sigma rules, the anomaly scorer: one trait), counts alerts per rule
//! once, and hands the [`Finding`](tripline_event::Finding)s on. Findings leave the event path
//! through a bounded [`FindingsQueue`], so the thread that drains a kernel ring buffer never waits
//! on a database or a network.
//!
//! ```text
//! source ──▶ Pipeline ──▶ detectors ──▶ findings ──▶ FindingsQueue ──▶ act thread (store, outputs)
//! ```
//!
//! Events come in families ([`Events`]): [`Json`] for decoded log records, [`Syscall`] for kernel
//! events from the sensor or a capture, [`Audit`] for Linux audit records. A detector implements
//! [`Detector`] for the families it understands; a new rule language is one `impl`.
//!
//! ```
//! use tripline_pipeline::{Detector, FalcoDetector, Json, Pipeline};
//! use tripline_rules::falco::{load, RulesFile};
//! use tripline_rules::RuleMatching;
//! use tripline_sources::input::{Limits, Reader};
//! use tripline_sources::SourceKind;
//!
//! let rules = RulesFile {
//!     name: "r.yaml".into(),
//!     content: "- rule: secret read\n  desc: d\n  condition: ka.verb=get and ka.target.resource=secrets\n  output: '%ka.user.name'\n  priority: WARNING\n  source: k8s_audit\n".into(),
//! };
//! let (rules, report) = load(&[rules], &tripline_sources::schemas());
//! assert!(report.errors.is_empty());
//! let mut pipeline: Pipeline<Json> = Pipeline::new(vec![Box::new(FalcoDetector::new(
//!     std::sync::Arc::new(rules),
//!     RuleMatching::First,
//!     "node-1",
//! ))]);
//! let line = br#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/secrets/s","verb":"get","user":{"username":"alice"},"objectRef":{"resource":"secrets","namespace":"default","name":"s"},"requestReceivedTimestamp":"2026-01-01T00:00:00.000000Z","stageTimestamp":"2026-01-01T00:00:00.000000Z"}"#;
//! let mut found = Vec::new();
//! Reader::new(SourceKind::K8sAudit, Limits::default()).read_stream(
//!     "audit.log",
//!     Box::new(&line[..]),
//!     &mut |ev| pipeline.process(&ev, &mut |f| found.push(f)),
//!     &mut |_| {},
//! )?;
//! assert_eq!(found.len(), 1);
//! assert_eq!(pipeline.alerts_by_rule()["secret read"], 1);
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod detector;
mod falco;
mod pipeline;
mod queue;
mod sigma;
pub mod sysmon;

pub use detector::{Audit, AuditRecord, Detector, Events, Json, Syscall};
pub use falco::FalcoDetector;
pub use pipeline::Pipeline;
pub use queue::{Batch, Commit, FindingsQueue, Overflow, QueueCounts, QueueReceiver};
pub use sigma::SigmaDetector;
