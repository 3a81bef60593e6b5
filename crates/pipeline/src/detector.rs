//! The detector trait and the event families it is implemented for.

use tripline_event::Finding;

/// A family of events that share one shape. Its `Event` may borrow from the source's buffers
/// (a syscall event borrows the process table), hence the lifetime.
pub trait Events: 'static {
    /// The event type of this family.
    type Event<'a>: ?Sized;
}

/// Decoded log records: Kubernetes audit, CloudTrail, GCP audit, Okta, GitHub.
#[derive(Debug, Clone, Copy)]
pub enum Json {}

impl Events for Json {
    type Event<'a> = tripline_sources::JsonEvent;
}

/// Kernel events from the live sensor or a capture, with process and fd state.
#[derive(Debug, Clone, Copy)]
pub enum Syscall {}

impl Events for Syscall {
    type Event<'a> = tripline_syscall::SyscallEvent<'a>;
}

/// Linux audit records (one Sigma event per record, with its event's context).
#[derive(Debug, Clone, Copy)]
pub enum Audit {}

impl Events for Audit {
    type Event<'a> = AuditRecord<'a>;
}

/// One record of a Linux audit event and what its event says about it.
#[derive(Debug)]
pub struct AuditRecord<'a> {
    /// The record's key-value pairs (`type`, `msg`, `exe`, ...).
    pub record: &'a serde_json::Value,
    /// Record time, ns since the epoch.
    pub time_ns: u64,
    /// Fields added to every finding: the event's serial, record types, who ran what.
    pub context: &'a [(String, serde_json::Value)],
}

/// Something that turns events into findings: a Falco ruleset, a Sigma ruleset, an anomaly
/// scorer. `evaluate` sees every event of its family in order; `flush` runs once at the end of
/// the input (correlation windows, pending sequences).
///
/// ```
/// use tripline_event::{Finding, Priority};
/// use tripline_pipeline::{Detector, Json, Pipeline};
///
/// /// Flags every record whose `verb` is `delete`.
/// struct Deletes;
/// impl Detector<Json> for Deletes {
///     fn name(&self) -> &str { "deletes" }
///     fn evaluate(&mut self, ev: &tripline_sources::JsonEvent, emit: &mut dyn FnMut(Finding)) {
///         if ev.json["verb"] == "delete" {
///             emit(Finding {
///                 rule: "delete seen".into(),
///                 priority: Priority::Notice,
///                 source: "k8s_audit".into(),
///                 time_ns: ev.time_ns,
///                 message: "a delete".into(),
///                 output_fields: vec![],
///                 tags: vec![],
///                 hostname: "h".into(),
///                 process: None,
///             });
///         }
///     }
/// }
/// let pipeline: Pipeline<Json> = Pipeline::new(vec![Box::new(Deletes)]);
/// assert_eq!(pipeline.detector_names(), vec!["deletes"]);
/// ```
pub trait Detector<K: Events>: Send {
    /// Short name for summaries (`falco`, `sigma`, `anomaly`).
    fn name(&self) -> &str;
    /// Evaluates one event; calls `emit` for each finding.
    fn evaluate(&mut self, event: &K::Event<'_>, emit: &mut dyn FnMut(Finding));
    /// The input ended: emits what is still pending.
    fn flush(&mut self, _emit: &mut dyn FnMut(Finding)) {}
    /// Matches lost at the detector's own memory bounds (Sigma correlation groups past their
    /// limit): counted, never silent.
    fn dropped(&self) -> u64 {
        0
    }
}
