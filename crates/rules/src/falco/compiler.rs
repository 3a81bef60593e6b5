//! Turns collected items into a compiled [`Ruleset`]: lists expanded, macros parsed and
//! checked for visibility, exceptions applied, fields resolved, outputs compiled.

use std::collections::{BTreeSet, HashMap};

use tripline_event::SourceSchema;

use super::collect::{Collected, Collector, RuleDef};
use super::exceptions;
use super::lists::replace_list;
use crate::condition::{self, Expr, Op, Operand, Rhs};
use crate::diagnostic::{Code, Diagnostic, LoadReport};
use crate::matcher;
use crate::output::OutputTemplate;
use crate::ruleset::{Rule, Ruleset};

/// One rules file to load: a name for messages and its text.
#[derive(Debug, Clone)]
pub struct RulesFile {
    /// Path or name shown in diagnostics.
    pub name: String,
    /// YAML text.
    pub content: String,
}

/// Loads rules files in order (they share one namespace) and compiles them for `sources`.
///
/// Rules whose source is not among `sources` are kept out with a `LOAD_UNKNOWN_SOURCE` warning.
/// On errors the returned ruleset holds whatever compiled; callers should check the report.
///
/// ```
/// use tripline_rules::falco::{load, RulesFile};
/// let file = RulesFile { name: "demo.yaml".into(), content: "- rule: r\n  desc: d\n  condition: evt.num > 0\n  output: out\n  priority: INFO\n  source: demo\n".into() };
/// let (rules, report) = load(&[file], &[]);
/// assert!(report.is_ok());
/// assert_eq!(report.warnings[0].code.as_str(), "LOAD_UNKNOWN_SOURCE");
/// assert_eq!(rules.rules().len(), 0);
/// ```
pub fn load(files: &[RulesFile], sources: &[SourceSchema]) -> (Ruleset, LoadReport) {
    let mut collector = Collector::new(sources);
    for f in files {
        collector.read_file(&f.name, &f.content);
    }
    let Collector {
        collected, report, ..
    } = collector;
    let mut c = Compiler {
        collected,
        report,
        sources,
        list_items: Vec::new(),
        list_used: Vec::new(),
        macro_used: Vec::new(),
    };
    if !c.report.is_ok() {
        return (Ruleset::new(Vec::new()), c.report);
    }
    let rules = c.compile();
    (Ruleset::new(rules), c.report)
}

struct Compiler<'a> {
    collected: Collected,
    report: LoadReport,
    sources: &'a [SourceSchema],
    /// Final items per list (one level of nested lists expanded).
    list_items: Vec<Vec<String>>,
    list_used: Vec<bool>,
    macro_used: Vec<bool>,
}

/// A macro reference that could not be resolved, or a macro that failed on its own.
enum ExpandError {
    Undefined(String),
    Loop(String),
    Broken,
}

