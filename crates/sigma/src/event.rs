//! How Sigma reads events: dotted field lookup over JSON, and the text of every value for
//! keyword search.

use serde_json::Value;

/// One value a field lookup found.
#[derive(Debug, Clone, Copy)]
pub enum FieldValue<'a> {
    /// JSON `null`.
    Null,
    /// A boolean (compares as `true` / `false` text).
    Bool(bool),
    /// A number.
    Num(&'a serde_json::Number),
    /// A string.
    Str(&'a str),
    /// An object or array, matched against its compact JSON text.
    Compound(&'a Value),
}

impl FieldValue<'_> {
    /// The value as text, as string patterns see it (`None` for null).
    pub fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow;
        match self {
            FieldValue::Null => None,
            FieldValue::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            FieldValue::Num(n) => Some(Cow::Owned(n.to_string())),
            FieldValue::Str(s) => Some(Cow::Borrowed(s)),
            FieldValue::Compound(v) => Some(Cow::Owned(v.to_string())),
        }
    }

    /// The value as a number, when it is one or is text that parses as one.
    pub fn number(&self) -> Option<f64> {
        match self {
            FieldValue::Num(n) => n.as_f64(),
            FieldValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// What the Sigma engine needs from an event.
///
/// ```
/// use tripline_sigma::event::{SigmaEvent, FieldValue};
/// let ev = serde_json::json!({"userIdentity": {"type": "Root"}, "a.b": 1});
/// let mut found = Vec::new();
/// ev.lookup("userIdentity.type", &mut found);
/// assert!(matches!(found[0], FieldValue::Str("Root")));
/// found.clear();
/// ev.lookup("a.b", &mut found);   // a literal key with dots wins
/// assert_eq!(found.len(), 1);
/// ```
pub trait SigmaEvent {
    /// Appends every value of `field` (dotted path; arrays on the way fan out) to `out`.
    /// Nothing appended = the field is absent.
    fn lookup<'a>(&'a self, field: &str, out: &mut Vec<FieldValue<'a>>);

    /// Calls `f` with the text of every string and number in the event until it returns true;
    /// returns whether it did (keyword search).
    fn any_text(&self, f: &mut dyn FnMut(&str) -> bool) -> bool;
}

impl SigmaEvent for Value {
    fn lookup<'a>(&'a self, field: &str, out: &mut Vec<FieldValue<'a>>) {
        if let Some(v) = self.as_object().and_then(|o| o.get(field)) {
            push(v, out);
            return;
        }
        if field.contains('.') {
            walk(self, field, out);
        }
    }

    fn any_text(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match self {
            Value::String(s) => f(s),
            Value::Number(n) => f(&n.to_string()),
            Value::Bool(b) => f(if *b { "true" } else { "false" }),
            Value::Array(a) => a.iter().any(|v| v.any_text(f)),
            Value::Object(o) => o.values().any(|v| v.any_text(f)),
            Value::Null => false,
        }
    }
}

fn walk<'a>(v: &'a Value, path: &str, out: &mut Vec<FieldValue<'a>>) {
    match v {
        Value::Array(items) => {
            for item in items {
                walk(item, path, out);
            }
        }
        Value::Object(o) => {
            if let Some(child) = o.get(path) {
                push(child, out);
                return;
            }
            // Try every split point, so keys that themselves contain dots are found too.
            for (i, _) in path.match_indices('.') {
                if let Some(child) = o.get(&path[..i]) {
                    walk(child, &path[i + 1..], out);
                }
            }
        }
        _ => {}
    }
}

fn push<'a>(v: &'a Value, out: &mut Vec<FieldValue<'a>>) {
    match v {
        Value::Null => out.push(FieldValue::Null),
        Value::Bool(b) => out.push(FieldValue::Bool(*b)),
        Value::Number(n) => out.push(FieldValue::Num(n)),
        Value::String(s) => out.push(FieldValue::Str(s)),
        Value::Object(_) => out.push(FieldValue::Compound(v)),
        Value::Array(items) => {
            out.push(FieldValue::Compound(v));
            for item in items {
                if !item.is_object() && !item.is_array() {
                    push(item, out);
                }
            }
        }
    }
}
