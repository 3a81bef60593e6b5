//! Output templates: literal text with `%field` tokens, compiled once per rule.

use tripline_event::{Event, FieldTable, Value};

use crate::condition::{self, Transformer};
use crate::matcher::{compile_operand, Operand};

/// A compiled output template.
///
/// ```
/// use tripline_event::{FieldDef, FieldTable, FieldType};
/// use tripline_rules::OutputTemplate;
/// let table = FieldTable::new(vec![FieldDef::new("ka.verb", FieldType::String, "verb")]);
/// let t = OutputTemplate::compile("verb=%ka.verb!", &table).unwrap();
/// assert_eq!(t.field_names(), vec!["ka.verb"]);
/// assert!(OutputTemplate::compile("%nope", &table).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct OutputTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Field {
        name: String,
        width: Option<usize>,
        operand: Operand,
    },
}

impl OutputTemplate {
    /// Compiles `text`; the error is the bad token, as in `invalid formatting token <tok>`.
    pub fn compile(text: &str, table: &FieldTable) -> Result<OutputTemplate, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'%' {
                let next = text[i..].find('%').map_or(text.len(), |n| i + n);
                literal.push_str(&text[i..next]);
                i = next;
                continue;
            }
            i += 1;
            let width_start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let width = text[width_start..i].parse().ok();
            let (token, end) = token_at(text, i);
            if token.is_empty() {
                return Err(format!(
                    "invalid formatting token {}",
                    text[i..].split_whitespace().next().unwrap_or("%")
                ));
            }
            if token == "container.info" {
                // Deprecated; Falco expands it to nothing (the container plugin adds fields).
                i = end;
                continue;
            }
            let ast =
                parse_operand(token).ok_or_else(|| format!("invalid formatting token {token}"))?;
            let (operand, _, _) = compile_operand(&ast, table, false)
                .map_err(|_| format!("invalid formatting token {token}"))?;
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Field {
                name: token.to_string(),
                width,
                operand,
            });
            i = end;
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(OutputTemplate { parts })
    }

    /// Appends another template (Falco's `append_output`): a space, then its parts.
    pub fn append(&mut self, extra: &OutputTemplate) {
        self.parts.push(Part::Text(" ".into()));
        self.parts.extend(extra.parts.iter().cloned());
    }

    /// Names of the fields in the template, in order (duplicates removed).
    pub fn field_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for p in &self.parts {
            if let Part::Field { name, .. } = p {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// Renders the message and the typed `output_fields`.
    pub fn render(&self, ev: &dyn Event) -> (String, Vec<(String, serde_json::Value)>) {
        let mut out = String::new();
        let mut fields: Vec<(String, serde_json::Value)> = Vec::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field {
                    name,
                    width,
                    operand,
                } => {
                    let value = operand.read(ev);
                    let text = value.as_ref().map_or("<NA>".into(), Value::to_text);
                    match width {
                        Some(w) => {
                            let s: String = text.chars().take(*w).collect();
                            out.push_str(&format!("{s:<w$}"));
                        }
                        None => out.push_str(&text),
                    }
                    if !fields.iter().any(|(n, _)| n == name) {
                        let json = value.map_or(serde_json::Value::Null, |v| v.to_json());
                        fields.push((name.clone(), json));
                    }
                }
            }
        }
        (out, fields)
    }
}

/// The longest field-or-transformer token starting at `i`.
fn token_at(text: &str, i: usize) -> (&str, usize) {
    let b = text.as_bytes();
    // Transformer call: name(...) with balanced parentheses.
    for t in Transformer::ALL {
        let name = t.name();
        if text[i..].starts_with(name) && b.get(i + name.len()) == Some(&b'(') {
            let mut depth = 0;
            for (j, &c) in b.iter().enumerate().skip(i + name.len()) {
                match c {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            return (&text[i..=j], j + 1);
                        }
                    }
                    _ => {}
                }
            }
            return ("", i);
        }
    }
    let mut j = i;
    loop {
        let seg = j;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
        if j == seg {
            // Nothing after a dot: give the dot back.
            j = seg.saturating_sub(1).max(i);
            break;
        }
        if j + 1 < b.len() && b[j] == b'.' && (b[j + 1].is_ascii_alphanumeric() || b[j + 1] == b'_')
        {
            j += 1;
        } else {
            break;
        }
    }
    if j < b.len() && b[j] == b'[' {
        if let Some(close) = text[j..].find(']') {
            j += close + 1;
        }
    }
    (&text[i..j], j)
}

fn parse_operand(token: &str) -> Option<condition::Operand> {
    // Reuse the condition parser: `<token> exists` is a check whose left side is the operand.
    match condition::parse(&format!("{token} exists")).ok()? {
        condition::Expr::Check { lhs, .. } => Some(lhs),
        _ => None,
    }
}
