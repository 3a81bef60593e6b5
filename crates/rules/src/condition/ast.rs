//! Condition syntax tree, as parsed (macros not yet expanded, fields not yet resolved).

use std::fmt;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All must hold.
    And(Vec<Expr>),
    /// One must hold.
    Or(Vec<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// A bare identifier: a macro reference.
    Macro(String),
    /// `lhs op rhs`.
    Check {
        /// Left side: a field or transformer.
        lhs: Operand,
        /// Operator.
        op: Op,
        /// Right side.
        rhs: Rhs,
    },
}

/// A field, possibly wrapped in transformers.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// `name` or `name[arg]`.
    Field {
        /// Field name (`proc.aname`).
        name: String,
        /// Raw argument text between the brackets.
        arg: Option<String>,
    },
    /// `tolower(...)` and friends.
    Transform(Transformer, Box<Operand>),
    /// `join(sep, list)`, `concat(a, b, ...)`, `getopt(args, optstring)[c]`: transformers over
    /// several arguments, with an optional `[arg]` (getopt's option selector).
    Multi(MultiTransformer, Vec<TransformArg>, Option<String>),
}

/// Transformers taking several arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MultiTransformer {
    /// `join(separator, list)`: the list's values joined by the separator.
    Join,
    /// `concat(a, b, ...)`: strings concatenated.
    Concat,
    /// `getopt(args, optstring)`: the short options (and their values) found in an argument
    /// list, parsed like getopt(3); with `[c]`, the value of option `c`.
    Getopt,
}

impl MultiTransformer {
    /// The name as written.
    pub fn name(self) -> &'static str {
        match self {
            MultiTransformer::Join => "join",
            MultiTransformer::Concat => "concat",
            MultiTransformer::Getopt => "getopt",
        }
    }

    /// Every multi-argument transformer.
    pub const ALL: [MultiTransformer; 3] = [
        MultiTransformer::Join,
        MultiTransformer::Concat,
        MultiTransformer::Getopt,
    ];
}

/// One argument of a [`MultiTransformer`].
#[derive(Debug, Clone, PartialEq)]
pub enum TransformArg {
    /// A field or another transformer.
    Operand(Operand),
    /// A quoted string or a number.
    Literal(String),
}

/// Value transformers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transformer {
    /// ASCII lower case.
    ToLower,
    /// ASCII upper case.
    ToUpper,
    /// Base64 decode.
    B64,
    /// Text after the last `/`.
    Basename,
    /// Length in bytes (strings) or elements (lists).
    Len,
}

