//! Live control-plane sources for the agent (`tripline run --source KIND=WHERE`).
//!
//! A live source turns what arrives (a webhook POST, new lines of a followed file) into
//! [`Delivery`] batches and hands them to the agent through an [`Outlet`]. The agent runs each
//! batch through the detection pipeline, stores its findings, and only then calls the
//! batch's acknowledgement: a webhook answers 200 for committed findings only, and a followed
//! file's position is saved in the same transaction as the findings of the lines before it.
//!
//! ```
//! use tripline_live::Spec;
//! let spec: Spec = "k8s-audit=webhook".parse().unwrap();
//! assert_eq!(spec.kind.rules_source(), "k8s_audit");
//! assert!(matches!(spec.at, tripline_live::At::Webhook));
//! ```

pub mod aws;
mod delivery;
pub mod follow;
pub mod github;
pub mod okta;
mod spec;
pub mod webhook;

pub use delivery::{AuditEvent, Counters, Delivery, Done, Outlet, Records, SourceStatus};
pub use spec::{At, Kind, Spec, SpecError};

/// Nanoseconds since the epoch, now.
pub(crate) fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
