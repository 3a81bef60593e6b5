//! The Falco condition language: syntax tree, parser and printer.
//!
//! ```
//! use tripline_rules::condition::{parse, Expr};
//! let expr = parse("ka.verb=create and not ka.target.namespace in (kube-system, \"a b\")").unwrap();
//! assert!(matches!(expr, Expr::And(_)));
//! // Printing gives text that parses back to the same tree.
//! assert_eq!(parse(&expr.to_string()).unwrap(), expr);
//! ```

mod ast;
mod parser;

pub use ast::{Expr, MultiTransformer, Op, Operand, Quantifier, Rhs, TransformArg, Transformer};
pub use parser::{parse, ParseError, MAX_DEPTH};
