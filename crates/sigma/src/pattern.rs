//! Sigma string values: wildcards (`*`, `?`), the backslash escaping rules, case folding, and
//! compilation to a matcher that never backtracks (exact, prefix, suffix, substring, or a
//! linear-time `regex` for the general case).

use regex::Regex;

/// One piece of a parsed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Literal text.
    Lit(String),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    Quest,
}

/// Parses a rule value's wildcards and escapes (Sigma spec §4).
///
/// ```
/// use tripline_sigma::pattern::{parse, Token};
/// assert_eq!(parse(r"a\*b*"), vec![Token::Lit("a*b".into()), Token::Star]);
/// assert_eq!(parse(r"C:\\*"), vec![Token::Lit(r"C:\".into()), Token::Star]);
/// assert_eq!(parse(r"C:\Windows"), vec![Token::Lit(r"C:\Windows".into())]);
/// ```
pub fn parse(value: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let chars: Vec<char> = value.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let start = i;
                while i < chars.len() && chars[i] == '\\' {
                    i += 1;
                }
                let n = i - start;
                match chars.get(i) {
                    Some(&w @ ('*' | '?')) => {
                        lit.extend(std::iter::repeat_n('\\', n / 2));
                        if n % 2 == 1 {
                            lit.push(w);
                        } else {
                            flush(&mut lit, &mut out);
                            out.push(if w == '*' { Token::Star } else { Token::Quest });
                        }
                        i += 1;
                    }
                    _ => lit.extend(std::iter::repeat_n('\\', n.div_ceil(2))),
                }
            }
            '*' | '?' => {
                flush(&mut lit, &mut out);
                out.push(if c == '*' { Token::Star } else { Token::Quest });
                i += 1;
            }
            _ => {
                lit.push(c);
                i += 1;
            }
        }
    }
    flush(&mut lit, &mut out);
    out
}

fn flush(lit: &mut String, out: &mut Vec<Token>) {
    if !lit.is_empty() {
        out.push(Token::Lit(std::mem::take(lit)));
    }
}

/// Literal text as tokens (values produced by encoders carry no wildcards).
pub fn literal(text: &str) -> Vec<Token> {
    if text.is_empty() {
        Vec::new()
    } else {
        vec![Token::Lit(text.to_string())]
    }
}

/// A compiled string matcher.
#[derive(Debug, Clone)]
pub struct StrMatch {
    kind: Kind,
    cased: bool,
    /// Pattern text is ASCII: case-insensitive comparison needs no allocation.
    ascii: bool,
    /// The value as a number, for numeric equality with numeric fields.
    number: Option<f64>,
}

#[derive(Debug, Clone)]
enum Kind {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    Glob(Regex),
}

impl StrMatch {
    /// Compiles tokens; `cased` keeps case, otherwise comparison ignores case.
    pub fn new(tokens: &[Token], cased: bool) -> StrMatch {
        let fold = |s: &str| {
            if cased {
                s.to_string()
            } else {
                s.to_lowercase()
            }
        };
        let kind = match tokens {
            [] => Kind::Exact(String::new()),
            [Token::Lit(s)] => Kind::Exact(fold(s)),
            [Token::Lit(s), Token::Star] => Kind::Prefix(fold(s)),
            [Token::Star, Token::Lit(s)] => Kind::Suffix(fold(s)),
            [Token::Star, Token::Lit(s), Token::Star] => Kind::Contains(fold(s)),
            [Token::Star] | [Token::Star, Token::Star] => Kind::Prefix(String::new()),
            _ => {
                let mut re = String::from(if cased { "(?s)^" } else { "(?si)^" });
                for t in tokens {
                    match t {
                        Token::Lit(s) => re.push_str(&regex::escape(s)),
                        Token::Star => re.push_str(".*"),
                        Token::Quest => re.push('.'),
                    }
                }
                re.push('$');
                Kind::Glob(Regex::new(&re).expect("escaped literals form a valid regex"))
            }
        };
        let number = match tokens {
            [Token::Lit(s)] => s.trim().parse().ok(),
            _ => None,
        };
        let ascii = tokens.iter().all(|t| match t {
            Token::Lit(s) => s.is_ascii(),
            _ => true,
        });
        StrMatch {
            kind,
            cased,
            ascii,
            number,
        }
    }

