//! Compiled rules, indexed by source and event type, with Falco's run-time selection.

use std::collections::BTreeSet;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use tripline_event::{Event, FieldRef, Finding, Priority, Value};

use crate::condition::Op;
use crate::matcher::{Literal, Matcher, Operand, Test};
use crate::output::OutputTemplate;

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Name.
    pub name: String,
    /// Description.
    pub desc: String,
    /// Event source it runs on.
    pub source: String,
    /// Priority.
    pub priority: Priority,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// Whether it is evaluated.
    pub enabled: bool,
    /// File it was first defined in.
    pub file: String,
    /// Line of that definition.
    pub line: usize,
    /// Event types it can match (`None` = every type, or a plugin source).
    pub event_types: Option<BTreeSet<String>>,
    pub(crate) matcher: Matcher,
    pub(crate) output: OutputTemplate,
    /// Necessary conditions checked before the matcher (see [`Guard`]).
    pub(crate) guards: Vec<Guard>,
}

/// A string field the rule requires to be one of a few values (a top-level `field = "x"` or
/// `field in (...)` of its condition). Checking it first, with the field read once per event
/// for all rules sharing it, skips most rules without evaluating them.
#[derive(Debug, Clone)]
pub(crate) struct Guard {
    field: FieldRef,
    /// Index of `field` among the rule set's distinct guard fields (read once per event).
    slot: usize,
    values: GuardValues,
}

/// The allowed values: a short list is scanned, a long one hashed; or one boolean.
#[derive(Debug, Clone)]
enum GuardValues {
    Few(Vec<String>),
    Many(HashSet<String>),
    Bool(bool),
}

impl GuardValues {
    fn new(values: Vec<String>) -> GuardValues {
        if values.len() <= 8 {
            GuardValues::Few(values)
        } else {
            GuardValues::Many(values.into_iter().collect())
        }
    }

    /// Values allowed by either guard; `None` when the union allows anything.
    fn union(&self, other: &GuardValues) -> Option<GuardValues> {
        let strings = |g: &GuardValues| -> Option<Vec<String>> {
            match g {
                GuardValues::Few(l) => Some(l.clone()),
                GuardValues::Many(s) => Some(s.iter().cloned().collect()),
                GuardValues::Bool(_) => None,
            }
        };
        match (self, other) {
            (GuardValues::Bool(a), GuardValues::Bool(b)) => {
                (a == b).then_some(GuardValues::Bool(*a))
            }
            _ => {
                let mut all = strings(self)?;
                for v in strings(other)? {
                    if !all.contains(&v) {
                        all.push(v);
                    }
                }
                Some(GuardValues::new(all))
            }
        }
    }

    fn contains(&self, v: &str) -> bool {
        match self {
            GuardValues::Few(list) => list.iter().any(|x| x == v),
            GuardValues::Many(set) => set.contains(v),
            GuardValues::Bool(_) => true,
        }
    }
}

