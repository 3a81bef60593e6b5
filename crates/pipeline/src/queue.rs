//! The findings queue: a bounded hand-off from the event path to the act stage.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tripline_event::Finding;

/// The findings of one batch of a live source's records, committed as one: the act stage
/// stores them (never split across transactions) with `checkpoints`, then calls `done` (`Err`
/// when the store failed). This is how a webhook answers 200 only for committed findings and a
/// followed file resumes exactly where it was: a crash leaves either all of a batch's findings
/// and its position stored, or none.
pub struct Commit {
    /// The batch's findings.
    pub findings: Vec<Finding>,
    /// `(key, position)` pairs to save with the findings: where the source resumes, marks
    /// of what was done.
    pub checkpoints: Vec<(String, String)>,
    /// Called once the findings before this mark are stored (or could not be).
    pub done: Box<dyn FnOnce(Result<(), String>) + Send>,
}

impl std::fmt::Debug for Commit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Commit")
            .field("findings", &self.findings.len())
            .field("checkpoints", &self.checkpoints)
            .finish_non_exhaustive()
    }
}

/// What travels through the queue.
#[derive(Debug)]
enum Item {
    Finding(Finding),
    Commit(Commit),
}

/// Findings taken from the queue together, and the commit marks among them.
#[derive(Debug, Default)]
pub struct Batch {
    /// Findings, in queue order.
    pub findings: Vec<Finding>,
    /// Marks to acknowledge once `findings` are stored.
    pub commits: Vec<Commit>,
}

/// What a full queue does with one more finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Wait for room: replays of files, where waiting costs nothing and losing would.
    Block,
    /// Count it as held back and go on: the live agent, whose event path must never wait
    /// (a waiting ring-buffer drain turns into kernel drops).
    HoldBack,
}

/// Counters of a queue, shared by both ends.
#[derive(Debug, Default)]
pub struct QueueCounts {
    sent: AtomicU64,
    held_back: AtomicU64,
    /// Held back per rule, until the act stage records them (touched only when full).
    held_by_rule: Mutex<BTreeMap<String, u64>>,
}

impl QueueCounts {
    /// Findings handed to the act stage.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Findings not queued because the queue was full (reported like rate-limited ones).
    pub fn held_back(&self) -> u64 {
        self.held_back.load(Ordering::Relaxed)
    }

