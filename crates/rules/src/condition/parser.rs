//! Recursive-descent parser for Falco conditions, following libsinsp's grammar.

use super::ast::{Expr, MultiTransformer, Op, Operand, Quantifier, Rhs, TransformArg, Transformer};

/// Deepest nesting accepted. Falco allows 1000; we stop earlier so that parsing, macro
/// expansion and evaluation stay well inside a thread's stack (upstream rules nest < 20).
pub const MAX_DEPTH: usize = 200;

/// A syntax error, worded like Falco's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Message, e.g. `unexpected token after 'execve', expecting 'or', 'and'`.
    pub message: String,
    /// Byte offset in the condition text.
    pub offset: usize,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses a condition (after list expansion) into a syntax tree.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
        depth: 0,
        last: String::new(),
    };
    p.skip_blank();
    if p.pos >= p.s.len() {
        return Err(p.error("empty condition"));
    }
    let expr = p.or_expr()?;
    p.skip_blank();
    if p.pos < p.s.len() {
        return Err(p.error(&format!(
            "unexpected token after '{}', expecting 'or', 'and'",
            p.last
        )));
    }
    Ok(expr)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
    /// Text of the last token consumed, for error messages.
    last: String,
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x08)
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Parser<'a> {
    fn error(&self, message: &str) -> ParseError {
        ParseError {
            message: message.to_string(),
            offset: self.pos,
        }
    }

    fn skip_blank(&mut self) -> bool {
        let start = self.pos;
        while self.pos < self.s.len() && is_blank(self.s[self.pos]) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    /// Consumes `word` if it is followed by a blank or `(` (or end, when `end_ok`).
    fn keyword(&mut self, word: &str, end_ok: bool) -> bool {
        if !self.rest().starts_with(word) {
            return false;
        }
        let next = self.s.get(self.pos + word.len()).copied();
        let ok = match next {
            None => end_ok,
            Some(b) => is_blank(b) || b == b'(',
        };
        if ok {
            self.pos += word.len();
            self.last = word.to_string();
        }
        ok
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("exceeded max depth limit"));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut items = vec![self.and_expr()?];
        loop {
            let save = self.pos;
            self.skip_blank();
            if self.keyword("or", false) {
                self.skip_blank();
                items.push(self.and_expr()?);
            } else {
                self.pos = save;
                break;
            }
        }
        self.depth -= 1;
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Expr::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.not_expr()?];
        loop {
            let save = self.pos;
            self.skip_blank();
            if self.keyword("and", false) {
                self.skip_blank();
                items.push(self.not_expr()?);
            } else {
                self.pos = save;
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Expr::And(items)
        })
    }

    fn not_expr(&mut self) -> Result<Expr, ParseError> {
        self.skip_blank();
        if self.keyword("not", false) {
            self.enter()?;
            self.skip_blank();
            let inner = self.not_expr()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.check()
    }

    fn check(&mut self) -> Result<Expr, ParseError> {
        self.skip_blank();
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                self.last = "(".into();
                let inner = self.or_expr()?;
                self.skip_blank();
                if self.peek() != Some(b')') {
                    return Err(self.error(&format!("expected ')' after '{}'", self.last)));
                }
                self.pos += 1;
                self.last = ")".into();
                Ok(inner)
            }
            Some(b) if is_ident_start(b) => {
                if let Some(lhs) = self.transformer_or_field()? {
                    let (op, rhs) = self.condition()?;
                    return Ok(Expr::Check { lhs, op, rhs });
                }
                let start = self.pos;
                while self.peek().is_some_and(is_ident_char) {
                    self.pos += 1;
                }
                let name = &self.text[start..self.pos];
                self.last = name.to_string();
                Ok(Expr::Macro(name.to_string()))
            }
            _ => Err(self.error(&format!(
                "unexpected token after '{}', expecting a condition",
                self.last
            ))),
        }
    }

    /// A transformer call or a field name; `None` when the text is a plain identifier.
    fn transformer_or_field(&mut self) -> Result<Option<Operand>, ParseError> {
        for t in MultiTransformer::ALL {
            let name = t.name();
            if self.rest().starts_with(name) && self.s.get(self.pos + name.len()) == Some(&b'(') {
                self.pos += name.len() + 1;
                self.enter()?;
                let mut args = Vec::new();
                loop {
                    self.skip_blank();
                    // Quoted strings and numbers are literals; anything else a field.
                    let literal = self.peek().is_some_and(|c| {
                        matches!(c, b'"' | b'\'' | b'-' | b'+') || c.is_ascii_digit()
                    });
                    let arg = if literal {
                        TransformArg::Literal(self.string()?)
                    } else {
                        match self.transformer_or_field()? {
                            Some(op) => TransformArg::Operand(op),
                            None => {
                                return Err(self.error(&format!(
                                    "expected a field, transformer or quoted string in '{name}('"
                                )))
                            }
                        }
                    };
                    args.push(arg);
                    self.skip_blank();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b')') => break,
                        _ => return Err(self.error(&format!("expected ',' or ')' in '{name}('"))),
                    }
                }
                self.pos += 1;
                self.depth -= 1;
                self.last = ")".into();
                let mut arg = None;
                if self.peek() == Some(b'[') {
                    let end = self
                        .rest()
                        .find(']')
                        .ok_or_else(|| self.error("expected ']'"))?;
                    arg = Some(self.text[self.pos + 1..self.pos + end].to_string());
                    self.pos += end + 1;
                    self.last = "]".into();
                }
                return Ok(Some(Operand::Multi(t, args, arg)));
            }
        }
        for t in Transformer::ALL {
            let name = t.name();
            if self.rest().starts_with(name) && self.s.get(self.pos + name.len()) == Some(&b'(') {
                self.pos += name.len() + 1;
                self.enter()?;
                self.skip_blank();
                let inner = match self.transformer_or_field()? {
                    Some(op) => op,
                    None => return Err(self.error(&format!("expected a field after '{name}('"))),
                };
                self.skip_blank();
                if self.peek() != Some(b')') {
                    return Err(self.error(&format!("expected ')' after '{}'", self.last)));
                }
                self.pos += 1;
                self.depth -= 1;
                self.last = ")".into();
                return Ok(Some(Operand::Transform(t, Box::new(inner))));
            }
        }
        self.field()
    }

    /// `ident(.ident)+ [ '[' arg ']' ]`; `None` (position unchanged) without a dot.
    fn field(&mut self) -> Result<Option<Operand>, ParseError> {
        let start = self.pos;
        let mut segments = 0;
        let mut i = self.pos;
        loop {
            if !self.s.get(i).copied().is_some_and(is_ident_start) {
                break;
            }
            while self.s.get(i).copied().is_some_and(is_ident_char) {
                i += 1;
            }
            segments += 1;
            if self.s.get(i) == Some(&b'.')
                && self.s.get(i + 1).copied().is_some_and(is_ident_start)
            {
                i += 1;
            } else {
                break;
            }
        }
        if segments < 2 {
            return Ok(None);
        }
        let name = self.text[start..i].to_string();
        self.pos = i;
        self.last = name.clone();
        let mut arg = None;
        if self.peek() == Some(b'[') {
            self.pos += 1;
            let value = if matches!(self.peek(), Some(b'"' | b'\'')) {
                self.quoted()?
            } else {
                let a = self.pos;
                while self
                    .peek()
                    .is_some_and(|b| !is_blank(b) && !matches!(b, b'[' | b']' | b'"' | b'\''))
                {
                    self.pos += 1;
                }
                if a == self.pos {
                    return Err(self.error(&format!("expected a field argument after '{name}['")));
                }
                self.text[a..self.pos].to_string()
            };
            if self.peek() != Some(b']') {
                return Err(self.error(&format!("expected ']' after the argument of '{name}'")));
            }
            self.pos += 1;
            self.last = format!("{name}[{value}]");
            arg = Some(value);
        }
        Ok(Some(Operand::Field { name, arg }))
    }

    fn operator(&mut self) -> Result<Op, ParseError> {
        self.skip_blank();
        for sym in ["==", "!=", "<=", ">=", "=", "<", ">"] {
            if self.rest().starts_with(sym) {
                self.pos += sym.len();
                self.last = sym.to_string();
                return Ok(Op::from_text(sym).unwrap());
            }
        }
        // Longest word first so `in` does not eat `intersects`.
        let mut words: Vec<Op> = Op::ALL
            .into_iter()
            .filter(|o| o.text().as_bytes()[0].is_ascii_alphabetic())
            .collect();
        words.sort_by_key(|o| std::cmp::Reverse(o.text().len()));
        for op in words {
            if self.keyword(op.text(), op == Op::Exists) {
                return Ok(op);
            }
            if op == Op::Exists && self.rest().starts_with("exists") {
                let next = self.s.get(self.pos + 6).copied();
                if next == Some(b')') {
                    self.pos += 6;
                    self.last = "exists".into();
                    return Ok(op);
                }
            }
        }
        Err(self.error(&format!(
            "expected an operator after '{}' (=, !=, <, <=, >, >=, contains, icontains, bcontains, startswith, bstartswith, endswith, glob, iglob, regex, in, intersects, pmatch, exists)",
            self.last
        )))
    }

    fn condition(&mut self) -> Result<(Op, Rhs), ParseError> {
        let op = self.operator()?;
        if op == Op::Exists {
            return Ok((op, Rhs::None));
        }
        self.skip_blank();
        // Field on the right: val(f) or a transformer.
        if self.rest().starts_with("val(") {
            self.pos += 4;
            self.skip_blank();
            let Some(field) = self.transformer_or_field()? else {
                return Err(self.error("expected a field inside val()"));
            };
            self.skip_blank();
            if self.peek() != Some(b')') {
                return Err(self.error("expected ')' to close val("));
            }
            self.pos += 1;
            self.last = ")".into();
            return Ok((op, Rhs::Field(field)));
        }
        let save = self.pos;
        let names = Transformer::ALL
            .iter()
            .map(|t| t.name())
            .chain(MultiTransformer::ALL.iter().map(|t| t.name()));
        if let Some(t) = names
            .into_iter()
            .find(|t| self.rest().starts_with(t) && self.s.get(self.pos + t.len()) == Some(&b'('))
        {
            let _ = t;
            if let Some(op_rhs) = self.transformer_or_field()? {
                return Ok((op, Rhs::Field(op_rhs)));
            }
            self.pos = save;
        }
        if !op.is_list_op() {
            for q in [Quantifier::OneOf, Quantifier::AnyOf, Quantifier::AllOf] {
                let kw = q.name();
                let next = self.s.get(self.pos + kw.len()).copied();
                if self.rest().starts_with(kw)
                    && matches!(next, Some(b'(' | b' ' | b'\t' | b'\n' | b'\r'))
                {
                    self.pos += kw.len();
                    self.last = kw.into();
                    self.skip_blank();
                    let items = if self.peek() == Some(b'(') {
                        self.list_value()?
                    } else {
                        vec![self.string()?]
                    };
                    return Ok((op, Rhs::Quantified(q, items)));
                }
            }
        }
        if op.is_list_op() {
            if self.peek() == Some(b'(') {
                return Ok((op, Rhs::List(self.list_value()?)));
            }
            // A bare word: a single value (a list name that was not expanded).
            return Ok((op, Rhs::List(vec![self.string()?])));
        }
        Ok((op, Rhs::Value(self.string()?)))
    }

    fn list_value(&mut self) -> Result<Vec<String>, ParseError> {
        self.pos += 1; // '('
        self.last = "(".into();
        let mut items = Vec::new();
        self.skip_blank();
        if self.peek() == Some(b')') {
            self.pos += 1;
            self.last = ")".into();
            return Ok(items);
        }
        loop {
            self.skip_blank();
            items.push(self.string()?);
            self.skip_blank();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.last = ",".into();
                }
                Some(b')') => {
                    self.pos += 1;
                    self.last = ")".into();
                    return Ok(items);
                }
                _ => {
                    return Err(self.error(&format!(
                        "expected ',' or ')' after '{}' in a list",
                        self.last
                    )))
                }
            }
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        match self.peek() {
            Some(b'"' | b'\'') => self.quoted(),
            Some(_) => {
                let start = self.pos;
                while self.peek().is_some_and(|b| {
                    !is_blank(b) && !matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',')
                }) {
                    self.pos += 1;
                }
                if start == self.pos {
                    return Err(self.error(&format!("expected a value after '{}'", self.last)));
                }
                let word = &self.text[start..self.pos];
                self.last = word.to_string();
                Ok(word.to_string())
            }
            None => Err(self.error(&format!("expected a value after '{}'", self.last))),
        }
    }

    /// A quoted string with Falco's escapes.
    fn quoted(&mut self) -> Result<String, ParseError> {
        let quote = self.s[self.pos];
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                self.pos = start;
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            if b == quote {
                break;
            }
            if b != b'\\' {
                out.push(b);
                continue;
            }
            let Some(e) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            match e {
                b'\\' => out.push(b'\\'),
                b'/' => out.push(b'/'),
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b' ' => out.push(b'\\'), // Falco quirk kept for an old rule.
                b'x' => {
                    let hex = self.text.get(self.pos..self.pos + 2).unwrap_or("");
                    let v = u8::from_str_radix(hex, 16)
                        .map_err(|_| self.error("unsupported string escape sequence"))?;
                    out.push(v);
                    self.pos += 2;
                }
                b'"' if quote == b'"' => out.push(b'"'),
                b'\'' if quote == b'\'' => out.push(b'\''),
                _ => return Err(self.error("unsupported string escape sequence")),
            }
        }
        let s = String::from_utf8(out).map_err(|_| self.error("string is not valid UTF-8"))?;
        self.last = s.clone();
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str) -> Operand {
        Operand::Field {
            name: name.into(),
            arg: None,
        }
    }

    #[test]
    fn precedence_not_and_or() {
        let e = parse("a or b and not c").unwrap();
        assert_eq!(
            e,
            Expr::Or(vec![
                Expr::Macro("a".into()),
                Expr::And(vec![
                    Expr::Macro("b".into()),
                    Expr::Not(Box::new(Expr::Macro("c".into())))
                ])
            ])
        );
    }

    #[test]
    fn operators_without_blanks() {
        let e = parse("fd.num>=0 and proc.name=bash").unwrap();
        let Expr::And(items) = e else { panic!() };
        assert_eq!(
            items[0],
            Expr::Check {
                lhs: field("fd.num"),
                op: Op::Ge,
                rhs: Rhs::Value("0".into())
            }
        );
    }

    #[test]
    fn lists_args_transformers_and_val() {
        let e = parse(
            r#"tolower(proc.aname[2]) in (sh, "a b", '(x)') and proc.name = val(proc.pname)"#,
        )
        .unwrap();
        let Expr::And(items) = e else { panic!() };
        assert_eq!(
            items[0],
            Expr::Check {
                lhs: Operand::Transform(
                    Transformer::ToLower,
                    Box::new(Operand::Field {
                        name: "proc.aname".into(),
                        arg: Some("2".into())
                    })
                ),
                op: Op::In,
                rhs: Rhs::List(vec!["sh".into(), "a b".into(), "(x)".into()])
            }
        );
        assert_eq!(
            items[1],
            Expr::Check {
                lhs: field("proc.name"),
                op: Op::Eq,
                rhs: Rhs::Field(field("proc.pname"))
            }
        );
    }

    #[test]
    fn errors_read_like_falco() {
        assert_eq!(
            parse("evt.type=execve foo").unwrap_err().message,
            "unexpected token after 'execve', expecting 'or', 'and'"
        );
        assert!(parse("").is_err());
        assert!(parse("(a").is_err());
        assert!(parse("proc.name = 'x\\q'").is_err());
        let deep = "(".repeat(5000) + "a" + &")".repeat(5000);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn not_with_paren_and_exists() {
        let e = parse("not(ka.target.subresource exists)").unwrap();
        assert_eq!(
            e,
            Expr::Not(Box::new(Expr::Check {
                lhs: field("ka.target.subresource"),
                op: Op::Exists,
                rhs: Rhs::None
            }))
        );
        assert_eq!(parse("(a)").unwrap(), Expr::Macro("a".into()));
        assert!(parse("ka.verb intersects ()").is_ok());
    }
}
