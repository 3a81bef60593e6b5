//! A loaded Sigma rule set: routes each event to the rules whose log source fits its stream,
//! and feeds matches to the correlation engine.

use std::collections::HashMap;
use std::sync::Arc;

use tripline_event::Finding;

use crate::correlation::{CorrelationEngine, CorrelationHit};
use crate::detection::FieldCache;
use crate::event::SigmaEvent;
use crate::rule::{Documents, LogSource, SigmaRule};

/// What fired for one event.
#[derive(Debug)]
pub enum Hit<'r> {
    /// A detection rule matched (and is not suppressed by a non-generating correlation).
    Rule(&'r SigmaRule),
    /// A correlation fired.
    Correlation(CorrelationHit),
}

/// Rules, correlations, and the per-stream routing cache.
///
/// ```
/// use tripline_sigma::{load, LoadOptions, LogSource, SigmaRuleset};
/// let rule = "title: Root login\nid: r1\nlogsource: {product: aws, service: cloudtrail}\n\
///             detection:\n  sel:\n    userIdentity.type: Root\n  condition: sel\nlevel: high\n";
/// let docs = load(&[("r.yml".into(), rule.into())], LoadOptions::default());
/// assert!(docs.errors.is_empty());
/// let mut set = SigmaRuleset::new(docs);
/// let stream = LogSource::new(None, Some("aws"), Some("cloudtrail"));
/// let ev = serde_json::json!({"userIdentity": {"type": "Root"}});
/// let ids: Vec<String> = set.ids_matching(&ev, &stream);
/// assert_eq!(ids, ["r1"]);
/// ```
#[derive(Debug, Default)]
pub struct SigmaRuleset {
    rules: Vec<SigmaRule>,
    /// Interned field names (see [`FieldCache`]).
    fields: Vec<String>,
    routes: HashMap<LogSource, Arc<[usize]>>,
    correlations: CorrelationEngine,
}

impl SigmaRuleset {
    /// Builds the set from loaded documents (errors are the caller's to report).
    pub fn new(docs: Documents) -> SigmaRuleset {
        let mut rules = docs.rules;
        let mut fields = Vec::new();
        for r in &mut rules {
            r.intern_fields(&mut fields);
        }
        SigmaRuleset {
            rules,
            fields,
            routes: HashMap::new(),
            correlations: CorrelationEngine::new(docs.correlations),
        }
    }

    /// The detection rules.
    pub fn rules(&self) -> &[SigmaRule] {
        &self.rules
    }

    /// The correlation engine.
    pub fn correlations(&self) -> &CorrelationEngine {
        &self.correlations
    }

    /// Whether any rule or correlation is loaded.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.correlations.correlations().is_empty()
    }

    fn route(&mut self, stream: &LogSource) -> Arc<[usize]> {
        if let Some(r) = self.routes.get(stream) {
            return Arc::clone(r);
        }
        let r: Arc<[usize]> = (0..self.rules.len())
            .filter(|&i| self.rules[i].logsource.fits(stream))
            .collect();
        self.routes.insert(stream.clone(), Arc::clone(&r));
        r
    }

    /// Evaluates one event of `stream` at `ts_ns`; calls `on_hit` for every rule and
    /// correlation that fires.
    pub fn evaluate(
        &mut self,
        ev: &dyn SigmaEvent,
        stream: &LogSource,
        ts_ns: u64,
        mut on_hit: impl FnMut(Hit<'_>),
    ) {
        let route = self.route(stream);
        let mut cache = FieldCache::new(self.fields.len());
        let mut correlation_hits = Vec::new();
        for &i in route.iter() {
            let rule = &self.rules[i];
            if !rule.matches_cached(ev, &mut cache) {
                continue;
            }
            let name = rule.name.as_deref();
            correlation_hits.extend(self.correlations.on_match(&rule.id, name, ev, ts_ns));
            if !self.correlations.suppresses(&rule.id, name) {
                on_hit(Hit::Rule(rule));
            }
        }
        for h in correlation_hits {
            on_hit(Hit::Correlation(h));
        }
    }

    /// Evaluates one event and returns the findings of every rule and correlation that fired.
    pub fn findings(
        &mut self,
        ev: &dyn SigmaEvent,
        stream: &LogSource,
        ts_ns: u64,
        source: &str,
        hostname: &str,
    ) -> Vec<Finding> {
        let mut rules = Vec::new();
        let mut correlations = Vec::new();
        self.evaluate(ev, stream, ts_ns, |hit| match hit {
            Hit::Rule(r) => rules.push(r.id.clone()),
            Hit::Correlation(h) => correlations.push(h),
        });
        let mut out = Vec::new();
        for id in rules {
            if let Some(r) = self.rules.iter().find(|r| r.id == id) {
                out.push(self.finding(&Hit::Rule(r), source, ts_ns, hostname));
            }
        }
        for h in correlations {
            out.push(self.finding(&Hit::Correlation(h), source, ts_ns, hostname));
        }
        out
    }

    /// Ids of the detection rules matching `ev` (no correlation side effects kept).
    pub fn ids_matching(&mut self, ev: &dyn SigmaEvent, stream: &LogSource) -> Vec<String> {
        let route = self.route(stream);
        let mut cache = FieldCache::new(self.fields.len());
        route
            .iter()
            .copied()
            .filter(|&i| self.rules[i].matches_cached(ev, &mut cache))
            .map(|i| self.rules[i].id.clone())
            .collect()
    }

    /// The finding for a hit: title as rule name, level as priority, tags, and the id and
    /// author in the output fields (the Detection Rule License requires crediting the author).
    pub fn finding(&self, hit: &Hit<'_>, source: &str, ts_ns: u64, hostname: &str) -> Finding {
        match hit {
            Hit::Rule(r) => Finding {
                rule: r.title.clone(),
                priority: r.priority,
                source: source.to_string(),
                time_ns: ts_ns,
                message: format!(
                    "{} (Sigma rule {} by {})",
                    r.title,
                    r.id,
                    r.author.as_deref().unwrap_or("unknown author")
                ),
                output_fields: vec![
                    ("sigma.id".into(), r.id.clone().into()),
                    ("sigma.title".into(), r.title.clone().into()),
                    (
                        "sigma.level".into(),
                        r.level.clone().unwrap_or_default().into(),
                    ),
                    (
                        "sigma.author".into(),
                        r.author.clone().unwrap_or_default().into(),
                    ),
                ],
                tags: r.tags.clone(),
                hostname: hostname.to_string(),
                process: None,
            },
            Hit::Correlation(h) => {
                let c = &self.correlations.correlations()[h.index];
                let group: Vec<String> = h.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let mut output_fields = vec![
                    ("sigma.id".into(), c.id.clone().into()),
                    ("sigma.title".into(), c.title.clone().into()),
                    (
                        "sigma.author".into(),
                        c.author.clone().unwrap_or_default().into(),
                    ),
                    ("sigma.value".into(), h.value.into()),
                ];
                for (k, v) in &h.group {
                    output_fields.push((format!("group.{k}"), v.clone().into()));
                }
                Finding {
                    rule: c.title.clone(),
                    priority: c.priority,
                    source: source.to_string(),
                    time_ns: h.ts_ns,
                    message: format!("{} ({}; value {})", c.title, group.join(" "), h.value),
                    output_fields,
                    tags: c.tags.clone(),
                    hostname: hostname.to_string(),
                    process: None,
                }
            }
        }
    }
}
