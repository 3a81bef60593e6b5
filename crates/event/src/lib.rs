//! Tripline's event model.
//!
//! Every input, whether a Kubernetes audit record, a CloudTrail record or a kernel event, becomes
//! an [`Event`]: it names its source, carries a timestamp, and yields typed [`Value`]s for fields
//! read by name. Names are resolved once, at rule-load time, against the source's [`FieldTable`]
//! into a [`FieldRef`]; the per-event path only calls [`Event::extract`] with that reference.
//!
//! Rules turn matching events into [`Finding`]s, the one output type every sink renders.
//!
//! ```
//! use tripline_event::{FieldArg, FieldDef, FieldTable, FieldType, Value};
//!
//! let table = FieldTable::new(vec![FieldDef::new("ka.verb", FieldType::String, "verb")]);
//! let verb = table.bind("ka.verb", FieldArg::None).unwrap();
//! assert_eq!(verb.ty, FieldType::String);
//! assert_eq!(Value::from("get").to_text(), "get");
//! ```
#![warn(missing_docs)]

mod duration;
mod field;
mod finding;
mod priority;
mod source;
mod value;

pub use duration::parse_duration_ns;
pub use field::{ArgSpec, BindError, FieldArg, FieldDef, FieldRef, FieldTable};
pub use finding::{format_clock, format_iso8601, format_rfc3339, Finding, ProcessKey};
pub use priority::Priority;
pub use source::{parse_semver, SourceSchema};
pub use value::{FieldType, Value};

/// One thing that happened, as seen by the rule engines.
///
/// Implementations borrow from their decoded form: `extract` should not copy strings that
/// already live in the event.
pub trait Event {
    /// The event source this event belongs to (`k8s_audit`, `aws_cloudtrail`, `syscall`, ...).
    fn source(&self) -> &str;
    /// Event time in nanoseconds since the Unix epoch.
    fn time_ns(&self) -> u64;
    /// The event-type name used for rule indexing (`execve`, `open`, ...). Plugin sources have
    /// one event type and return `None`.
    fn event_type(&self) -> Option<&str> {
        None
    }
    /// Reads one field. `None` means the field has no value for this event (absent), which is
    /// different from an empty string or an empty list.
    fn extract(&self, field: &FieldRef) -> Option<Value<'_>>;
}
