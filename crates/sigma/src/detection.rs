//! Search identifiers: field items with their value modifiers, and keyword searches.

use std::net::IpAddr;

use base64::Engine as _;
use ipnet::IpNet;
use regex::Regex;
use tripline_yaml::{Kind as Y, Node};

use crate::event::{FieldValue, SigmaEvent};
use crate::pattern::{self, StrMatch, Token};

/// A compiled search identifier: OR over alternatives, each an AND of items.
#[derive(Debug, Clone)]
pub struct Selection {
    any_of: Vec<Vec<Item>>,
}

impl Selection {
    /// Whether the event satisfies the selection.
    pub fn matches(&self, ev: &dyn SigmaEvent) -> bool {
        self.matches_cached(ev, &mut FieldCache::new(0))
    }

    /// Like [`Selection::matches`], reading fields through a per-event cache.
    pub fn matches_cached<'e>(&self, ev: &'e dyn SigmaEvent, cache: &mut FieldCache<'e>) -> bool {
        self.any_of
            .iter()
            .any(|all| all.iter().all(|item| item.matches(ev, cache)))
    }

    /// Gives every field a number in `table` (shared by all rules), so lookups can be cached.
    pub fn intern_fields(&mut self, table: &mut Vec<String>) {
        for item in self.any_of.iter_mut().flatten() {
            if let Some(f) = &item.field {
                item.field_id = match table.iter().position(|t| t == f) {
                    Some(i) => i,
                    None => {
                        table.push(f.clone());
                        table.len() - 1
                    }
                };
            }
        }
    }

    /// Field names the selection reads (for field-mapping and validation).
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.any_of
            .iter()
            .flatten()
            .filter_map(|i| i.field.as_deref())
    }
}

/// Field values already looked up for the current event, by interned field id: many rules
/// read the same few fields (`eventSource`, `eventName`, `Image`...).
#[derive(Debug)]
pub struct FieldCache<'e> {
    slots: Vec<Option<(u32, u32)>>,
    values: Vec<FieldValue<'e>>,
}

impl<'e> FieldCache<'e> {
    /// A cache for `fields` interned fields.
    pub fn new(fields: usize) -> FieldCache<'e> {
        FieldCache {
            slots: vec![None; fields],
            values: Vec::new(),
        }
    }

    fn get(&mut self, id: usize, name: &str, ev: &'e dyn SigmaEvent) -> &[FieldValue<'e>] {
        let (start, len) = match self.slots.get(id) {
            Some(Some(range)) => *range,
            slot => {
                let start = self.values.len();
                ev.lookup(name, &mut self.values);
                let range = (start as u32, (self.values.len() - start) as u32);
                if slot.is_some() {
                    self.slots[id] = Some(range);
                }
                range
            }
        };
        &self.values[start as usize..(start + len) as usize]
    }
}

/// `field|modifiers: values`, or a keyword search when `field` is `None`.
#[derive(Debug, Clone)]
struct Item {
    field: Option<String>,
    /// Index in the rule set's field table (`usize::MAX` until interned).
    field_id: usize,
    /// Outer list: the rule's values (OR, or AND with `all`); inner: expansions of one value
    /// (windash, base64offset...), always OR.
    values: Vec<Vec<Matcher>>,
    all: bool,
    neq: bool,
}

#[derive(Debug, Clone)]
enum Matcher {
    Str(StrMatch),
    Null,
    Exists(bool),
    Re(Regex),
    Cidr(IpNet),
    Cmp(CmpOp, f64),
    FieldRef {
        field: String,
        how: RefHow,
        cased: bool,
    },
    TimePart(TimePart, Box<Matcher>),
}

#[derive(Debug, Clone, Copy)]
enum CmpOp {
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug, Clone, Copy)]
enum RefHow {
    Equal,
    Contains,
    Starts,
    Ends,
}

#[derive(Debug, Clone, Copy)]
enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// A load error inside a detection, with the line of the offending node.
#[derive(Debug, Clone)]
pub struct DetectionError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn err<T>(node: &Node, message: impl Into<String>) -> Result<T, DetectionError> {
    Err(DetectionError {
        line: node.line,
        message: message.into(),
    })
}

/// Compiles one search identifier's definition.
pub fn compile(def: &Node) -> Result<Selection, DetectionError> {
    let any_of = match &def.kind {
        Y::Map(entries) => vec![compile_map(entries)?],
        Y::Seq(items) if items.iter().all(|i| matches!(i.kind, Y::Map(_))) && !items.is_empty() => {
            items
                .iter()
                .map(|i| match &i.kind {
                    Y::Map(entries) => compile_map(entries),
                    _ => unreachable!("checked above"),
                })
                .collect::<Result<_, _>>()?
        }
        Y::Seq(_) | Y::Scalar { .. } => vec![vec![compile_item(None, &[], def, def)?]],
        Y::Null => return err(def, "empty search identifier"),
    };
    Ok(Selection { any_of })
}

