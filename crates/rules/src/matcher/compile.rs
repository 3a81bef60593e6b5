//! Syntax tree (macros expanded) → [`Matcher`], checked against a source's field table.

use std::net::IpAddr;

use ipnet::IpNet;
use regex::RegexBuilder;
use tripline_event::{BindError, FieldArg, FieldTable, FieldType};

use super::{Check, Glob, Literal, LiteralSet, Matcher, MultiArg, Operand, PathPrefixes, Test};
use crate::condition::{self, Expr, MultiTransformer, Op, Rhs, Transformer};

/// Largest compiled regex accepted, in bytes (a guard against pathological rules).
const REGEX_SIZE_LIMIT: usize = 4 << 20;

/// Why a condition did not compile. Messages follow Falco's wording where Falco has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// What went wrong.
    pub message: String,
    /// The field was unknown (rules with `skip-if-unknown-filter` are skipped instead).
    pub unknown_field: bool,
}

impl CompileError {
    fn new(message: String) -> CompileError {
        CompileError {
            message,
            unknown_field: false,
        }
    }
}

/// Compiles a macro-free condition against `table`.
pub fn compile(expr: &Expr, table: &FieldTable) -> Result<Matcher, CompileError> {
    Ok(match expr {
        Expr::And(items) => Matcher::And(
            items
                .iter()
                .map(|e| compile(e, table))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(items) => Matcher::Or(
            items
                .iter()
                .map(|e| compile(e, table))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Not(inner) => Matcher::Not(Box::new(compile(inner, table)?)),
        Expr::Macro(name) => {
            return Err(CompileError::new(format!(
                "Undefined macro '{name}' used in filter."
            )))
        }
        Expr::Check { lhs, op, rhs } => {
            Matcher::Check(Box::new(compile_check(lhs, *op, rhs, table)?))
        }
    })
}

/// Resolves an operand; used by the output formatter too.
pub(crate) fn compile_operand(
    op: &condition::Operand,
    table: &FieldTable,
    inside_transform: bool,
) -> Result<(Operand, FieldType, bool), CompileError> {
    match op {
        condition::Operand::Field { name, arg } => {
            let arg = arg.clone().map(FieldArg::Key).unwrap_or_default();
            let field = table.bind(name, arg).map_err(|e| match e {
                BindError::Unknown => CompileError {
                    message: format!("filter_check called with nonexistent field {name}"),
                    unknown_field: true,
                },
                BindError::MissingArg => {
                    CompileError::new(format!("filter_check field {name} requires an argument"))
                }
                BindError::BadArg(m) => CompileError::new(m),
            })?;
            if inside_transform && table.def(field.id).no_transform {
                return Err(CompileError::new(format!(
                    "field {name} cannot be used inside a transformer or val()"
                )));
            }
            let (ty, list) = (field.ty, field.list);
            Ok((Operand::Field(field), ty, list))
        }
        condition::Operand::Multi(t, args, arg) => {
            let mut compiled = Vec::new();
            let mut kinds = Vec::new(); // (is_list, is_string)
            for a in args {
                match a {
                    condition::TransformArg::Literal(l) => {
                        compiled.push(MultiArg::Literal(l.clone()));
                        kinds.push((false, true));
                    }
                    condition::TransformArg::Operand(o) => {
                        let (o, ty, list) = compile_operand(o, table, true)?;
                        compiled.push(MultiArg::Operand(o));
                        kinds.push((list, ty == FieldType::String));
                    }
                }
            }
            let name = t.name();
            let bad = |m: &str| Err(CompileError::new(format!("{name}(): {m}")));
            let list_result = match t {
                MultiTransformer::Join => {
                    if kinds.len() != 2 {
                        return bad("needs exactly 2 arguments: separator and list");
                    }
                    if kinds[0].0 {
                        return bad("the separator must be a single value, not a list");
                    }
                    if !kinds[1].0 {
                        return bad("the second argument must be a list");
                    }
                    false
                }
                MultiTransformer::Concat => {
                    if kinds.len() < 2 {
                        return bad("needs at least 2 arguments");
                    }
                    if kinds.iter().any(|&(list, string)| list || !string) {
                        return bad("arguments must be strings");
                    }
                    false
                }
                MultiTransformer::Getopt => {
                    if kinds.len() != 2 {
                        return bad("needs exactly 2 arguments: args list and optstring");
                    }
                    if !kinds[0].0 || kinds[1].0 || !kinds[0].1 || !kinds[1].1 {
                        return bad("the first argument must be a list of strings, the second a single string");
                    }
                    if arg.as_ref().is_some_and(|a| a.chars().count() != 1) {
                        return bad("the field argument must be a single option character");
                    }
                    arg.is_none()
                }
            };
            if arg.is_some() && *t != MultiTransformer::Getopt {
                return bad("does not take a field argument");
            }
            let selector = arg.as_ref().and_then(|a| a.chars().next());
            Ok((
                Operand::Multi(*t, compiled, selector),
                FieldType::String,
                list_result,
            ))
        }
        condition::Operand::Transform(t, inner) => {
            let (inner, _, list) = compile_operand(inner, table, true)?;
            let ty = match t {
                Transformer::Len => FieldType::Unsigned,
                _ => FieldType::String,
            };
            let list = list && *t != Transformer::Len;
            Ok((Operand::Transform(*t, Box::new(inner)), ty, list))
        }
    }
}

fn compile_check(
    lhs: &condition::Operand,
    op: Op,
    rhs: &Rhs,
    table: &FieldTable,
) -> Result<Check, CompileError> {
    let (operand, ty, list) = compile_operand(lhs, table, false)?;
    let name = lhs.to_string();
    if list && !matches!(op, Op::Exists | Op::In | Op::Intersects) && !matches!(rhs, Rhs::Field(_))
    {
        // Falco allows only exists/in/intersects on list fields; for plugin list fields we also
        // accept string operators, applied to any element (what users of old k8s rules expect).
        if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) {
            return Err(CompileError::new(format!(
                "operator '{}' cannot be used with list field {name}",
                op.text()
            )));
        }
    }
    if matches!(ty, FieldType::Bool | FieldType::IpAddr | FieldType::IpNet)
        && !matches!(op, Op::Eq | Op::Ne | Op::In | Op::Intersects | Op::Exists)
    {
        return Err(CompileError::new(format!(
            "operator '{}' is not supported on {} field {name}",
            op.text(),
            type_name(ty)
        )));
    }
    if let Rhs::Quantified(q, items) = rhs {
        if op.is_list_op() || op == Op::Exists {
            return Err(CompileError::new(format!(
                "'{}' applies to string operators, not '{}'",
                q.name(),
                op.text()
            )));
        }
        let tests = items
            .iter()
            .map(|v| compile_check(lhs, op, &Rhs::Value(v.clone()), table).map(|c| c.test))
            .collect::<Result<_, _>>()?;
        return Ok(Check {
            lhs: operand,
            test: Test::Quantified(*q, tests),
        });
    }
    let test = match (op, rhs) {
        (Op::Exists, _) => Test::Exists,
        (op, Rhs::Field(other)) => {
            let (other, _, _) = compile_operand(other, table, true)?;
            Test::Field(op, other)
        }
        (Op::In | Op::Intersects, Rhs::List(items)) => Test::Set {
            // `in` on a declared list field (`ka.req.pod.containers.image`) means every element
            // is in the set; on a multi-valued field such as `proc.aname` without an index it
            // means any value is, as for every other operator (Falco compares each ancestor).
            subset: op == Op::In && list,
            set: LiteralSet::new(
                items
                    .iter()
                    .map(|v| literal(v, ty, &name, true))
                    .collect::<Result<_, _>>()?,
            ),
        },
        (Op::PMatch, Rhs::List(items)) => {
            Test::PMatch(PathPrefixes::new(items).map_err(CompileError::new)?)
        }
        (Op::Regex, Rhs::Value(v)) => Test::Regex(
            RegexBuilder::new(&format!("^(?:{v})$"))
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| CompileError::new(format!("invalid regex '{v}': {e}")))?,
        ),
        (Op::Glob | Op::IGlob, Rhs::Value(v)) => {
            Test::Glob(Glob::new(v, op == Op::IGlob).map_err(CompileError::new)?)
        }
        (Op::BContains | Op::BStartsWith, Rhs::Value(v)) => Test::Compare(
            op,
            Literal::Bytes(decode_hex(v).ok_or_else(|| {
                CompileError::new(format!("'{v}' is not a valid hex string for {}", op.text()))
            })?),
        ),
        (op, Rhs::Value(v)) => {
            let textual = matches!(
                op,
                Op::Contains | Op::IContains | Op::StartsWith | Op::EndsWith
            );
            let ty = if textual { FieldType::String } else { ty };
            Test::Compare(op, literal(v, ty, &name, false)?)
        }
        (op, Rhs::List(_)) => {
            return Err(CompileError::new(format!(
                "operator '{}' does not take a list",
                op.text()
            )))
        }
        (_, Rhs::Quantified(..)) => unreachable!("handled above"),
        (op, Rhs::None) => {
            return Err(CompileError::new(format!(
                "operator '{}' needs a value",
                op.text()
            )))
        }
    };
    Ok(Check { lhs: operand, test })
}

