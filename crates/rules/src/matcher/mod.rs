//! Compiled conditions: fields resolved, literals typed, patterns built, all once at load time.
//!
//! Evaluation follows Falco's semantics: a check on a field that has no value is false (also
//! for `!=` and `in`); only `not` turns it true.

mod compile;
mod pattern;

use rustc_hash::FxHashSet as HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use regex::Regex;
use tripline_event::{Event, FieldRef, Value};

use crate::condition::{MultiTransformer, Op, Quantifier, Transformer};
pub(crate) use compile::compile_operand;
pub use compile::{compile, CompileError};
pub use pattern::{Glob, PathPrefixes};

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// All must hold.
    And(Vec<Matcher>),
    /// One must hold.
    Or(Vec<Matcher>),
    /// Negation.
    Not(Box<Matcher>),
    /// A leaf comparison.
    Check(Box<Check>),
}

/// A leaf: operand, and what to test its value against.
#[derive(Debug, Clone)]
pub struct Check {
    /// Left side.
    pub lhs: Operand,
    /// The test.
    pub test: Test,
}

/// A field read, possibly transformed.
#[derive(Debug, Clone)]
pub enum Operand {
    /// A field of the event.
    Field(FieldRef),
    /// A transformer over another operand.
    Transform(Transformer, Box<Operand>),
    /// `join`, `concat` or `getopt` over several arguments (getopt's selector last).
    Multi(MultiTransformer, Vec<MultiArg>, Option<char>),
}

/// An argument of a multi-argument transformer.
#[derive(Debug, Clone)]
pub enum MultiArg {
    /// A field or transformer.
    Operand(Operand),
    /// A literal string.
    Literal(String),
}

impl MultiArg {
    fn read<'e>(&self, ev: &'e dyn Event) -> Option<Value<'e>> {
        match self {
            MultiArg::Operand(o) => o.read(ev),
            MultiArg::Literal(l) => Some(Value::from(l.clone())),
        }
    }
}

/// The values of a (possibly list) value as text.
fn texts(v: &Value<'_>) -> Vec<String> {
    match v {
        Value::List(items) => items.iter().map(|i| i.to_text().into_owned()).collect(),
        v => vec![v.to_text().into_owned()],
    }
}

fn multi<'e>(
    t: MultiTransformer,
    args: &[MultiArg],
    sel: Option<char>,
    ev: &'e dyn Event,
) -> Option<Value<'e>> {
    match t {
        MultiTransformer::Join => {
            let sep = args[0].read(ev)?.to_text().into_owned();
            Some(Value::from(texts(&args[1].read(ev)?).join(&sep)))
        }
        MultiTransformer::Concat => {
            let mut out = String::new();
            for a in args {
                out.push_str(&a.read(ev)?.to_text());
            }
            Some(Value::from(out))
        }
        MultiTransformer::Getopt => {
            let argv = texts(&args[0].read(ev)?);
            let optstring = args[1].read(ev)?.to_text().into_owned();
            getopt(&argv, &optstring, sel)
        }
    }
}

