//! The delivery loop: take due rows from the outbox, hand them to the sink, mark them delivered,
//! or schedule a retry with exponential backoff. A finding is marked only after its sink
//! accepted it, so a crash or `kill -9` mid-delivery sends it again on restart (at least once).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tripline_store::{now_ns, Store, StoreError};

use crate::sinks::Sink;

/// Retry delay after `attempts` failures: 1 s, 2 s, 4 s ... capped at `max`.
pub fn backoff(attempts: i64, max: Duration) -> Duration {
    let secs = 1u64 << attempts.clamp(0, 20);
    Duration::from_secs(secs).min(max)
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Findings accepted by the sink.
    pub delivered: usize,
    /// A failure stopped the pass (the output is down).
    pub failed: bool,
}

/// Delivers what is due for `output`, in order, up to `batch` findings. On the first failure
/// the failed row is scheduled for a retry and the pass stops, so an output that is down is not
/// hammered and keeps its order.
pub fn deliver_due(
    store: &mut Store,
    output: &str,
    sink: &mut dyn Sink,
    batch: i64,
    max_backoff: Duration,
) -> Result<Pass, StoreError> {
    let now = now_ns();
    let due = store.outbox_due(output, now, batch)?;
    if due.is_empty() {
        return Ok(Pass::default());
    }
    if sink.batched() {
        let findings: Vec<_> = due.iter().map(|p| p.finding.clone()).collect();
        if sink.deliver(&findings).is_ok() {
            let ids: Vec<i64> = due.iter().map(|p| p.id).collect();
            store.outbox_delivered(&ids, now_ns())?;
            return Ok(Pass {
                delivered: ids.len(),
                failed: false,
            });
        }
        // Fall through: one by one finds how far it got.
    }
    let mut delivered = 0;
    for p in &due {
        match sink.deliver(std::slice::from_ref(&p.finding)) {
            Ok(()) => {
                store.outbox_delivered(&[p.id], now_ns())?;
                delivered += 1;
            }
            Err(e) => {
                let wait = backoff(p.attempts, max_backoff);
                store.outbox_failed(p.id, &e, now_ns() + wait.as_nanos() as i64)?;
                return Ok(Pass {
                    delivered,
                    failed: true,
                });
            }
        }
    }
    Ok(Pass {
        delivered,
        failed: false,
    })
}

/// Runs delivery for one output until `stop` is set: polls every `poll` when idle, backs off
/// while the output is down. Store errors are reported to `on_error` and retried.
pub fn run(
    mut store: Store,
    output: String,
    mut sink: Box<dyn Sink>,
    poll: Duration,
    max_backoff: Duration,
    stop: Arc<AtomicBool>,
    on_error: &mut dyn FnMut(&str),
) {
    let mut failures = 0i64;
    while !stop.load(Ordering::Relaxed) {
        match deliver_due(&mut store, &output, sink.as_mut(), 100, max_backoff) {
            Ok(pass) if pass.failed => {
                failures += 1;
                sleep_unless_stopped(backoff(failures - 1, max_backoff), &stop);
            }
            Ok(pass) if pass.delivered > 0 => failures = 0,
            Ok(_) => {
                failures = 0;
                sleep_unless_stopped(poll, &stop);
            }
            Err(e) => {
                on_error(&format!("output {output}: store: {e}"));
                sleep_unless_stopped(Duration::from_secs(1), &stop);
            }
        }
    }
    // A last pass so findings stored just before shutdown go out now, not at the next start.
    let _ = deliver_due(&mut store, &output, sink.as_mut(), 1000, max_backoff);
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let max = Duration::from_secs(60);
        assert_eq!(backoff(0, max), Duration::from_secs(1));
        assert_eq!(backoff(3, max), Duration::from_secs(8));
        assert_eq!(backoff(40, max), max);
    }
}
