//! The `condition` language: `and`, `or`, `not`, parentheses, `1 of x*`, `all of them`.

/// A compiled condition over search identifiers (by index).
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// One identifier.
    Id(usize),
    /// All must hold.
    And(Vec<Cond>),
    /// Any must hold.
    Or(Vec<Cond>),
    /// Negation.
    Not(Box<Cond>),
}

impl Cond {
    /// Evaluates with `f` answering whether identifier `i` matched.
    pub fn eval(&self, f: &mut dyn FnMut(usize) -> bool) -> bool {
        match self {
            Cond::Id(i) => f(*i),
            Cond::And(c) => c.iter().all(|c| c.eval(f)),
            Cond::Or(c) => c.iter().any(|c| c.eval(f)),
            Cond::Not(c) => !c.eval(f),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Of(bool), // true = all of, false = 1/any of
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let words: Vec<String> = text
        .replace('(', " ( ")
        .replace(')', " ) ")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        let lower = w.to_ascii_lowercase();
        let tok = match lower.as_str() {
            "(" => Tok::LParen,
            ")" => Tok::RParen,
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            "1" | "any" | "all" if words.get(i + 1).map(|s| s.to_ascii_lowercase()) == Some("of".into()) => {
                i += 1;
                Tok::Of(lower == "all")
            }
            "|" => return Err("the v1 aggregation syntax ('| count() ...') is not supported; use a correlation rule".into()),
            "near" => return Err("'near' is obsolete; use a temporal correlation rule".into()),
            _ if w.contains('|') => return Err("the v1 aggregation syntax ('| count() ...') is not supported; use a correlation rule".into()),
            _ => Tok::Word(w.to_string()),
        };
        toks.push(tok);
        i += 1;
    }
    Ok(toks)
}

/// Parses `text` against the rule's identifiers.
///
/// ```
/// use tripline_sigma::condition::{parse, Cond};
/// let ids = ["selection".to_string(), "filter_a".to_string(), "filter_b".to_string()];
/// let c = parse("selection and not 1 of filter_*", &ids).unwrap();
/// assert!(c.eval(&mut |i| i == 0));
/// assert!(!c.eval(&mut |i| i == 0 || i == 2));
/// assert!(parse("1 of nothing_*", &ids).is_err());
/// ```
pub fn parse(text: &str, ids: &[String]) -> Result<Cond, String> {
    let toks = tokenize(text)?;
    let mut p = Parser { toks, pos: 0, ids };
    let c = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected '{}' in condition", p.describe()));
    }
    Ok(c)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    ids: &'a [String],
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn describe(&self) -> String {
        match self.peek() {
            Some(Tok::Word(w)) => w.clone(),
            Some(t) => format!("{t:?}").to_lowercase(),
            None => "end".into(),
        }
    }

    fn or(&mut self) -> Result<Cond, String> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Cond::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Cond, String> {
        let mut parts = vec![self.not()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Cond::And(parts)
        })
    }

    fn not(&mut self) -> Result<Cond, String> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Cond, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::LParen) => {
                self.pos += 1;
                let c = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(format!("expected ')' but found '{}'", self.describe()));
                }
                self.pos += 1;
                Ok(c)
            }
            Some(Tok::Of(all)) => {
                self.pos += 1;
                let Some(Tok::Word(target)) = self.toks.get(self.pos).cloned() else {
                    return Err("expected an identifier pattern or 'them' after 'of'".into());
                };
                self.pos += 1;
                let picked: Vec<Cond> = self
                    .ids
                    .iter()
                    .enumerate()
                    .filter(|(_, id)| {
                        if target == "them" {
                            !id.starts_with('_')
                        } else {
                            wildcard(&target, id)
                        }
                    })
                    .map(|(i, _)| Cond::Id(i))
                    .collect();
                if picked.is_empty() {
                    return Err(format!("'{target}' matches no search identifier"));
                }
                Ok(if all {
                    Cond::And(picked)
                } else {
                    Cond::Or(picked)
                })
            }
            Some(Tok::Word(w)) => {
                self.pos += 1;
                match self.ids.iter().position(|id| *id == w) {
                    Some(i) => Ok(Cond::Id(i)),
                    None => Err(format!("unknown search identifier '{w}'")),
                }
            }
            _ => Err(format!(
                "expected an identifier but found '{}'",
                self.describe()
            )),
        }
    }
}

/// `*` wildcards over identifier names.
fn wildcard(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) {
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
    use super::*;

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn precedence_not_and_or() {
        let ids = ids(&["a", "b", "c"]);
        // a or b and not c  ==  a or (b and (not c))
        let c = parse("a or b and not c", &ids).unwrap();
        assert!(c.eval(&mut |i| i == 0 || i == 2));
        assert!(!c.eval(&mut |i| i == 1 || i == 2));
        assert!(c.eval(&mut |i| i == 1));
    }

    #[test]
    fn them_skips_underscore_ids() {
        let ids = ids(&["a", "_b"]);
        let c = parse("all of them", &ids).unwrap();
        assert!(c.eval(&mut |i| i == 0));
    }

    #[test]
    fn errors() {
        let ids = ids(&["a"]);
        assert!(parse("a and", &ids).is_err());
        assert!(parse("(a", &ids).is_err());
        assert!(parse("b", &ids).is_err());
        assert!(parse("a | count() > 5", &ids).is_err());
    }
}