/// Conjuncts of the form `field = "x"` / `field in ("x", ...)` on a plain string field, or
/// `field = true|false` on a boolean one (such as `evt.is_open_write`, which many rules share).
fn guard_candidates(m: &Matcher, out: &mut Vec<Guard>) {
    match m {
        Matcher::And(parts) => {
            for p in parts {
                guard_candidates(p, out);
            }
        }
        Matcher::Or(parts) => {
            // A field guarded in every branch guards the whole, with the union of the values
            // (`(open_read or open_file_failed)` both need `fd.typechar = 'f'`).
            let branches: Vec<Vec<Guard>> = parts
                .iter()
                .map(|p| {
                    let mut g = Vec::new();
                    guard_candidates(p, &mut g);
                    g
                })
                .collect();
            let Some((first, rest)) = branches.split_first() else {
                return;
            };
            for g in first {
                let mut values = Some(g.values.clone());
                for other in rest {
                    values = match (values, other.iter().find(|o| o.field == g.field)) {
                        (Some(v), Some(o)) => v.union(&o.values),
                        _ => None,
                    };
                }
                if let Some(values) = values {
                    out.push(Guard {
                        field: g.field.clone(),
                        slot: 0,
                        values,
                    });
                }
            }
        }
        Matcher::Check(c) => {
            let Operand::Field(f) = &c.lhs else { return };
            if f.list {
                return;
            }
            if f.ty == tripline_event::FieldType::Bool {
                if let Test::Compare(Op::Eq, Literal::Bool(b)) = &c.test {
                    out.push(Guard {
                        field: f.clone(),
                        slot: 0,
                        values: GuardValues::Bool(*b),
                    });
                }
                return;
            }
            if f.ty != tripline_event::FieldType::String {
                return;
            }
            let values: Option<Vec<String>> = match &c.test {
                Test::Compare(Op::Eq, Literal::Str(s)) => Some(vec![s.clone()]),
                // Not a list field (checked above): `in` and `intersects` agree on one value.
                Test::Set { set, .. } => set
                    .strings()
                    .map(|v| v.into_iter().map(str::to_string).collect()),
                _ => None,
            };
            if let Some(values) = values {
                out.push(Guard {
                    field: f.clone(),
                    slot: 0,
                    values: GuardValues::new(values),
                });
            }
        }
        _ => {}
    }
}

impl Rule {
    /// Whether the condition holds for `ev` (ignores `enabled`).
    pub fn matches(&self, ev: &dyn Event) -> bool {
        self.matcher.matches(ev)
    }

    /// Builds the finding for an event this rule matched.
    pub fn finding(&self, ev: &dyn Event, hostname: &str) -> Finding {
        let (message, output_fields) = self.output.render(ev);
        Finding {
            rule: self.name.clone(),
            priority: self.priority,
            source: self.source.clone(),
            time_ns: ev.time_ns(),
            message,
            output_fields,
            tags: self.tags.clone(),
            hostname: hostname.to_string(),
            process: None,
        }
    }

    /// Fields named in the output template.
    pub fn output_fields(&self) -> Vec<&str> {
        self.output.field_names()
    }
}

/// Falco's `rule_matching`: stop at the first matching rule per event, or report all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleMatching {
    /// Only the first matching rule (in definition order) fires. Falco's default.
    #[default]
    First,
    /// Every matching rule fires.
    All,
}

/// One entry of Falco's `rules:` selection, applied in order after loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Enable rules whose whole name matches the wildcard (`*` = any run of characters).
    EnableRule(String),
    /// Disable rules by name wildcard.
    DisableRule(String),
    /// Enable rules carrying the tag.
    EnableTag(String),
    /// Disable rules carrying the tag.
    DisableTag(String),
}

#[derive(Debug, Default, Clone)]
struct SourceIndex {
    /// Rules without an event-type restriction, in order.
    any_type: Vec<usize>,
    /// Per event type: all rules that can match it, in order.
    by_type: HashMap<String, Vec<usize>>,
}

/// A set of compiled rules ready to evaluate events.
///
/// ```
/// use tripline_rules::{RuleMatching, Ruleset};
/// let rules = Ruleset::new(Vec::new());
/// assert_eq!(rules.active_count(), 0);
/// # let _ = RuleMatching::First;
/// ```
#[derive(Debug, Clone, Default)]
pub struct Ruleset {
    rules: Vec<Rule>,
    /// Number of distinct guard fields.
    guard_fields: usize,
    min_priority: Option<Priority>,
    index: HashMap<String, SourceIndex>,
}