impl Compiler<'_> {
    fn diag(
        &mut self,
        code: Code,
        item_type: &'static str,
        name: &str,
        file: &str,
        line: usize,
        msg: String,
    ) {
        self.report.push(Diagnostic {
            code,
            item_type,
            item_name: name.to_string(),
            message: msg,
            file: file.to_string(),
            line,
        });
    }

    fn compile(&mut self) -> Vec<Rule> {
        self.compile_lists();
        let macros = self.compile_macros();
        let mut order: Vec<usize> = (0..self.collected.rules.len()).collect();
        order.sort_by_key(|&i| self.collected.rules[i].slot.index);
        let mut rules = Vec::new();
        for i in order {
            let def = self.collected.rules[i].clone();
            if let Some(rule) = self.compile_rule(&def, &macros) {
                rules.push(rule);
            }
        }
        self.unused_warnings();
        rules
    }

    fn compile_lists(&mut self) {
        let lists = &self.collected.lists;
        self.list_used = vec![false; lists.len()];
        let mut finals: Vec<Vec<String>> = Vec::with_capacity(lists.len());
        for l in lists {
            let mut items = Vec::new();
            for item in &l.items {
                let nested = lists.iter().position(|o| {
                    o.name == *item && o.slot.index < l.slot.visibility && o.name != l.name
                });
                match nested {
                    Some(j) => {
                        self.list_used[j] = true;
                        items.extend(
                            finals
                                .get(j)
                                .cloned()
                                .unwrap_or_else(|| lists[j].items.clone()),
                        );
                    }
                    None => items.push(item.clone()),
                }
            }
            finals.push(items);
        }
        self.list_items = finals;
    }

    /// Falco's textual list expansion over all lists, in definition order.
    fn expand_lists(&mut self, text: &str) -> String {
        let mut out = text.to_string();
        let mut order: Vec<usize> = (0..self.collected.lists.len()).collect();
        order.sort_by_key(|&i| self.collected.lists[i].slot.index);
        for i in order {
            if let Some(t) = replace_list(&out, &self.collected.lists[i].name, &self.list_items[i])
            {
                self.list_used[i] = true;
                out = t;
            }
        }
        out
    }

    fn compile_macros(&mut self) -> HashMap<String, (usize, Option<Expr>)> {
        let n = self.collected.macros.len();
        self.macro_used = vec![false; n];
        let mut parsed: HashMap<String, (usize, Option<Expr>)> = HashMap::new();
        for i in 0..n {
            let m = self.collected.macros[i].clone();
            let text = self.expand_lists(&m.condition);
            match condition::parse(&text) {
                Ok(ast) => {
                    parsed.insert(m.name.clone(), (i, Some(ast)));
                }
                Err(e) => {
                    self.diag(
                        Code::ErrCompileCondition,
                        "macro",
                        &m.name,
                        &m.slot.file,
                        m.slot.line,
                        e.message,
                    );
                    parsed.insert(m.name.clone(), (i, None));
                }
            }
        }
        // Visibility: a macro sees only macros defined before its last definition point.
        for i in 0..n {
            let m = self.collected.macros[i].clone();
            let Some((_, Some(ast))) = parsed.get(&m.name) else {
                continue;
            };
            let mut refs = Vec::new();
            macro_refs(ast, &mut refs);
            for r in refs {
                let visible = self
                    .collected
                    .macros
                    .iter()
                    .position(|o| o.name == r && o.slot.index < m.slot.visibility);
                match visible {
                    Some(j) => self.macro_used[j] = true,
                    None => {
                        self.diag(
                            Code::ErrValidate,
                            "macro",
                            &m.name,
                            &m.slot.file,
                            m.slot.line,
                            format!("Undefined macro '{r}' used in filter."),
                        );
                        parsed.get_mut(&m.name).expect("parsed above").1 = None;
                        break;
                    }
                }
            }
        }
        parsed
    }

    fn expand_macros(
        &mut self,
        e: &Expr,
        macros: &HashMap<String, (usize, Option<Expr>)>,
        stack: &mut Vec<String>,
    ) -> Result<Expr, ExpandError> {
        Ok(match e {
            Expr::And(items) => Expr::And(
                items
                    .iter()
                    .map(|i| self.expand_macros(i, macros, stack))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(items) => Expr::Or(
                items
                    .iter()
                    .map(|i| self.expand_macros(i, macros, stack))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(inner) => Expr::Not(Box::new(self.expand_macros(inner, macros, stack)?)),
            Expr::Macro(name) => {
                let Some((idx, ast)) = macros.get(name) else {
                    return Err(ExpandError::Undefined(name.clone()));
                };
                self.macro_used[*idx] = true;
                let Some(ast) = ast else {
                    return Err(ExpandError::Broken);
                };
                if stack.contains(name) {
                    return Err(ExpandError::Loop(name.clone()));
                }
                stack.push(name.clone());
                let out = self.expand_macros(ast, macros, stack);
                stack.pop();
                out?
            }
            check => check.clone(),
        })
    }

    fn compile_rule(
        &mut self,
        def: &RuleDef,
        macros: &HashMap<String, (usize, Option<Expr>)>,
    ) -> Option<Rule> {
        let (file, line, name) = (def.slot.file.clone(), def.slot.line, def.name.clone());
        let Some(schema) = self.sources.iter().find(|s| s.name == def.source) else {
            self.diag(
                Code::UnknownSource,
                "rule",
                &name,
                &file,
                line,
                format!("Unknown source {}, skipping", def.source),
            );
            return None;
        };
        let with_exceptions = if def.exceptions.is_empty() {
            def.condition.clone()
        } else {
            exceptions::apply(&def.condition, &def.exceptions)
        };
        let text = self.expand_lists(&with_exceptions);
        let ast = match condition::parse(&text) {
            Ok(a) => a,
            Err(e) => {
                self.diag(
                    Code::ErrCompileCondition,
                    "rule",
                    &name,
                    &file,
                    line,
                    e.message,
                );
                return None;
            }
        };
        let ast = match self.expand_macros(&ast, macros, &mut Vec::new()) {
            Ok(a) => a,
            Err(ExpandError::Undefined(m)) => {
                self.diag(
                    Code::ErrValidate,
                    "rule",
                    &name,
                    &file,
                    line,
                    format!("Undefined macro '{m}' used in filter."),
                );
                return None;
            }
            Err(ExpandError::Loop(m)) => {
                self.diag(
                    Code::ErrValidate,
                    "rule",
                    &name,
                    &file,
                    line,
                    format!("reference loop in macro '{m}'"),
                );
                return None;
            }
            Err(ExpandError::Broken) => return None,
        };
        if text.contains("<NA>") {
            self.diag(
                Code::UnsafeNaCheck,
                "rule",
                &name,
                &file,
                line,
                "Comparing against '<NA>' is unsafe: a missing field makes every comparison false"
                    .into(),
            );
        }
        let matcher = match matcher::compile(&ast, &schema.fields) {
            Ok(m) => m,
            Err(e) if e.unknown_field && def.skip_if_unknown_filter => {
                self.diag(
                    Code::UnknownFilter,
                    "rule",
                    &name,
                    &file,
                    line,
                    format!("{}, skipping rule", e.message),
                );
                return None;
            }
            Err(e) => {
                let code = if e.message.starts_with("Undefined macro") {
                    Code::ErrValidate
                } else {
                    Code::ErrCompileCondition
                };
                self.diag(code, "rule", &name, &file, line, e.message);
                return None;
            }
        };
        let output = match OutputTemplate::compile(&def.output, &schema.fields) {
            Ok(o) => o,
            Err(msg) if def.skip_if_unknown_filter => {
                self.diag(
                    Code::UnknownFilter,
                    "rule",
                    &name,
                    &file,
                    line,
                    format!("{msg}, skipping rule"),
                );
                return None;
            }
            Err(msg) => {
                self.diag(Code::ErrCompileOutput, "rule", &name, &file, line, msg);
                return None;
            }
        };
        let event_types = if schema.indexed_by_event_type {
            match event_types(&ast, false) {
                Types::All => {
                    if def.warn_evttypes {
                        self.diag(
                            Code::NoEvttype,
                            "rule",
                            &name,
                            &file,
                            line,
                            "Rule matches too many evt.type values. This has a significant performance penalty.".into(),
                        );
                    }
                    None
                }
                Types::Set(s) => Some(s),
            }
        } else {
            None
        };
        Some(Rule {
            name,
            desc: def.desc.clone(),
            source: def.source.clone(),
            priority: def.priority,
            tags: def.tags.iter().cloned().collect(),
            enabled: def.enabled,
            file,
            line,
            event_types,
            matcher,
            output,
            guards: Vec::new(),
        })
    }

    fn unused_warnings(&mut self) {
        for i in 0..self.collected.macros.len() {
            if !self.macro_used[i] {
                let m = self.collected.macros[i].clone();
                self.diag(
                    Code::UnusedMacro,
                    "macro",
                    &m.name,
                    &m.slot.file,
                    m.slot.line,
                    "Macro not referred to by any other rule/macro".into(),
                );
            }
        }
        for i in 0..self.collected.lists.len() {
            if !self.list_used[i] {
                let l = self.collected.lists[i].clone();
                self.diag(
                    Code::UnusedList,
                    "list",
                    &l.name,
                    &l.slot.file,
                    l.slot.line,
                    "List not referred to by any other rule/macro".into(),
                );
            }
        }
    }
}

fn macro_refs(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::And(items) | Expr::Or(items) => items.iter().for_each(|i| macro_refs(i, out)),
        Expr::Not(inner) => macro_refs(inner, out),
        Expr::Macro(name) => out.push(name.clone()),
        Expr::Check { .. } => {}
    }
}