impl Transformer {
    /// The name as written in conditions.
    pub fn name(self) -> &'static str {
        match self {
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::B64 => "b64",
            Transformer::Basename => "basename",
            Transformer::Len => "len",
        }
    }

    /// Every transformer.
    pub const ALL: [Transformer; 5] = [
        Transformer::ToLower,
        Transformer::ToUpper,
        Transformer::B64,
        Transformer::Basename,
        Transformer::Len,
    ];
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `=` or `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// Substring.
    Contains,
    /// Case-insensitive substring.
    IContains,
    /// Byte substring, hex literal.
    BContains,
    /// Prefix.
    StartsWith,
    /// Byte prefix, hex literal.
    BStartsWith,
    /// Suffix.
    EndsWith,
    /// Shell glob (whole string; `*` crosses `/`).
    Glob,
    /// Case-insensitive glob.
    IGlob,
    /// Regular expression, full match.
    Regex,
    /// Membership (subset for list fields).
    In,
    /// Overlap.
    Intersects,
    /// Path-prefix match on whole components.
    PMatch,
    /// Field has a value.
    Exists,
}

impl Op {
    /// The operator as written.
    pub fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::PMatch => "pmatch",
            Op::Exists => "exists",
        }
    }

    /// Operators that take a parenthesised list.
    pub fn is_list_op(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::PMatch)
    }

    /// Operators that compare numbers.
    pub fn is_ordering(self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }

    /// Every operator, longest spelling first where one is a prefix of another.
    pub const ALL: [Op; 19] = [
        Op::Eq,
        Op::Ne,
        Op::Le,
        Op::Lt,
        Op::Ge,
        Op::Gt,
        Op::Contains,
        Op::IContains,
        Op::BContains,
        Op::StartsWith,
        Op::BStartsWith,
        Op::EndsWith,
        Op::Glob,
        Op::IGlob,
        Op::Regex,
        Op::In,
        Op::Intersects,
        Op::PMatch,
        Op::Exists,
    ];

    /// Parses an operator name (`=` and `==` are the same).
    pub fn from_text(text: &str) -> Option<Op> {
        if text == "==" {
            return Some(Op::Eq);
        }
        Op::ALL.into_iter().find(|op| op.text() == text)
    }
}

/// Right-hand side of a check.
#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    /// Nothing (`exists`).
    None,
    /// One literal.
    Value(String),
    /// A parenthesised list of literals.
    List(Vec<String>),
    /// Another field of the same event (`val(f)` or a transformer).
    Field(Operand),
    /// `op oneof|anyof|allof (v1, v2...)`: the operator applied with each value.
    Quantified(Quantifier, Vec<String>),
}

/// How many values of a `oneof`/`anyof`/`allof` check must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    /// Exactly one.
    OneOf,
    /// At least one.
    AnyOf,
    /// All.
    AllOf,
}

impl Quantifier {
    /// The keyword.
    pub fn name(self) -> &'static str {
        match self {
            Quantifier::OneOf => "oneof",
            Quantifier::AnyOf => "anyof",
            Quantifier::AllOf => "allof",
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Field { name, arg: None } => f.write_str(name),
            Operand::Field {
                name,
                arg: Some(arg),
            } => {
                if arg.contains([']', '[', ' ', '"', '\'', '\t', '\n', '\r']) {
                    write!(f, "{name}[{}]", quote_always(arg))
                } else {
                    write!(f, "{name}[{arg}]")
                }
            }
            Operand::Transform(t, inner) => write!(f, "{}({inner})", t.name()),
            Operand::Multi(t, args, arg) => {
                let args: Vec<String> = args
                    .iter()
                    .map(|a| match a {
                        TransformArg::Operand(o) => o.to_string(),
                        TransformArg::Literal(l) => quote_always(l),
                    })
                    .collect();
                write!(f, "{}({})", t.name(), args.join(", "))?;
                match arg {
                    Some(a) => write!(f, "[{a}]"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Quotes a literal so the parser reads it back unchanged.
pub(crate) fn quote(s: &str) -> String {
    let bare_ok = !s.is_empty()
        && !s.chars().any(|c| {
            matches!(
                c,
                ' ' | '\t' | '\n' | '\r' | '\u{8}' | '(' | ')' | '"' | '\'' | '=' | ',' | '\\'
            )
        })
        && !matches!(s, "and" | "or" | "not");
    if bare_ok {
        return s.to_string();
    }
    quote_always(s)
}

/// Always-quoted form with escapes.
fn quote_always(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for Expr {
    /// Prints fully parenthesised text that parses back to the same tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(items) | Expr::Or(items) => {
                let sep = if matches!(self, Expr::And(_)) {
                    " and "
                } else {
                    " or "
                };
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    match item {
                        Expr::And(_) | Expr::Or(_) => write!(f, "({item})")?,
                        _ => write!(f, "{item}")?,
                    }
                }
                Ok(())
            }
            Expr::Not(inner) => write!(f, "not ({inner})"),
            Expr::Macro(name) => f.write_str(name),
            Expr::Check { lhs, op, rhs } => {
                write!(f, "{lhs} {}", op.text())?;
                match rhs {
                    Rhs::None => Ok(()),
                    Rhs::Value(v) => write!(f, " {}", quote(v)),
                    Rhs::List(items) => {
                        f.write_str(" (")?;
                        for (i, item) in items.iter().enumerate() {
                            if i > 0 {
                                f.write_str(", ")?;
                            }
                            f.write_str(&quote(item))?;
                        }
                        f.write_str(")")
                    }
                    Rhs::Quantified(q, items) => {
                        let items: Vec<String> = items.iter().map(|i| quote(i)).collect();
                        write!(f, " {} ({})", q.name(), items.join(", "))
                    }
                    Rhs::Field(op @ Operand::Field { .. }) => write!(f, " val({op})"),
                    Rhs::Field(op) => write!(f, " {op}"),
                }
            }
        }
    }
}