impl Ruleset {
    /// Wraps compiled rules (in evaluation order) and builds the index.
    pub fn new(mut rules: Vec<Rule>) -> Ruleset {
        // Guards: every `field = "x"` / `field in (...)` conjunct; the fields are read once per
        // event and shared by all rules, so most rules are skipped before their matcher runs.
        let mut guard_fields: Vec<FieldRef> = Vec::new();
        for r in &mut rules {
            let mut guards = Vec::new();
            guard_candidates(&r.matcher, &mut guards);
            for g in &mut guards {
                g.slot = match guard_fields.iter().position(|f| *f == g.field) {
                    Some(i) => i,
                    None => {
                        guard_fields.push(g.field.clone());
                        guard_fields.len() - 1
                    }
                };
            }
            r.guards = guards;
        }
        let mut rs = Ruleset {
            guard_fields: guard_fields.len(),
            rules,
            min_priority: None,
            index: HashMap::default(),
        };
        rs.reindex();
        rs
    }

    /// All rules, enabled or not, in evaluation order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Number of rules that will be evaluated.
    pub fn active_count(&self) -> usize {
        self.rules.iter().filter(|r| self.is_active(r)).count()
    }

    fn is_active(&self, r: &Rule) -> bool {
        r.enabled && self.min_priority.is_none_or(|p| r.priority >= p)
    }

    /// Event types the active rules of `source` can match; `None` when some active rule
    /// matches every type (so every event type is needed).
    ///
    /// The live sensor uses this to enable only the syscalls the rules need.
    pub fn event_types(&self, source: &str) -> Option<BTreeSet<String>> {
        let Some(idx) = self.index.get(source) else {
            return Some(BTreeSet::new());
        };
        if !idx.any_type.is_empty() {
            return None;
        }
        Some(idx.by_type.keys().cloned().collect())
    }

    /// Appends `extra` to the output of every rule of `source` (Falco's `append_output`,
    /// e.g. `container_id=%container.id`). Fails if the text names an unknown field.
    pub fn append_output(
        &mut self,
        source: &str,
        extra: &str,
        table: &tripline_event::FieldTable,
    ) -> Result<(), String> {
        let extra = OutputTemplate::compile(extra, table)?;
        for r in self.rules.iter_mut().filter(|r| r.source == source) {
            r.output.append(&extra);
        }
        Ok(())
    }

    /// Applies selection commands in order.
    pub fn select(&mut self, commands: &[Selection]) {
        for cmd in commands {
            for r in &mut self.rules {
                match cmd {
                    Selection::EnableRule(g) if wildcard(g, &r.name) => r.enabled = true,
                    Selection::DisableRule(g) if wildcard(g, &r.name) => r.enabled = false,
                    Selection::EnableTag(t) if r.tags.contains(t) => r.enabled = true,
                    Selection::DisableTag(t) if r.tags.contains(t) => r.enabled = false,
                    _ => {}
                }
            }
        }
        self.reindex();
    }

    /// Drops rules below `p` from evaluation (Falco's `priority:` setting).
    pub fn set_min_priority(&mut self, p: Priority) {
        self.min_priority = Some(p);
        self.reindex();
    }