fn type_name(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Bool => "bool",
        FieldType::IpAddr => "ipaddr",
        FieldType::IpNet => "ipnet",
        _ => "this",
    }
}

/// Converts a literal to the field's type, as Falco does at load time.
fn literal(text: &str, ty: FieldType, field: &str, in_set: bool) -> Result<Literal, CompileError> {
    let bad =
        |what: &str| CompileError::new(format!("'{text}' is not a valid {what} for field {field}"));
    Ok(match ty {
        FieldType::String => Literal::Str(text.to_string()),
        FieldType::Unsigned => Literal::Unsigned(parse_number(text).ok_or_else(|| bad("number"))?),
        FieldType::Signed => Literal::Signed(
            text.parse()
                .ok()
                .or_else(|| parse_number(text).and_then(|n| i64::try_from(n).ok()))
                .ok_or_else(|| bad("number"))?,
        ),
        FieldType::Double => Literal::Double(text.parse().map_err(|_| bad("number"))?),
        FieldType::Bool => Literal::Bool(match text {
            "true" => true,
            "false" => false,
            _ => return Err(bad("boolean (true or false)")),
        }),
        FieldType::IpAddr => match text.parse::<IpAddr>() {
            Ok(ip) => Literal::Ip(ip),
            Err(_) if in_set => Literal::Net(text.parse().map_err(|_| bad("IP address"))?),
            Err(_) => return Err(bad("IP address")),
        },
        FieldType::IpNet => match text.parse::<IpNet>() {
            Ok(n) => Literal::Net(n),
            Err(_) => Literal::Net(IpNet::from(
                text.parse::<IpAddr>().map_err(|_| bad("network (CIDR)"))?,
            )),
        },
        FieldType::Bytes => Literal::Bytes(text.as_bytes().to_vec()),
    })
}

fn parse_number(text: &str) -> Option<u64> {
    let t = text.strip_prefix('+').unwrap_or(text);
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok();
    }
    t.parse().ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let t: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    t.chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok())
        .collect()
}
