//! Tripline's Sigma engine: runs SigmaHQ rules unchanged on Tripline's events.
//!
//! * [`load`] reads rule files (detection rules, meta filters, correlations), reporting every
//!   problem with file and line; rules compile once.
//! * [`SigmaRuleset`] routes each event to the rules whose `logsource` fits the event's stream
//!   (a rule's unset attributes are wildcards), evaluates them, and feeds matches to the
//!   correlation engine (sliding windows per group, bounded memory).
//! * [`event::SigmaEvent`] is how rules read events: dotted paths over JSON with arrays fanned
//!   out, and all values' text for keyword search.
//!
//! Semantics follow `data/sigma/SIGMA-SPEC.md` (Sigma v2.1 in our words, with the policies the
//! test fixtures use): case-insensitive whole-value matching unless wildcards or modifiers say
//! otherwise, `null` = absent or null, keywords = case-insensitive substrings of any value.
//!
//! ```
//! use tripline_sigma::{load, LoadOptions, LogSource, SigmaRuleset};
//! let rule = r#"
//! title: Curl to a raw IP
//! id: 11111111-2222-3333-4444-555555555555
//! logsource: {product: linux, category: process_creation}
//! detection:
//!   selection:
//!     Image|endswith: /curl
//!     CommandLine|re: 'https?://\d+\.\d+\.\d+\.\d+'
//!   condition: selection
//! level: medium
//! "#;
//! let mut set = SigmaRuleset::new(load(&[("curl.yml".into(), rule.into())], LoadOptions::default()));
//! let stream = LogSource::new(Some("process_creation"), Some("linux"), None);
//! let ev = serde_json::json!({"Image": "/usr/bin/curl", "CommandLine": "curl http://10.0.0.1/x"});
//! assert_eq!(set.ids_matching(&ev, &stream).len(), 1);
//! ```
#![warn(missing_docs)]

pub mod condition;
pub mod correlation;
pub mod detection;
pub mod event;
pub mod pattern;
pub mod pipeline;
pub mod rule;
pub mod ruleset;

pub use rule::{load, load_with, Documents, LoadError, LoadOptions, LogSource, SigmaRule};
pub use ruleset::{Hit, SigmaRuleset};