    fn reindex(&mut self) {
        let mut index: HashMap<String, SourceIndex> = HashMap::default();
        let mut typed: Vec<(usize, &BTreeSet<String>)> = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            if !self.is_active(r) {
                continue;
            }
            let idx = index.entry(r.source.clone()).or_default();
            match &r.event_types {
                None => idx.any_type.push(i),
                Some(types) => typed.push((i, types)),
            }
        }
        // Each type bucket holds the typed rules for it merged with the untyped ones, in order.
        for (i, types) in typed {
            let source = &self.rules[i].source;
            let idx = index.get_mut(source).expect("source entry created above");
            for t in types {
                idx.by_type.entry(t.clone()).or_default().push(i);
            }
        }
        for idx in index.values_mut() {
            let any = idx.any_type.clone();
            for bucket in idx.by_type.values_mut() {
                bucket.extend(&any);
                bucket.sort_unstable();
            }
        }
        self.index = index;
    }

    /// Evaluates one event; calls `on_match` for each firing rule (one or all, per `matching`).
    /// Returns the number of rules that fired.
    pub fn evaluate<'r>(
        &'r self,
        ev: &dyn Event,
        matching: RuleMatching,
        mut on_match: impl FnMut(&'r Rule),
    ) -> usize {
        let Some(idx) = self.index.get(ev.source()) else {
            return 0;
        };
        let candidates = match ev.event_type().and_then(|t| idx.by_type.get(t)) {
            Some(bucket) => bucket.as_slice(),
            None => idx.any_type.as_slice(),
        };
        let memo = crate::memo::Memo::new(ev);
        let ev: &dyn Event = &memo;
        let mut fired = 0;
        // Guard fields read so far for this event, by slot (None = not read yet); on the stack
        // for the usual few slots (this runs for every event).
        let mut inline: arrayvec::ArrayVec<Option<Option<Value<'_>>>, 32> = Default::default();
        let mut heap: Vec<Option<Option<Value<'_>>>>;
        let read: &mut [Option<Option<Value<'_>>>] = if self.guard_fields <= inline.capacity() {
            inline.extend((0..self.guard_fields).map(|_| None));
            &mut inline
        } else {
            heap = vec![None; self.guard_fields];
            &mut heap
        };
        for &i in candidates {
            let rule = &self.rules[i];
            let mut possible = true;
            for g in &rule.guards {
                let value = read[g.slot].get_or_insert_with(|| ev.extract(&g.field));
                possible = match value {
                    // Absent: the `=`/`in` conjunct is false, so is the rule.
                    None => false,
                    Some(Value::Str(s)) => g.values.contains(s),
                    Some(Value::Bool(b)) => match g.values {
                        GuardValues::Bool(want) => *b == want,
                        _ => true,
                    },
                    Some(_) => true,
                };
                if !possible {
                    break;
                }
            }
            if !possible {
                continue;
            }
            if rule.matcher.matches(ev) {
                fired += 1;
                on_match(rule);
                if matching == RuleMatching::First {
                    break;
                }
            }
        }
        fired
    }
}

/// Whole-name wildcard: `*` matches any run of characters, everything else is literal.
fn wildcard(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn wildcards_match_whole_names() {
        assert!(wildcard("*", "anything"));
        assert!(wildcard("K8s*Created", "K8s Service Created"));
        assert!(!wildcard("K8s*Created", "K8s Service Deleted"));
        assert!(wildcard("a*b*c", "a-b-c"));
        assert!(!wildcard("abc", "abcd"));
    }
}

#[cfg(test)]
mod guard_tests {
    use crate::falco::{load, RulesFile};

    fn guards_of(condition: &str) -> Vec<String> {
        let rules = format!(
            "- rule: r\n  desc: d\n  condition: {condition}\n  output: o\n  priority: WARNING\n"
        );
        let schema = tripline_event::SourceSchema::new(
            "syscall",
            tripline_event::FieldTable::from_tsv(
                "name\ttype\nevt.type\tstring\nfd.typechar\tstring\nfd.num\tint64\nevt.is_open_read\tbool\n",
            ),
        );
        let (set, report) = load(
            &[RulesFile {
                name: "t.yaml".into(),
                content: rules,
            }],
            &[schema],
        );
        assert!(report.is_ok(), "{:?}", report.errors);
        set.rules()[0]
            .guards
            .iter()
            .map(|g| format!("{}={:?}", g.field.display, g.values))
            .collect()
    }

    #[test]
    fn or_branches_share_their_common_guards() {
        let g = guards_of(
            "(evt.type in (open, openat) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0) \
             or (evt.type = openat2 and fd.typechar='f' and fd.num=-1)",
        );
        assert!(g.iter().any(|x| x.starts_with("fd.typechar=")), "{g:?}");
        assert!(
            g.iter()
                .any(|x| x.starts_with("evt.type=") && x.contains("openat2")),
            "{g:?}"
        );
        assert!(
            !g.iter().any(|x| x.starts_with("evt.is_open_read")),
            "{g:?}"
        );
    }
}
