//! Property tests for the condition parser: printing then parsing gives the same tree, and
//! `not` > `and` > `or` precedence holds for any operands.

use proptest::prelude::*;
use tripline_rules::condition::{parse, Expr, Op, Operand, Rhs, Transformer};

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,8}".prop_filter("keywords", |s| !matches!(s.as_str(), "and" | "or" | "not"))
}

fn field() -> impl Strategy<Value = Operand> {
    (
        prop::collection::vec(ident(), 2..4),
        prop::option::of(prop_oneof![
            "[0-9]{1,3}",
            "[a-zA-Z/_.-]{1,10}",
            "[ a-z\\]\\[]{1,6}"
        ]),
    )
        .prop_map(|(parts, arg)| Operand::Field {
            name: parts.join("."),
            arg,
        })
}

fn operand() -> impl Strategy<Value = Operand> {
    (
        field(),
        prop::option::of(prop::sample::select(Transformer::ALL.to_vec())),
    )
        .prop_map(|(f, t)| match t {
            Some(t) => Operand::Transform(t, Box::new(f)),
            None => f,
        })
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9/_.*-]{1,12}",
        "[ -~]{0,12}",
        Just("and".to_string()),
        Just("(systemd)".to_string()),
    ]
}

fn check() -> impl Strategy<Value = Expr> {
    (
        operand(),
        prop::sample::select(Op::ALL.to_vec()),
        value(),
        prop::collection::vec(value(), 0..4),
        operand(),
        any::<bool>(),
    )
        .prop_map(|(lhs, op, v, list, other, use_field)| {
            let rhs = if op == Op::Exists {
                Rhs::None
            } else if use_field {
                Rhs::Field(other)
            } else if op.is_list_op() {
                Rhs::List(list)
            } else {
                Rhs::Value(v)
            };
            Expr::Check { lhs, op, rhs }
        })
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![check(), ident().prop_map(Expr::Macro)];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

proptest! {
    #[test]
    fn print_then_parse_round_trips(e in expr()) {
        let text = e.to_string();
        let back = parse(&text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
        prop_assert_eq!(back, e, "{}", text);
    }

    #[test]
    fn precedence_not_and_or(x in ident(), y in ident(), z in ident()) {
        let m = |s: &String| Expr::Macro(s.clone());
        prop_assert_eq!(
            parse(&format!("{x} or {y} and {z}")).unwrap(),
            Expr::Or(vec![m(&x), Expr::And(vec![m(&y), m(&z)])])
        );
        prop_assert_eq!(
            parse(&format!("not {x} and {y}")).unwrap(),
            Expr::And(vec![Expr::Not(Box::new(m(&x))), m(&y)])
        );
        prop_assert_eq!(
            parse(&format!("{x} and ({y} or {z})")).unwrap(),
            Expr::And(vec![m(&x), Expr::Or(vec![m(&y), m(&z)])])
        );
    }
}