    /// Whether `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        if let Kind::Glob(re) = &self.kind {
            return re.is_match(text);
        }
        if self.cased {
            return match &self.kind {
                Kind::Exact(p) => text == p,
                Kind::Prefix(p) => text.starts_with(p.as_str()),
                Kind::Suffix(p) => text.ends_with(p.as_str()),
                Kind::Contains(p) => memchr::memmem::find(text.as_bytes(), p.as_bytes()).is_some(),
                Kind::Glob(_) => unreachable!("handled above"),
            };
        }
        if self.ascii {
            // The pattern is stored lower-case; compare bytes ignoring ASCII case, no allocation.
            let (t, eq) = (text.as_bytes(), |a: &[u8], p: &[u8]| {
                a.eq_ignore_ascii_case(p)
            });
            return match &self.kind {
                Kind::Exact(p) => eq(t, p.as_bytes()),
                Kind::Prefix(p) => t.len() >= p.len() && eq(&t[..p.len()], p.as_bytes()),
                Kind::Suffix(p) => t.len() >= p.len() && eq(&t[t.len() - p.len()..], p.as_bytes()),
                Kind::Contains(p) => {
                    let p = p.as_bytes();
                    p.is_empty() || t.windows(p.len()).any(|w| eq(w, p))
                }
                Kind::Glob(_) => unreachable!("handled above"),
            };
        }
        let t = text.to_lowercase();
        match &self.kind {
            Kind::Exact(p) => t == *p,
            Kind::Prefix(p) => t.starts_with(p.as_str()),
            Kind::Suffix(p) => t.ends_with(p.as_str()),
            Kind::Contains(p) => memchr::memmem::find(t.as_bytes(), p.as_bytes()).is_some(),
            Kind::Glob(_) => unreachable!("handled above"),
        }
    }

    /// Whether the value is a plain number (compared numerically with numeric fields).
    pub fn number(&self) -> Option<f64> {
        self.number
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: &str, text: &str) -> bool {
        StrMatch::new(&parse(v), false).matches(text)
    }

    #[test]
    fn escaping_table() {
        // From the spec's table: \\* = backslash then wildcard; \\\* = backslash, literal *.
        assert_eq!(parse(r"\\*"), vec![Token::Lit("\\".into()), Token::Star]);
        assert_eq!(parse(r"\\\*"), vec![Token::Lit("\\*".into())]);
        assert_eq!(parse(r"a\\b"), vec![Token::Lit("a\\b".into())]);
        assert_eq!(parse(r"a\\\\b"), vec![Token::Lit("a\\\\b".into())]);
        assert_eq!(parse(r"a\?"), vec![Token::Lit("a?".into())]);
    }

    #[test]
    fn shapes_and_case() {
        assert!(m("/usr/bin/curl", "/USR/bin/curl"));
        assert!(!m("/usr/bin/curl", "/usr/bin/curl2"));
        assert!(m("*curl", "/usr/bin/curl"));
        assert!(m("/usr/*", "/usr/bin/curl"));
        assert!(m("*bin*", "/usr/bin/curl"));
        assert!(m("Trojan*FOUND", "trojan.agent found"));
        assert!(m("a?c", "abc") && !m("a?c", "abbc"));
        assert!(m("", ""));
        assert!(!StrMatch::new(&parse("ABC"), true).matches("abc"));
    }

    #[test]
    fn no_exponential_backtracking() {
        let pat = "*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let text = "a".repeat(5000);
        assert!(!m(pat, &text));
    }
}
