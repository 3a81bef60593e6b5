//! Falco rulesets as a detector.

use std::sync::Arc;

use tripline_event::Finding;
use tripline_rules::{RuleMatching, Ruleset};

use crate::detector::{Detector, Events, Json, Syscall};

/// A compiled Falco ruleset: every event meets the rules indexed for its source and type.
///
/// The ruleset is shared (`Arc`), so several pipelines (one per worker or per source) evaluate
/// the same compiled rules.
#[derive(Debug, Clone)]
pub struct FalcoDetector {
    rules: Arc<Ruleset>,
    matching: RuleMatching,
    hostname: String,
}

impl FalcoDetector {
    /// Evaluates `rules` with Falco's `rule_matching` and names `hostname` in findings.
    pub fn new(rules: Arc<Ruleset>, matching: RuleMatching, hostname: &str) -> FalcoDetector {
        FalcoDetector {
            rules,
            matching,
            hostname: hostname.to_string(),
        }
    }

    /// The rules.
    pub fn rules(&self) -> &Ruleset {
        &self.rules
    }

    fn run(&self, ev: &dyn tripline_event::Event, emit: &mut dyn FnMut(Finding)) {
        self.rules.evaluate(ev, self.matching, |rule| {
            emit(rule.finding(ev, &self.hostname))
        });
    }
}

impl Detector<Json> for FalcoDetector {
    fn name(&self) -> &str {
        "falco"
    }

    fn evaluate(&mut self, ev: &<Json as Events>::Event<'_>, emit: &mut dyn FnMut(Finding)) {
        self.run(ev, emit)
    }
}

impl Detector<Syscall> for FalcoDetector {
    fn name(&self) -> &str {
        "falco"
    }

    fn evaluate(&mut self, ev: &<Syscall as Events>::Event<'_>, emit: &mut dyn FnMut(Finding)) {
        self.rules.evaluate(ev, self.matching, |rule| {
            let mut f = rule.finding(ev, &self.hostname);
            f.process = ev.process_key();
            emit(f)
        });
    }
}

impl<K: Events> crate::Pipeline<K>
where
    FalcoDetector: Detector<K>,
{
    /// A pipeline with one detector: `rules`, evaluated with `matching`.
    pub fn falco(
        rules: impl Into<Arc<Ruleset>>,
        matching: RuleMatching,
        hostname: &str,
    ) -> crate::Pipeline<K> {
        crate::Pipeline::new(vec![Box::new(FalcoDetector::new(
            rules.into(),
            matching,
            hostname,
        ))])
    }
}
