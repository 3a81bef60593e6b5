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
}