fn compile_map(entries: &[(Node, Node)]) -> Result<Vec<Item>, DetectionError> {
    let mut items = Vec::new();
    for (k, v) in entries {
        let Some(key) = k.as_str() else {
            return err(k, "a field name must be text");
        };
        let mut parts = key.split('|');
        let field = parts.next().unwrap_or_default();
        let mods: Vec<&str> = parts.collect();
        // An empty field name (`'|all'`) is a keyword search.
        let field = (!field.is_empty()).then(|| field.to_string());
        items.push(compile_item(field, &mods, v, k)?);
    }
    Ok(items)
}

/// Value-transforming steps, in the order written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Contains,
    Startswith,
    Endswith,
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16,
    Windash,
}

fn compile_item(
    field: Option<String>,
    mods: &[&str],
    value: &Node,
    key: &Node,
) -> Result<Item, DetectionError> {
    let mut steps = Vec::new();
    let (mut all, mut cased, mut neq, mut exists, mut cidr, mut re, mut fieldref, mut expand) =
        (false, false, false, false, false, false, false, false);
    let mut re_flags = String::new();
    let mut cmp = None;
    let mut time = None;
    for &m in mods {
        match m {
            "contains" => steps.push(Step::Contains),
            "startswith" => steps.push(Step::Startswith),
            "endswith" => steps.push(Step::Endswith),
            "base64" => steps.push(Step::Base64),
            "base64offset" => steps.push(Step::Base64Offset),
            "utf16le" | "wide" => steps.push(Step::Utf16Le),
            "utf16be" => steps.push(Step::Utf16Be),
            "utf16" => steps.push(Step::Utf16),
            "windash" => steps.push(Step::Windash),
            "all" => all = true,
            "cased" => cased = true,
            "neq" => neq = true,
            "exists" => exists = true,
            "cidr" => cidr = true,
            "re" => re = true,
            "i" | "ignorecase" if re => re_flags.push('i'),
            "m" | "multiline" if re => re_flags.push('m'),
            "s" | "dotall" if re => re_flags.push('s'),
            "fieldref" => fieldref = true,
            "expand" => expand = true,
            "lt" => cmp = Some(CmpOp::Lt),
            "lte" => cmp = Some(CmpOp::Lte),
            "gt" => cmp = Some(CmpOp::Gt),
            "gte" => cmp = Some(CmpOp::Gte),
            "minute" => time = Some(TimePart::Minute),
            "hour" => time = Some(TimePart::Hour),
            "day" => time = Some(TimePart::Day),
            "week" => time = Some(TimePart::Week),
            "month" => time = Some(TimePart::Month),
            "year" => time = Some(TimePart::Year),
            other => return err(key, format!("unknown value modifier '{other}'")),
        }
    }
    let raw_values: Vec<&Node> = match &value.kind {
        Y::Seq(items) => items.iter().collect(),
        _ => vec![value],
    };
    if all && raw_values.len() < 2 && !matches!(value.kind, Y::Seq(_)) {
        return err(key, "modifier 'all' needs a list of values");
    }
    if raw_values.iter().any(|v| v.is_null()) && raw_values.len() > 1 {
        return err(value, "null must be the only value of a field");
    }
    let mut values = Vec::new();
    for v in raw_values {
        let text = match &v.kind {
            Y::Null => {
                values.push(vec![Matcher::Null]);
                continue;
            }
            Y::Scalar { text, .. } => text.as_str(),
            _ => return err(v, "a value must be a scalar"),
        };
        let one: Vec<Matcher> = if exists {
            match v.as_bool() {
                Some(b) => vec![Matcher::Exists(b)],
                None => return err(v, "'exists' takes true or false"),
            }
        } else if expand {
            return err(
                v,
                format!("placeholder value '{text}' ('expand') has no configured values"),
            );
        } else if re {
            let pattern = if re_flags.is_empty() {
                text.to_string()
            } else {
                format!("(?{re_flags}){text}")
            };
            match Regex::new(&pattern) {
                Ok(r) => vec![Matcher::Re(r)],
                Err(e) => return err(v, format!("unsupported regular expression: {e}")),
            }
        } else if cidr {
            match text.parse::<IpNet>() {
                Ok(n) => vec![Matcher::Cidr(n)],
                Err(_) => return err(v, format!("'{text}' is not a CIDR network")),
            }
        } else if let Some(op) = cmp {
            match text.parse::<f64>() {
                Ok(n) => vec![Matcher::Cmp(op, n)],
                Err(_) => return err(v, format!("'{text}' is not a number")),
            }
        } else if fieldref {
            let how = match steps.as_slice() {
                [] => RefHow::Equal,
                [Step::Contains] => RefHow::Contains,
                [Step::Startswith] => RefHow::Starts,
                [Step::Endswith] => RefHow::Ends,
                _ => {
                    return err(
                        key,
                        "fieldref combines only with contains, startswith or endswith",
                    )
                }
            };
            vec![Matcher::FieldRef {
                field: text.to_string(),
                how,
                cased,
            }]
        } else {
            string_matchers(text, &steps, cased, field.is_none())
        };
        let one = match time {
            Some(part) => one
                .into_iter()
                .map(|m| Matcher::TimePart(part, Box::new(m)))
                .collect(),
            None => one,
        };
        values.push(one);
    }
    Ok(Item {
        field,
        field_id: usize::MAX,
        values,
        all,
        neq,
    })
}