    /// Held-back findings per rule since the last call (for the store's suppressed counts).
    pub fn take_held_by_rule(&self) -> BTreeMap<String, u64> {
        match self.held_by_rule.lock() {
            Ok(mut m) => std::mem::take(&mut *m),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

/// The sending end, held by the event path. Cloning gives another sender of the same queue.
///
/// ```
/// use std::time::Duration;
/// use tripline_event::{Finding, Priority};
/// use tripline_pipeline::{FindingsQueue, Overflow};
///
/// let (queue, rx) = FindingsQueue::bounded(2, Overflow::HoldBack);
/// let f = Finding {
///     rule: "r".into(), priority: Priority::Warning, source: "syscall".into(), time_ns: 1,
///     message: "m".into(), output_fields: vec![], tags: vec![], hostname: "h".into(),
///     process: None,
/// };
/// for _ in 0..3 {
///     queue.send(f.clone());
/// }
/// assert_eq!((queue.counts().sent(), queue.counts().held_back()), (2, 1));
/// assert_eq!(queue.counts().take_held_by_rule()["r"], 1);
/// let batch = rx.next_batch(10, Duration::from_millis(5)).unwrap();
/// assert_eq!(batch.findings.len(), 2);
/// drop(queue);
/// assert!(rx.next_batch(10, Duration::from_millis(5)).is_none()); // closed and drained
/// ```
#[derive(Debug, Clone)]
pub struct FindingsQueue {
    tx: SyncSender<Item>,
    overflow: Overflow,
    counts: Arc<QueueCounts>,
}

impl FindingsQueue {
    /// A queue holding at most `capacity` findings, and its receiving end.
    pub fn bounded(capacity: usize, overflow: Overflow) -> (FindingsQueue, QueueReceiver) {
        let (tx, rx) = mpsc::sync_channel(capacity.max(1));
        let counts = Arc::new(QueueCounts::default());
        (
            FindingsQueue {
                tx,
                overflow,
                counts: counts.clone(),
            },
            QueueReceiver { rx, counts },
        )
    }

    /// Hands one finding on (or counts it held back, per [`Overflow`]). Returns whether it was
    /// queued; `false` also when the receiving end is gone.
    pub fn send(&self, f: Finding) -> bool {
        let sent = match self.overflow {
            Overflow::Block => self.tx.send(Item::Finding(f)).is_ok(),
            Overflow::HoldBack => match self.tx.try_send(Item::Finding(f)) {
                Ok(()) => true,
                Err(TrySendError::Full(item)) => {
                    self.counts.held_back.fetch_add(1, Ordering::Relaxed);
                    if let (Item::Finding(f), Ok(mut m)) = (item, self.counts.held_by_rule.lock()) {
                        *m.entry(f.rule).or_default() += 1;
                    }
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            },
        };
        if sent {
            self.counts.sent.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Queues a batch's findings to be stored together, waiting for room whatever the
    /// overflow policy (a commit is never held back). When the act stage is gone, `done` is
    /// called with an error at once.
    pub fn commit(&self, c: Commit) {
        if let Err(mpsc::SendError(Item::Commit(c))) = self.tx.send(Item::Commit(c)) {
            (c.done)(Err("the findings queue is closed".into()));
        }
    }

    /// The same queue with another overflow policy: live sources that acknowledge their
    /// senders wait for room ([`Overflow::Block`]), which pushes back on the sender, while
    /// the sensor's drain holds findings back.
    pub fn with_overflow(&self, overflow: Overflow) -> FindingsQueue {
        FindingsQueue {
            overflow,
            ..self.clone()
        }
    }

    /// The queue's counters.
    pub fn counts(&self) -> &QueueCounts {
        &self.counts
    }
}

/// The receiving end, held by the act thread.
#[derive(Debug)]
pub struct QueueReceiver {
    rx: Receiver<Item>,
    counts: Arc<QueueCounts>,
}

impl QueueReceiver {
    /// Waits for the next findings: returns as soon as `max` are there, or `linger` after the
    /// first one arrived, so a burst becomes one batch (one transaction) and a lone finding is
    /// not held longer than `linger`. A [`Commit`] joins the batch whole and ends it at once
    /// (its sender is waiting). `None` once every sender is gone and the queue is empty.
    pub fn next_batch(&self, max: usize, linger: Duration) -> Option<Batch> {
        let mut batch = Batch::default();
        let add = |batch: &mut Batch, item| match item {
            Item::Finding(f) => {
                batch.findings.push(f);
                true
            }
            Item::Commit(mut c) => {
                batch.findings.append(&mut c.findings);
                batch.commits.push(c);
                false
            }
        };
        if !add(&mut batch, self.rx.recv().ok()?) {
            return Some(batch);
        }
        let deadline = Instant::now() + linger;
        while batch.findings.len() < max {
            // Take what is already there without waiting.
            let item = match self.rx.try_recv() {
                Ok(item) => item,
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(mpsc::TryRecvError::Empty) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match self.rx.recv_timeout(left) {
                        Ok(item) => item,
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            if !add(&mut batch, item) {
                break;
            }
        }
        Some(batch)
    }

    /// The queue's counters.
    pub fn counts(&self) -> &QueueCounts {
        &self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tripline_event::Priority;

    fn finding(rule: &str) -> Finding {
        Finding {
            rule: rule.into(),
            priority: Priority::Notice,
            source: "k8s_audit".into(),
            time_ns: 1,
            message: "m".into(),
            output_fields: vec![],
            tags: vec![],
            hostname: "h".into(),
            process: None,
        }
    }

    #[test]
    fn a_commit_is_stored_whole_with_what_came_before_and_ends_the_batch() {
        let (queue, rx) = FindingsQueue::bounded(16, Overflow::Block);
        queue.send(finding("before"));
        let (tx, done) = mpsc::channel();
        queue.commit(Commit {
            findings: (0..5).map(|_| finding("batch")).collect(),
            checkpoints: vec![("src".into(), "42".into())],
            done: Box::new(move |r| tx.send(r).unwrap()),
        });
        queue.send(finding("after"));
        // Even with room for only two findings per batch, the commit is not split.
        let mut b = rx.next_batch(2, Duration::from_millis(50)).unwrap();
        assert_eq!(b.findings.len(), 6);
        assert_eq!(b.commits.len(), 1);
        let c = b.commits.pop().unwrap();
        assert_eq!(c.checkpoints, [("src".to_string(), "42".to_string())]);
        (c.done)(Ok(()));
        assert_eq!(done.recv().unwrap(), Ok(()));
        let b = rx.next_batch(2, Duration::from_millis(5)).unwrap();
        assert_eq!(b.findings[0].rule, "after");
        drop(queue);
        drop(rx);
    }
}
