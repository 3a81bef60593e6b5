//! Per-rule rate limits: a token bucket per rule, refilled on event time, so a replay of a day of
//! logs is limited exactly as the live day was.

use std::collections::HashMap;

/// A token bucket per rule.
///
/// ```
/// use tripline_store::limits::RateLimiter;
/// let mut l = RateLimiter::new(60, 2); // 60 per minute, bursts of 2
/// assert!(l.allow("r", 0));
/// assert!(l.allow("r", 0));
/// assert!(!l.allow("r", 0));
/// assert!(l.allow("r", 1_000_000_000)); // one second later: one more token
/// ```
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    burst: u32,
    buckets: HashMap<String, (f64, i64)>,
}

impl RateLimiter {
    /// `per_minute` new findings per rule on average, `burst` at once; 0 per minute is no limit.
    pub fn new(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            burst: burst.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Whether `rule` may emit a new finding at `time_ns`; takes a token if so.
    pub fn allow(&mut self, rule: &str, time_ns: i64) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let burst = f64::from(self.burst);
        let rate_per_ns = f64::from(self.per_minute) / 60e9;
        let (tokens, last) = self
            .buckets
            .entry(rule.to_string())
            .or_insert((burst, time_ns));
        // Events from a replay can arrive slightly out of order: never refill backwards.
        let elapsed = (time_ns - *last).max(0) as f64;
        *tokens = (*tokens + elapsed * rate_per_ns).min(burst);
        *last = (*last).max(time_ns);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