/// The string matchers for one value after the encoding and wrapping steps.
fn string_matchers(text: &str, steps: &[Step], cased: bool, keyword: bool) -> Vec<Matcher> {
    // Each variant: tokens, or raw bytes while an encoder chain is running.
    #[derive(Clone)]
    enum V {
        Tokens(Vec<Token>),
        Bytes(Vec<u8>),
    }
    let encodes = steps.iter().any(|s| {
        matches!(
            s,
            Step::Base64 | Step::Base64Offset | Step::Utf16Le | Step::Utf16Be | Step::Utf16
        )
    });
    let mut variants = vec![if encodes {
        V::Bytes(text.as_bytes().to_vec())
    } else {
        V::Tokens(pattern::parse(text))
    }];
    let b64 = base64::engine::general_purpose::STANDARD;
    for step in steps {
        let mut next = Vec::new();
        for v in variants {
            match (step, v) {
                (Step::Utf16Le | Step::Utf16Be | Step::Utf16, V::Bytes(b)) => {
                    let s = String::from_utf8_lossy(&b);
                    let mut out = Vec::new();
                    if *step == Step::Utf16 {
                        out.extend([0xFF, 0xFE]);
                    }
                    for u in s.encode_utf16() {
                        if *step == Step::Utf16Be {
                            out.extend(u.to_be_bytes());
                        } else {
                            out.extend(u.to_le_bytes());
                        }
                    }
                    next.push(V::Bytes(out));
                }
                (Step::Base64, V::Bytes(b)) => {
                    next.push(V::Tokens(pattern::literal(&b64.encode(&b))))
                }
                (Step::Base64Offset, V::Bytes(b)) => {
                    // Three alignments; cut the characters that depend on unknown neighbours.
                    let (starts, ends) = ([0usize, 2, 3], [0usize, 3, 2]);
                    for i in 0..3 {
                        let mut shifted = vec![b' '; i];
                        shifted.extend(&b);
                        let enc = b64.encode(&shifted);
                        let end_cut = ends[(b.len() + i) % 3];
                        let end = enc.len().saturating_sub(end_cut);
                        let s = enc.get(starts[i]..end).unwrap_or("");
                        next.push(V::Tokens(pattern::literal(s)));
                    }
                }
                (Step::Windash, V::Tokens(tokens)) => {
                    for dash in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
                        next.push(V::Tokens(windash(&tokens, dash)));
                    }
                }
                (Step::Contains, V::Tokens(mut t)) => {
                    t.insert(0, Token::Star);
                    t.push(Token::Star);
                    next.push(V::Tokens(t));
                }
                (Step::Startswith, V::Tokens(mut t)) => {
                    t.push(Token::Star);
                    next.push(V::Tokens(t));
                }
                (Step::Endswith, V::Tokens(mut t)) => {
                    t.insert(0, Token::Star);
                    next.push(V::Tokens(t));
                }
                // Wrapping before encoding, or encoding twice: keep the value as it is.
                (_, v) => next.push(v),
            }
        }
        variants = next;
    }
    variants
        .into_iter()
        .map(|v| {
            let mut tokens = match v {
                V::Tokens(t) => t,
                V::Bytes(b) => pattern::literal(&String::from_utf8_lossy(&b)),
            };
            if keyword {
                // Keywords are substrings of any value (spec §3.2 policy).
                tokens.insert(0, Token::Star);
                tokens.push(Token::Star);
            }
            Matcher::Str(StrMatch::new(&tokens, cased))
        })
        .collect()
}

