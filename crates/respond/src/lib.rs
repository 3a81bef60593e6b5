//! Act on findings: outputs that never lose an alert.
//!
//! The store queues every new finding for each output that wants it (see
//! `tripline_store::outbox`); [`deliver`] takes queued findings to their [`sinks::Sink`]:
//! stdout, rotated JSON files, generic webhooks, Falcosidekick, Slack, Alertmanager and syslog,
//! with bodies in Falco's JSON, OCSF Detection Finding or Tripline's own format ([`render`]).
//!
//! ```
//! use tripline_respond::{config::OutputConfig, sinks};
//! let cfg = OutputConfig::from_flag("stdout").unwrap();
//! let sink = sinks::build(&cfg).unwrap();
//! # drop(sink);
//! ```

pub mod actions;
pub mod config;
pub mod deliver;
pub mod kubernetes;
pub mod render;
pub mod sinks;

/// Rule-name wildcard matching shared with the store's routes.
pub(crate) fn outbox_wildcard(pattern: &str, name: &str) -> bool {
    tripline_store::outbox::wildcard(pattern, name)
}
