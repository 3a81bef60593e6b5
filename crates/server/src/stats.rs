//! What the running agent reports to the UI and `/metrics`.

use serde::Serialize;

/// Live counters of the agent, updated by the run loop and read by the server.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveStats {
    /// What runs: `sensor`, `replay`, `serve`.
    pub mode: String,
    /// Events seen.
    pub events: u64,
    /// Events per second over the last interval.
    pub events_per_sec: f64,
    /// Events lost in the kernel ring buffer or by the decoder.
    pub drops: u64,
    /// Alerts raised by the engines.
    pub alerts: u64,
    /// Syscalls the sensor enabled.
    pub syscalls: Vec<String>,
    /// Rules loaded.
    pub rules: u64,
    /// Live control-plane sources (`--source`).
    pub sources: Vec<SourceStats>,
}

/// What one live source did so far (`tripline run --source`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceStats {
    /// The `--source` argument.
    pub source: String,
    /// Records evaluated.
    pub events: u64,
    /// Batches whose findings were committed.
    pub batches: u64,
    /// Records refused as malformed.
    pub rejected: u64,
    /// Requests refused because the pipeline queue was full (429).
    pub refused_full: u64,
    /// Requests refused for a missing or wrong credential (401).
    pub unauthorized: u64,
    /// Read, decode or store errors.
    pub errors: u64,
    /// Age of the last committed batch when it was committed, seconds.
    pub lag_seconds: f64,
    /// Last committed position.
    pub checkpoint: Option<String>,
    /// Last error.
    pub last_error: Option<String>,
}