/// getopt(3)-style scan of `argv` with `optstring` (`"ab:"`: `-a` flag, `-b` takes a value).
/// Without a selector: the options in order (`?` for unknown ones), each followed by its value
/// when it takes one. With selector `c`: the value of the last `-c` (or `c` itself for a flag;
/// empty when its value is missing); absent when `-c` does not occur. Scanning stops at `--`
/// and at the first non-option; long options (`--x`) are skipped.
pub fn getopt<'e>(argv: &[String], optstring: &str, sel: Option<char>) -> Option<Value<'e>> {
    let spec = optstring.strip_prefix(':').unwrap_or(optstring);
    let mut valid = std::collections::HashMap::new();
    let chars: Vec<char> = spec.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != ':' {
            let takes = chars.get(i + 1) == Some(&':');
            valid.insert(chars[i], takes);
            if takes {
                i += 1;
            }
        }
        i += 1;
    }
    let mut out: Vec<String> = Vec::new();
    let mut selected: Option<String> = None;
    let mut idx = 0;
    'args: while idx < argv.len() {
        let arg = &argv[idx];
        if arg == "--" {
            break;
        }
        if arg.len() > 2 && arg.starts_with("--") {
            idx += 1;
            continue;
        }
        if !arg.starts_with('-') || arg.len() == 1 {
            break;
        }
        let opts: Vec<(usize, char)> = arg.char_indices().skip(1).collect();
        for (pos, c) in opts {
            let Some(&takes) = valid.get(&c).filter(|_| c != ':') else {
                if sel.is_none() {
                    out.push("?".into());
                }
                continue;
            };
            let wanted = sel.is_none_or(|s| s == c);
            if !takes {
                if wanted {
                    match sel {
                        Some(_) => selected = Some(c.to_string()),
                        None => out.push(c.to_string()),
                    }
                }
                continue;
            }
            let rest = &arg[pos + c.len_utf8()..];
            let value = if !rest.is_empty() {
                Some(rest.to_string())
            } else if idx + 1 < argv.len() {
                idx += 1;
                Some(argv[idx].clone())
            } else {
                None
            };
            if wanted {
                match (sel, value) {
                    (Some(_), v) => selected = Some(v.unwrap_or_default()),
                    (None, Some(v)) => {
                        out.push(c.to_string());
                        out.push(v);
                    }
                    (None, None) => out.push(String::new()),
                }
            }
            idx += 1;
            continue 'args;
        }
        idx += 1;
    }
    match sel {
        Some(_) => selected.map(Value::from),
        // An empty list is an absent value (see `Value::List`).
        None if out.is_empty() => None,
        None => Some(Value::List(out.into_iter().map(Value::from).collect())),
    }
}

/// A literal converted to the field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// Text.
    Str(String),
    /// Unsigned number.
    Unsigned(u64),
    /// Signed number.
    Signed(i64),
    /// Float.
    Double(f64),
    /// Boolean.
    Bool(bool),
    /// Address.
    Ip(IpAddr),
    /// Network (also used for `ipnet` fields).
    Net(IpNet),
    /// Bytes (hex literals of `bcontains`).
    Bytes(Vec<u8>),
}

/// Set membership, with a hash set for long lists of strings.
#[derive(Debug, Clone)]
pub struct LiteralSet {
    items: Vec<Literal>,
    strings: Option<HashSet<String>>,
}

