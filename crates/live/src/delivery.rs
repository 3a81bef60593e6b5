//! What a live source hands to the agent, and the counters it keeps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tripline_sources::JsonEvent;

/// One Linux audit event: the records sharing one serial.
pub type AuditEvent = Vec<Map<String, Value>>;

/// Called once the findings of a delivery are stored (`Err` says why they could not be).
pub type Done = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Decoded records of one delivery.
#[derive(Debug)]
pub enum Records {
    /// JSON log records.
    Json(Vec<JsonEvent>),
    /// Linux audit events.
    Audit(Vec<AuditEvent>),
}

impl Records {
    /// Records (audit: records of every event).
    pub fn len(&self) -> usize {
        match self {
            Records::Json(v) => v.len(),
            Records::Audit(v) => v.iter().map(Vec::len).sum(),
        }
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A batch of records and what to do once their findings are stored.
pub struct Delivery {
    /// The records, in order.
    pub records: Records,
    /// The source's position after these records, saved with their findings.
    pub checkpoint: Option<String>,
    /// Marks saved with the findings (objects of a queue message, by
    /// [`object_mark`](crate::aws::object_mark)), so records delivered again are known.
    pub marks: Vec<String>,
    /// Acknowledges the sender.
    pub done: Option<Done>,
    /// When the batch arrived (ns since the epoch), for lag.
    pub received_ns: u64,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("records", &self.records.len())
            .field("checkpoint", &self.checkpoint)
            .finish_non_exhaustive()
    }
}

/// Counters of one live source, shared by the source, the agent's worker and the status page.
#[derive(Debug, Default)]
pub struct Counters {
    /// Records evaluated.
    pub events: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Records refused as not being the source's format (webhook 400, skipped lines).
    pub rejected: AtomicU64,
    /// Requests refused because the pipeline queue was full (webhook 429).
    pub refused_full: AtomicU64,
    /// Requests refused for a missing or wrong client credential or signature (401).
    pub unauthorized: AtomicU64,
    /// Read, decode or store errors.
    pub errors: AtomicU64,
    /// Age (ns) of the last batch when its findings were committed.
    pub lag_ns: AtomicU64,
    /// The last committed position, and the last error.
    text: Mutex<(Option<String>, Option<String>)>,
}

impl Counters {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a committed position.
    pub fn set_checkpoint(&self, position: &str) {
        if let Ok(mut t) = self.text.lock() {
            t.0 = Some(position.to_string());
        }
    }

    /// Records an error (counted; the last one is shown).
    pub fn error(&self, e: impl Into<String>) {
        Counters::bump(&self.errors);
        if let Ok(mut t) = self.text.lock() {
            t.1 = Some(e.into());
        }
    }

    /// A snapshot for the status page and `/metrics`.
    pub fn status(&self, source: &str) -> SourceStatus {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (checkpoint, last_error) = self.text.lock().map(|t| t.clone()).unwrap_or_default();
        SourceStatus {
            source: source.to_string(),
            events: get(&self.events),
            batches: get(&self.batches),
            rejected: get(&self.rejected),
            refused_full: get(&self.refused_full),
            unauthorized: get(&self.unauthorized),
            errors: get(&self.errors),
            lag_seconds: get(&self.lag_ns) as f64 / 1e9,
            checkpoint,
            last_error,
        }
    }
}

/// What a live source did so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceStatus {
    /// The `--source` argument.
    pub source: String,
    /// Records evaluated.
    pub events: u64,
    /// Batches committed.
    pub batches: u64,
    /// Records refused as malformed.
    pub rejected: u64,
    /// Requests refused with 429 (queue full).
    pub refused_full: u64,
    /// Requests refused with 401.
    pub unauthorized: u64,
    /// Errors.
    pub errors: u64,
    /// Age of the last committed batch when it was committed, seconds.
    pub lag_seconds: f64,
    /// Last committed position.
    pub checkpoint: Option<String>,
    /// Last error.
    pub last_error: Option<String>,
}

/// The sending end a live source holds: a bounded queue of deliveries to the agent's worker
/// for this source.
///
/// ```
/// use tripline_live::{Delivery, Outlet, Records};
/// let (outlet, rx) = Outlet::bounded(1);
/// let batch = || Delivery {
///     records: Records::Json(vec![]), checkpoint: None, marks: vec![], done: None, received_ns: 0,
/// };
/// assert!(outlet.try_deliver(batch()).is_ok());
/// assert!(outlet.try_deliver(batch()).is_err()); // full: a webhook answers 429
/// assert_eq!(rx.recv().unwrap().records.len(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct Outlet {
    tx: SyncSender<Delivery>,
    /// This source's counters.
    pub counters: Arc<Counters>,
}

impl Outlet {
    /// An outlet holding at most `capacity` batches, and the worker's receiving end.
    pub fn bounded(capacity: usize) -> (Outlet, Receiver<Delivery>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity.max(1));
        (
            Outlet {
                tx,
                counters: Arc::default(),
            },
            rx,
        )
    }

    /// Hands a batch on if there is room; gives it back when the queue is full or the agent
    /// is stopping.
    #[allow(clippy::result_large_err)]
    pub fn try_deliver(&self, d: Delivery) -> Result<(), Delivery> {
        self.tx.try_send(d).map_err(|e| match e {
            TrySendError::Full(d) | TrySendError::Disconnected(d) => d,
        })
    }

    /// Hands a batch on, waiting for room (pull sources: waiting is their backpressure).
    /// `false` when the agent is stopping.
    pub fn deliver(&self, d: Delivery) -> bool {
        self.tx.send(d).is_ok()
    }
}
