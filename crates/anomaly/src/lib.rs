//! Learned behaviour: baselines of what each identity and workload normally does, anomaly
//! scores that explain themselves, and their measured quality on labelled attacks.
//!
//! - [`features`]: one [`Observation`] per event (CloudTrail, Kubernetes audit, live sensor),
//!   with the categorical features learned about its entity;
//! - [`baseline`]: per-entity history and peer groups, learned as a stream, saved in SQLite;
//! - [`score`]: novelty and rarity against the entity and its peers, volume and refusal
//!   bursts, combined, with the numbers behind each part;
//! - [`eval`]: precision, recall, false-positive rate, per-technique recall, PR curve.
//!
//! ```
//! use tripline_anomaly::{features::from_cloudtrail, Baseline, Scorer};
//! let rec = |name: &str| serde_json::json!({"eventSource": "iam.amazonaws.com", "eventName": name,
//!     "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/ci"}});
//! let mut b = Baseline::default();
//! for _ in 0..100 { b.learn(&from_cloudtrail(&rec("GetRole"), 0).unwrap()); }
//! let s = Scorer::new(&b).score(&from_cloudtrail(&rec("CreateAccessKey"), 0).unwrap());
//! assert!(s.total > 0.6);
//! ```
#![warn(missing_docs)]

pub mod baseline;
pub mod eval;
pub mod features;
pub mod input;
pub mod score;

pub use baseline::{Baseline, BaselineError};
pub use features::{Feature, Observation};
pub use score::{Score, Scorer};