/// Replaces a `-` or `/` that starts a word with `dash`.
fn windash(tokens: &[Token], dash: &str) -> Vec<Token> {
    tokens
        .iter()
        .map(|t| match t {
            Token::Lit(s) => {
                let mut out = String::new();
                let mut prev: Option<char> = None;
                for c in s.chars() {
                    if (c == '-' || c == '/') && prev.is_none_or(char::is_whitespace) {
                        out.push_str(dash);
                    } else {
                        out.push(c);
                    }
                    prev = Some(c);
                }
                Token::Lit(out)
            }
            other => other.clone(),
        })
        .collect()
}

impl Item {
    fn matches<'e>(&self, ev: &'e dyn SigmaEvent, cache: &mut FieldCache<'e>) -> bool {
        let Some(field) = &self.field else {
            return self.keywords(ev);
        };
        let found = cache.get(self.field_id, field, ev);
        let value_ok = |alts: &Vec<Matcher>| alts.iter().any(|m| m.matches(found, ev));
        if self.neq {
            return !found.is_empty() && !self.values.iter().any(value_ok);
        }
        if self.all {
            self.values.iter().all(value_ok)
        } else {
            self.values.iter().any(value_ok)
        }
    }

    fn keywords(&self, ev: &dyn SigmaEvent) -> bool {
        let one = |alts: &Vec<Matcher>| {
            ev.any_text(&mut |text| {
                alts.iter().any(|m| match m {
                    Matcher::Str(s) => s.matches(text),
                    Matcher::Re(r) => r.is_match(text),
                    _ => false,
                })
            })
        };
        if self.all {
            self.values.iter().all(one)
        } else {
            self.values.iter().any(one)
        }
    }
}

impl Matcher {
    fn matches(&self, found: &[FieldValue<'_>], ev: &dyn SigmaEvent) -> bool {
        match self {
            Matcher::Null => {
                found.is_empty() || found.iter().any(|v| matches!(v, FieldValue::Null))
            }
            Matcher::Exists(want) => found.is_empty() != *want,
            _ => found.iter().any(|v| self.matches_one(v, ev)),
        }
    }

    fn matches_one(&self, v: &FieldValue<'_>, ev: &dyn SigmaEvent) -> bool {
        match self {
            Matcher::Str(s) => {
                if let (Some(want), Some(have)) = (s.number(), v.number()) {
                    if want == have {
                        return true;
                    }
                }
                v.text().is_some_and(|t| s.matches(&t))
            }
            Matcher::Re(r) => v.text().is_some_and(|t| r.is_match(&t)),
            Matcher::Cidr(net) => v
                .text()
                .and_then(|t| t.trim().parse::<IpAddr>().ok())
                .is_some_and(|ip| net.contains(&ip)),
            Matcher::Cmp(op, want) => v.number().is_some_and(|have| match op {
                CmpOp::Lt => have < *want,
                CmpOp::Lte => have <= *want,
                CmpOp::Gt => have > *want,
                CmpOp::Gte => have >= *want,
            }),
            Matcher::FieldRef { field, how, cased } => {
                let Some(mine) = v.text() else { return false };
                let mut other = Vec::new();
                ev.lookup(field, &mut other);
                other.iter().filter_map(|o| o.text()).any(|theirs| {
                    let (a, b) = if *cased {
                        (mine.to_string(), theirs.to_string())
                    } else {
                        (mine.to_lowercase(), theirs.to_lowercase())
                    };
                    match how {
                        RefHow::Equal => a == b,
                        RefHow::Contains => a.contains(&b),
                        RefHow::Starts => a.starts_with(&b),
                        RefHow::Ends => a.ends_with(&b),
                    }
                })
            }
            Matcher::TimePart(part, inner) => {
                let Some(t) = v.text() else { return false };
                let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t.trim()) else {
                    return false;
                };
                use chrono::{Datelike, Timelike};
                let n: i64 = match part {
                    TimePart::Minute => dt.minute() as i64,
                    TimePart::Hour => dt.hour() as i64,
                    TimePart::Day => dt.day() as i64,
                    TimePart::Week => dt.iso_week().week() as i64,
                    TimePart::Month => dt.month() as i64,
                    TimePart::Year => dt.year() as i64,
                };
                let num = serde_json::Number::from(n);
                inner.matches_one(&FieldValue::Num(&num), ev)
            }
            Matcher::Null | Matcher::Exists(_) => unreachable!("handled by matches"),
        }
    }
}