/// The event types a condition can match (Falco's evttype index).
#[derive(Debug, Clone, PartialEq)]
enum Types {
    All,
    Set(BTreeSet<String>),
}

fn event_types(e: &Expr, negated: bool) -> Types {
    let union = |a: Types, b: Types| match (a, b) {
        (Types::Set(mut x), Types::Set(y)) => {
            x.extend(y);
            Types::Set(x)
        }
        _ => Types::All,
    };
    let intersect = |a: Types, b: Types| match (a, b) {
        (Types::Set(x), Types::Set(y)) => Types::Set(x.intersection(&y).cloned().collect()),
        (Types::All, t) | (t, Types::All) => t,
    };
    match e {
        Expr::And(items) | Expr::Or(items) => {
            let conj = matches!(e, Expr::And(_)) != negated;
            let mut it = items.iter().map(|i| event_types(i, negated));
            let first = it.next().unwrap_or(Types::All);
            it.fold(first, |acc, t| {
                if conj {
                    intersect(acc, t)
                } else {
                    union(acc, t)
                }
            })
        }
        Expr::Not(inner) => event_types(inner, !negated),
        Expr::Check {
            lhs: Operand::Field { name, arg: None },
            op,
            rhs,
        } if name == "evt.type" || name == "syscall.type" => {
            let values: BTreeSet<String> = match rhs {
                Rhs::Value(v) => [v.clone()].into(),
                Rhs::List(items) => items.iter().cloned().collect(),
                _ => return Types::All,
            };
            match (op, negated) {
                (Op::Eq | Op::In | Op::Intersects, false) | (Op::Ne, true) => Types::Set(values),
                _ => Types::All,
            }
        }
        _ => Types::All,
    }
}
