//! The pipeline: one loop body for every source.

use std::collections::BTreeMap;

use tripline_event::Finding;

use crate::detector::{Detector, Events};

/// Runs each event of one family through every detector, in order, and counts findings per
/// rule. Findings go to the caller's `emit` (usually a [`FindingsQueue`](crate::FindingsQueue)
/// sender plus a printer); the pipeline itself never blocks.
pub struct Pipeline<K: Events> {
    detectors: Vec<Box<dyn Detector<K>>>,
    events: u64,
    alerts_by_rule: BTreeMap<String, u64>,
}

impl<K: Events> std::fmt::Debug for Pipeline<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("detectors", &self.detector_names())
            .field("events", &self.events)
            .finish()
    }
}

impl<K: Events> Pipeline<K> {
    /// A pipeline over `detectors`, evaluated in this order for each event.
    pub fn new(detectors: Vec<Box<dyn Detector<K>>>) -> Pipeline<K> {
        Pipeline {
            detectors,
            events: 0,
            alerts_by_rule: BTreeMap::new(),
        }
    }

    /// Adds a detector after the others.
    pub fn push(&mut self, detector: Box<dyn Detector<K>>) {
        self.detectors.push(detector);
    }

    /// Names of the detectors, in order.
    pub fn detector_names(&self) -> Vec<&str> {
        self.detectors.iter().map(|d| d.name()).collect()
    }

    /// Evaluates one event with every detector.
    pub fn process(&mut self, event: &K::Event<'_>, emit: &mut dyn FnMut(Finding)) {
        self.events += 1;
        let counts = &mut self.alerts_by_rule;
        for d in &mut self.detectors {
            d.evaluate(event, &mut |f| {
                count(counts, &f.rule);
                emit(f)
            });
        }
    }

    /// Counts a finding made outside the detectors (the sensor's drop alert) like theirs.
    pub fn count_external(&mut self, f: &Finding) {
        count(&mut self.alerts_by_rule, &f.rule);
    }

    /// The input ended: every detector emits what it still holds.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Finding)) {
        let counts = &mut self.alerts_by_rule;
        for d in &mut self.detectors {
            d.flush(&mut |f| {
                count(counts, &f.rule);
                emit(f)
            });
        }
    }

    /// Events processed.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Findings per rule so far.
    pub fn alerts_by_rule(&self) -> &BTreeMap<String, u64> {
        &self.alerts_by_rule
    }

    /// Findings so far.
    pub fn alerts(&self) -> u64 {
        self.alerts_by_rule.values().sum()
    }

    /// Matches the detectors lost at their own memory bounds.
    pub fn dropped(&self) -> u64 {
        self.detectors.iter().map(|d| d.dropped()).sum()
    }
}

fn count(counts: &mut BTreeMap<String, u64>, rule: &str) {
    // Most findings repeat a rule already counted: look up before allocating the key.
    if let Some(n) = counts.get_mut(rule) {
        *n += 1;
    } else {
        counts.insert(rule.to_string(), 1);
    }
}
