//! Sigma rulesets as a detector.

use tripline_event::Finding;
use tripline_sigma::{LogSource, SigmaRuleset};

use crate::detector::{Audit, Detector, Events, Json, Syscall};

/// A Sigma ruleset with its correlation state: each event meets the rules whose `logsource`
/// fits its stream.
#[derive(Debug)]
pub struct SigmaDetector {
    rules: SigmaRuleset,
    hostname: String,
    /// Log sources already seen, by source name: built once, not per event.
    streams: Vec<(String, LogSource)>,
}

impl SigmaDetector {
    /// Evaluates `rules`, naming `hostname` in findings.
    pub fn new(rules: SigmaRuleset, hostname: &str) -> SigmaDetector {
        SigmaDetector {
            rules,
            hostname: hostname.to_string(),
            streams: Vec::new(),
        }
    }

    /// Where the Sigma log source of `source` is in `streams`, built on first use.
    fn stream(&mut self, source: &str) -> usize {
        if let Some(i) = self.streams.iter().position(|(n, _)| n == source) {
            return i;
        }
        self.streams
            .push((source.to_string(), Self::logsource_of(source)));
        self.streams.len() - 1
    }

    /// The ruleset (for summaries: rules loaded, correlation state).
    pub fn rules(&self) -> &SigmaRuleset {
        &self.rules
    }
}

impl SigmaDetector {
    /// The Sigma log source of a log source name (how Sigma rules are routed to its events).
    ///
    /// ```
    /// let ls = tripline_pipeline::SigmaDetector::logsource_of("aws_cloudtrail");
    /// assert_eq!(ls, tripline_sigma::LogSource::new(None, Some("aws"), Some("cloudtrail")));
    /// ```
    pub fn logsource_of(source: &str) -> LogSource {
        if let Some(k) = tripline_sources::SourceKind::from_name(source) {
            let (category, product, service) = k.descriptor().sigma;
            return LogSource::new(category, product, service);
        }
        match source {
            "auditd" => LogSource::new(None, Some("linux"), Some("auditd")),
            other => LogSource::new(None, Some(other), None),
        }
    }
}

impl Detector<Json> for SigmaDetector {
    fn name(&self) -> &str {
        "sigma"
    }

    fn dropped(&self) -> u64 {
        self.rules.correlations().dropped
    }

    fn evaluate(&mut self, ev: &<Json as Events>::Event<'_>, emit: &mut dyn FnMut(Finding)) {
        use tripline_event::Event as _;
        let source = ev.source();
        let i = self.stream(source);
        for f in self.rules.findings(
            &ev.json,
            &self.streams[i].1,
            ev.time_ns,
            source,
            &self.hostname,
        ) {
            emit(f);
        }
    }
}

impl Detector<Syscall> for SigmaDetector {
    fn name(&self) -> &str {
        "sigma"
    }

    fn dropped(&self) -> u64 {
        self.rules.correlations().dropped
    }

    fn evaluate(&mut self, ev: &<Syscall as Events>::Event<'_>, emit: &mut dyn FnMut(Finding)) {
        let Some((stream, json)) = crate::sysmon::sysmon_event(ev) else {
            return;
        };
        for f in self
            .rules
            .findings(&json, &stream, ev.ts_ns(), "syscall", &self.hostname)
        {
            emit(Finding {
                process: ev.process_key(),
                ..f
            });
        }
    }
}

impl Detector<Audit> for SigmaDetector {
    fn name(&self) -> &str {
        "sigma"
    }

    fn dropped(&self) -> u64 {
        self.rules.correlations().dropped
    }

    fn evaluate(&mut self, ev: &<Audit as Events>::Event<'_>, emit: &mut dyn FnMut(Finding)) {
        let i = self.stream("auditd");
        for mut f in self.rules.findings(
            ev.record,
            &self.streams[i].1,
            ev.time_ns,
            "auditd",
            &self.hostname,
        ) {
            f.output_fields.extend(ev.context.iter().cloned());
            emit(f);
        }
    }
}