impl LiteralSet {
    /// The members, when every one is a string.
    pub fn strings(&self) -> Option<Vec<&str>> {
        self.items
            .iter()
            .map(|l| match l {
                Literal::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    fn new(items: Vec<Literal>) -> LiteralSet {
        let strings =
            (items.len() > 8 && items.iter().all(|l| matches!(l, Literal::Str(_)))).then(|| {
                items
                    .iter()
                    .filter_map(|l| match l {
                        Literal::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect()
            });
        LiteralSet { items, strings }
    }

    fn contains(&self, v: &Value) -> bool {
        if let (Some(set), Value::Str(s)) = (&self.strings, v) {
            return set.contains(s.as_ref());
        }
        self.items.iter().any(|lit| compare(v, Op::Eq, lit))
    }
}

/// What a check tests.
#[derive(Debug, Clone)]
pub enum Test {
    /// The field has a value.
    Exists,
    /// Compare with one literal.
    Compare(Op, Literal),
    /// `in` (subset for lists) or `intersects` (overlap).
    Set {
        /// `true` for `in`, `false` for `intersects`.
        subset: bool,
        /// The values.
        set: LiteralSet,
    },
    /// `pmatch`.
    PMatch(PathPrefixes),
    /// `regex` (anchored).
    Regex(Regex),
    /// `glob` / `iglob`.
    Glob(Glob),
    /// Compare with another field of the event.
    Field(Op, Operand),
    /// `op oneof|anyof|allof (...)`: one test per value; exactly one / any / all must hold.
    Quantified(Quantifier, Vec<Test>),
}

impl Matcher {
    /// Evaluates against one event.
    pub fn matches(&self, ev: &dyn Event) -> bool {
        match self {
            Matcher::And(items) => items.iter().all(|m| m.matches(ev)),
            Matcher::Or(items) => items.iter().any(|m| m.matches(ev)),
            Matcher::Not(inner) => !inner.matches(ev),
            Matcher::Check(check) => check.matches(ev),
        }
    }
}

impl Operand {
    /// Reads the operand's value from an event.
    pub fn read<'e>(&self, ev: &'e dyn Event) -> Option<Value<'e>> {
        match self {
            Operand::Field(f) => match ev.extract(f)? {
                Value::List(items) if items.is_empty() => None,
                v => Some(v),
            },
            Operand::Transform(t, inner) => transform(*t, inner.read(ev)?),
            Operand::Multi(t, args, sel) => multi(*t, args, *sel, ev),
        }
    }
}

fn transform(t: Transformer, v: Value<'_>) -> Option<Value<'_>> {
    if let Value::List(items) = v {
        if t == Transformer::Len {
            return Some(Value::Unsigned(items.len() as u64));
        }
        let out: Vec<Value> = items.into_iter().filter_map(|i| transform(t, i)).collect();
        return Some(Value::List(out));
    }
    let text = v.to_text();
    Some(match t {
        Transformer::ToLower => Value::from(text.to_ascii_lowercase()),
        Transformer::ToUpper => Value::from(text.to_ascii_uppercase()),
        Transformer::Basename => Value::from(match text.rfind('/') {
            Some(i) => text[i + 1..].to_string(),
            None => text.into_owned(),
        }),
        Transformer::Len => Value::Unsigned(match &v {
            Value::Bytes(b) => b.len() as u64,
            _ => text.len() as u64,
        }),
        Transformer::B64 => {
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(text.trim().as_bytes())
                .ok()?;
            Value::from(String::from_utf8_lossy(&decoded).into_owned())
        }
    })
}

impl Check {
    /// Evaluates the leaf.
    pub fn matches(&self, ev: &dyn Event) -> bool {
        let Some(value) = self.lhs.read(ev) else {
            return false;
        };
        self.test.holds(&value, ev)
    }
}

impl Test {
    /// Whether a value read from `ev` passes the test.
    fn holds(&self, value: &Value<'_>, ev: &dyn Event) -> bool {
        match self {
            Test::Exists => true,
            Test::Compare(op, lit) => match value {
                Value::List(items) => items.iter().any(|v| compare(v, *op, lit)),
                v => compare(v, *op, lit),
            },
            Test::Set { subset, set } => match value {
                Value::List(items) if *subset => items.iter().all(|v| set.contains(v)),
                Value::List(items) => items.iter().any(|v| set.contains(v)),
                v => set.contains(v),
            },
            Test::PMatch(p) => each(value, |v| p.matches(&v.to_text())),
            Test::Regex(re) => each(value, |v| re.is_match(&v.to_text())),
            Test::Glob(g) => each(value, |v| g.matches(&v.to_text())),
            Test::Field(op, rhs) => {
                let Some(other) = rhs.read(ev) else {
                    return false;
                };
                let lit = to_literal(&other);
                compare(value, *op, &lit)
            }
            Test::Quantified(q, tests) => {
                let n = tests.iter().filter(|t| t.holds(value, ev)).count();
                match q {
                    Quantifier::OneOf => n == 1,
                    Quantifier::AnyOf => n >= 1,
                    Quantifier::AllOf => n == tests.len(),
                }
            }
        }
    }
}

fn each(v: &Value, f: impl Fn(&Value) -> bool) -> bool {
    match v {
        Value::List(items) => items.iter().any(f),
        v => f(v),
    }
}

fn to_literal(v: &Value) -> Literal {
    match v {
        Value::Str(s) => Literal::Str(s.to_string()),
        Value::Unsigned(n) => Literal::Unsigned(*n),
        Value::Signed(n) => Literal::Signed(*n),
        Value::Double(n) => Literal::Double(*n),
        Value::Bool(b) => Literal::Bool(*b),
        Value::Ip(ip) => Literal::Ip(*ip),
        Value::Net(n) => Literal::Net(*n),
        Value::Bytes(b) => Literal::Bytes(b.to_vec()),
        Value::List(_) => Literal::Str(v.to_text().into_owned()),
    }
}

fn ordered<T: PartialOrd>(a: T, op: Op, b: T) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        _ => false,
    }
}

/// Compares one scalar value with a literal.
fn compare(v: &Value, op: Op, lit: &Literal) -> bool {
    match (v, lit) {
        (Value::Str(s), Literal::Str(l)) => compare_str(s, op, l),
        (Value::Unsigned(a), Literal::Unsigned(b)) => ordered(*a, op, *b),
        (Value::Signed(a), Literal::Signed(b)) => ordered(*a, op, *b),
        (Value::Unsigned(a), Literal::Signed(b)) => ordered(*a as i128, op, *b as i128),
        (Value::Signed(a), Literal::Unsigned(b)) => ordered(*a as i128, op, *b as i128),
        (Value::Double(a), Literal::Double(b)) => ordered(*a, op, *b),
        (Value::Bool(a), Literal::Bool(b)) => ordered(*a, op, *b),
        (Value::Ip(a), Literal::Ip(b)) => ordered(a, op, b),
        (Value::Ip(a), Literal::Net(n)) => match op {
            Op::Eq => n.contains(a),
            Op::Ne => !n.contains(a),
            _ => false,
        },
        // `fd.net`-style fields hold the endpoint as a host network: it matches a network
        // literal that contains it (`fd.net = 10.0.0.0/8`, `fd.snet in (...)`).
        (Value::Net(a), Literal::Net(n)) => match op {
            Op::Eq => n.contains(a),
            Op::Ne => !n.contains(a),
            _ => false,
        },
        (Value::Net(a), Literal::Ip(ip)) => match op {
            Op::Eq => a.contains(ip),
            Op::Ne => !a.contains(ip),
            _ => false,
        },
        (Value::Bytes(b), Literal::Bytes(l)) => match op {
            Op::BContains | Op::Contains => memchr::memmem::find(b, l).is_some(),
            Op::BStartsWith | Op::StartsWith => b.starts_with(l),
            Op::EndsWith => b.ends_with(l),
            _ => ordered(b.as_ref(), op, l.as_slice()),
        },
        (Value::Bytes(b), Literal::Str(l)) => {
            compare(v, op, &Literal::Bytes(l.as_bytes().to_vec()))
                || (op == Op::Eq && b.as_ref() == l.as_bytes())
        }
        // Mixed: compare the text forms (plugin fields are text, literals may look numeric).
        (v, lit) => {
            let text = v.to_text();
            compare_str(&text, op, &literal_text(lit))
        }
    }
}

fn literal_text(lit: &Literal) -> String {
    match lit {
        Literal::Str(s) => s.clone(),
        Literal::Unsigned(n) => n.to_string(),
        Literal::Signed(n) => n.to_string(),
        Literal::Double(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Ip(ip) => ip.to_string(),
        Literal::Net(n) => n.to_string(),
        Literal::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
    }
}

fn compare_str(s: &str, op: Op, l: &str) -> bool {
    match op {
        Op::Eq => s == l,
        Op::Ne => s != l,
        Op::Lt | Op::Le | Op::Gt | Op::Ge => ordered(s, op, l),
        Op::Contains => memchr::memmem::find(s.as_bytes(), l.as_bytes()).is_some(),
        Op::IContains => memchr::memmem::find(
            s.to_ascii_lowercase().as_bytes(),
            l.to_ascii_lowercase().as_bytes(),
        )
        .is_some(),
        Op::StartsWith | Op::BStartsWith => s.starts_with(l),
        Op::EndsWith => s.ends_with(l),
        Op::BContains => s.contains(l),
        _ => false,
    }
}
