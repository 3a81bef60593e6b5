//! Evaluating IAM policies for one request, as AWS does within an account: an explicit deny
//! wins, otherwise an allow from the identity policies is needed, and a permission boundary
//! (when set) must allow too.

use std::collections::HashMap;
use std::net::IpAddr;

use super::catalog::{glob_match, glob_match_ignore_case};
use super::policy::{Condition, Effect, Patterns, PolicyDocument, Statement};

/// What a request carries: action, resource and condition context.
///
/// ```
/// use tripline_identity::aws::{eval, PolicyDocument};
/// let doc = PolicyDocument::parse(&serde_json::json!({"Statement": [
///     {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
///     {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
/// ]})).unwrap();
/// let req = eval::Request::new("s3:GetObject", "arn:aws:s3:::logs/a");
/// assert_eq!(eval::evaluate(&[&doc], None, &req), eval::Decision::Allow);
/// let req = eval::Request::new("s3:DeleteBucket", "arn:aws:s3:::logs");
/// assert_eq!(eval::evaluate(&[&doc], None, &req), eval::Decision::ExplicitDeny);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `service:Action`.
    pub action: String,
    /// Resource ARN (`*` when the action takes none).
    pub resource: String,
    /// Condition keys (lower-case) and their values.
    pub context: HashMap<String, Vec<String>>,
}

impl Request {
    /// A request without context.
    pub fn new(action: &str, resource: &str) -> Request {
        Request {
            action: action.to_ascii_lowercase(),
            resource: resource.to_string(),
            context: HashMap::new(),
        }
    }

    /// Adds a condition key.
    pub fn with(mut self, key: &str, values: &[&str]) -> Request {
        self.context.insert(
            key.to_ascii_lowercase(),
            values.iter().map(|s| s.to_string()).collect(),
        );
        self
    }
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// A statement denies it.
    ExplicitDeny,
    /// Nothing allows it.
    ImplicitDeny,
}

/// Evaluates identity policies (and an optional permission boundary) for a request.
pub fn evaluate(
    policies: &[&PolicyDocument],
    boundary: Option<&PolicyDocument>,
    req: &Request,
) -> Decision {
    let mut allowed = false;
    for doc in policies {
        for s in &doc.statements {
            if statement_applies(s, req) {
                match s.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
    }
    if let Some(b) = boundary {
        match evaluate(&[b], None, req) {
            Decision::Allow => {}
            Decision::ExplicitDeny => return Decision::ExplicitDeny,
            Decision::ImplicitDeny => return Decision::ImplicitDeny,
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Whether a statement's action, resource and conditions all match the request.
pub fn statement_applies(s: &Statement, req: &Request) -> bool {
    action_matches(&s.actions, &req.action)
        && s.resources
            .as_ref()
            .is_none_or(|r| resource_matches(r, &req.resource, &req.context))
        && s.conditions
            .iter()
            .all(|c| condition_holds(c, &req.context))
}

/// Action patterns against a lower-case action.
pub fn action_matches(p: &Patterns, action: &str) -> bool {
    let any = p
        .patterns()
        .iter()
        .any(|pat| glob_match_ignore_case(pat.as_bytes(), action.as_bytes()));
    any != p.negated()
}

/// Resource patterns (case-sensitive, with `${aws:username}`-style variables) against an ARN.
pub fn resource_matches(
    p: &Patterns,
    resource: &str,
    context: &HashMap<String, Vec<String>>,
) -> bool {
    let any = p.patterns().iter().any(|pat| {
        let pat = substitute(pat, context);
        glob_match(pat.as_bytes(), resource.as_bytes())
    });
    any != p.negated()
}

/// Replaces policy variables; an unknown variable leaves a pattern that matches nothing.
fn substitute(pat: &str, context: &HashMap<String, Vec<String>>) -> String {
    if !pat.contains("${") {
        return pat.to_string();
    }
    let mut out = String::with_capacity(pat.len());
    let mut rest = pat;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let var = &after[..end];
        let (name, default) = match var.split_once(',') {
            Some((n, d)) => (n.trim(), Some(d.trim().trim_matches('\''))),
            None => (var, None),
        };
        match name {
            "*" => out.push('*'),
            "?" => out.push('?'),
            "$" => out.push('$'),
            _ => match context
                .get(&name.to_ascii_lowercase())
                .and_then(|v| v.first())
            {
                Some(v) => out.push_str(v),
                None => match default {
                    Some(d) => out.push_str(d),
                    // No value: the pattern cannot match (IAM treats it as not matching).
                    None => out.push('\u{0}'),
                },
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A condition operator, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    base: Base,
    set: SetQualifier,
    if_exists: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

impl Base {
    fn negated(self) -> bool {
        matches!(
            self,
            Base::StringNotEquals
                | Base::StringNotEqualsIgnoreCase
                | Base::StringNotLike
                | Base::NumericNotEquals
                | Base::DateNotEquals
                | Base::NotIpAddress
                | Base::ArnNotEquals
                | Base::ArnNotLike
        )
    }

    /// The positive form of a negated operator.
    fn positive(self) -> Base {
        match self {
            Base::StringNotEquals => Base::StringEquals,
            Base::StringNotEqualsIgnoreCase => Base::StringEqualsIgnoreCase,
            Base::StringNotLike => Base::StringLike,
            Base::NumericNotEquals => Base::NumericEquals,
            Base::DateNotEquals => Base::DateEquals,
            Base::NotIpAddress => Base::IpAddress,
            Base::ArnNotEquals => Base::ArnEquals,
            Base::ArnNotLike => Base::ArnLike,
            b => b,
        }
    }
}

impl Operator {
    /// Parses `ForAnyValue:StringLikeIfExists` and the like; `None` for an unknown operator.
    pub fn parse(op: &str) -> Option<Operator> {
        let (set, rest) = if let Some(r) = op.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, r)
        } else if let Some(r) = op.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, r)
        } else {
            (SetQualifier::Single, op)
        };
        let (rest, if_exists) = match rest.strip_suffix("IfExists") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let base = match rest {
            "StringEquals" => Base::StringEquals,
            "StringNotEquals" => Base::StringNotEquals,
            "StringEqualsIgnoreCase" => Base::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Base::StringNotEqualsIgnoreCase,
            "StringLike" => Base::StringLike,
            "StringNotLike" => Base::StringNotLike,
            "NumericEquals" => Base::NumericEquals,
            "NumericNotEquals" => Base::NumericNotEquals,
            "NumericLessThan" => Base::NumericLessThan,
            "NumericLessThanEquals" => Base::NumericLessThanEquals,
            "NumericGreaterThan" => Base::NumericGreaterThan,
            "NumericGreaterThanEquals" => Base::NumericGreaterThanEquals,
            "DateEquals" => Base::DateEquals,
            "DateNotEquals" => Base::DateNotEquals,
            "DateLessThan" => Base::DateLessThan,
            "DateLessThanEquals" => Base::DateLessThanEquals,
            "DateGreaterThan" => Base::DateGreaterThan,
            "DateGreaterThanEquals" => Base::DateGreaterThanEquals,
            "Bool" => Base::Bool,
            "BinaryEquals" => Base::BinaryEquals,
            "IpAddress" => Base::IpAddress,
            "NotIpAddress" => Base::NotIpAddress,
            "ArnEquals" => Base::ArnEquals,
            "ArnLike" => Base::ArnLike,
            "ArnNotEquals" => Base::ArnNotEquals,
            "ArnNotLike" => Base::ArnNotLike,
            "Null" if !if_exists && set == SetQualifier::Single => Base::Null,
            _ => return None,
        };
        Some(Operator {
            base,
            set,
            if_exists,
        })
    }
}

/// Whether one condition clause holds for the context.
pub fn condition_holds(c: &Condition, context: &HashMap<String, Vec<String>>) -> bool {
    let Some(op) = Operator::parse(&c.operator) else {
        return false;
    };
    let present = context.get(&c.key).filter(|v| !v.is_empty());
    if op.base == Base::Null {
        let want_absent = c.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
        return want_absent == present.is_none();
    }
    let Some(values) = present else {
        // A missing key: IfExists and negated operators hold, ForAllValues holds vacuously.
        return op.if_exists || op.base.negated() || op.set == SetQualifier::ForAllValues;
    };
    let positive = op.base.positive();
    let one = |v: &str| c.values.iter().any(|want| compare(positive, v, want));
    let matched = match op.set {
        SetQualifier::ForAllValues => values.iter().all(|v| one(v)),
        SetQualifier::ForAnyValue | SetQualifier::Single => values.iter().any(|v| one(v)),
    };
    matched != op.base.negated()
}

fn compare(base: Base, have: &str, want: &str) -> bool {
    match base {
        Base::StringEquals | Base::BinaryEquals => have == want,
        Base::StringEqualsIgnoreCase => have.eq_ignore_ascii_case(want),
        Base::StringLike => glob_match(want.as_bytes(), have.as_bytes()),
        Base::Bool => have.eq_ignore_ascii_case(want),
        Base::NumericEquals
        | Base::NumericLessThan
        | Base::NumericLessThanEquals
        | Base::NumericGreaterThan
        | Base::NumericGreaterThanEquals => {
            match (have.trim().parse::<f64>(), want.trim().parse::<f64>()) {
                (Ok(h), Ok(w)) => ordered(base, h.partial_cmp(&w)),
                _ => false,
            }
        }
        Base::DateEquals
        | Base::DateLessThan
        | Base::DateLessThanEquals
        | Base::DateGreaterThan
        | Base::DateGreaterThanEquals => match (date(have), date(want)) {
            (Some(h), Some(w)) => ordered(base, Some(h.cmp(&w))),
            _ => false,
        },
        Base::IpAddress => match (have.parse::<IpAddr>(), want.parse::<ipnet::IpNet>()) {
            (Ok(ip), Ok(net)) => net.contains(&ip),
            (Ok(ip), Err(_)) => want.parse::<IpAddr>().is_ok_and(|w| w == ip),
            _ => false,
        },
        Base::ArnEquals | Base::ArnLike => arn_like(want, have),
        _ => false,
    }
}

fn ordered(base: Base, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    match (base, ord) {
        (_, None) => false,
        (Base::NumericEquals | Base::DateEquals, Some(o)) => o == Equal,
        (Base::NumericLessThan | Base::DateLessThan, Some(o)) => o == Less,
        (Base::NumericLessThanEquals | Base::DateLessThanEquals, Some(o)) => o != Greater,
        (Base::NumericGreaterThan | Base::DateGreaterThan, Some(o)) => o == Greater,
        (Base::NumericGreaterThanEquals | Base::DateGreaterThanEquals, Some(o)) => o != Less,
        _ => false,
    }
}

/// Seconds since the epoch from RFC 3339 / ISO 8601 or epoch seconds.
fn date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
}

/// ARN matching: the six colon-separated parts match one by one, each with wildcards.
fn arn_like(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == a.len()
        && p.iter()
            .zip(&a)
            .all(|(p, a)| glob_match(p.as_bytes(), a.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: serde_json::Value) -> PolicyDocument {
        PolicyDocument::parse(&v).unwrap()
    }

    #[test]
    fn deny_wins_and_boundaries_limit() {
        let d = doc(json!({"Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "NotAction": ["s3:*", "iam:Get*"], "Resource": "*"}
        ]}));
        assert_eq!(
            evaluate(
                &[&d],
                None,
                &Request::new("s3:PutObject", "arn:aws:s3:::b/k")
            ),
            Decision::Allow
        );
        assert_eq!(
            evaluate(
                &[&d],
                None,
                &Request::new("iam:GetRole", "arn:aws:iam::1:role/r")
            ),
            Decision::Allow
        );
        assert_eq!(
            evaluate(&[&d], None, &Request::new("ec2:RunInstances", "*")),
            Decision::ExplicitDeny
        );
        let b =
            doc(json!({"Statement": {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}}));
        assert_eq!(
            evaluate(&[&d], Some(&b), &Request::new("s3:GetObject", "x")),
            Decision::Allow
        );
        assert_eq!(
            evaluate(&[&d], Some(&b), &Request::new("s3:PutObject", "x")),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn resources_are_case_sensitive_actions_are_not() {
        let d = doc(
            json!({"Statement": {"Effect": "Allow", "Action": "S3:getobject", "Resource": "arn:aws:s3:::Logs/*"}}),
        );
        assert_eq!(
            evaluate(
                &[&d],
                None,
                &Request::new("s3:GetObject", "arn:aws:s3:::Logs/a")
            ),
            Decision::Allow
        );
        assert_eq!(
            evaluate(
                &[&d],
                None,
                &Request::new("s3:GetObject", "arn:aws:s3:::logs/a")
            ),
            Decision::ImplicitDeny
        );
        let nr = doc(
            json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"}}),
        );
        assert_eq!(
            evaluate(
                &[&nr],
                None,
                &Request::new("s3:GetObject", "arn:aws:s3:::secret/k")
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(
                &[&nr],
                None,
                &Request::new("s3:GetObject", "arn:aws:s3:::public/k")
            ),
            Decision::Allow
        );
    }

    #[test]
    fn policy_variables() {
        let d = doc(
            json!({"Statement": {"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "arn:aws:iam::1:user/${aws:username}"}}),
        );
        let ok = Request::new("iam:CreateAccessKey", "arn:aws:iam::1:user/bob")
            .with("aws:username", &["bob"]);
        let other = Request::new("iam:CreateAccessKey", "arn:aws:iam::1:user/eve")
            .with("aws:username", &["bob"]);
        let none = Request::new("iam:CreateAccessKey", "arn:aws:iam::1:user/bob");
        assert_eq!(evaluate(&[&d], None, &ok), Decision::Allow);
        assert_eq!(evaluate(&[&d], None, &other), Decision::ImplicitDeny);
        assert_eq!(evaluate(&[&d], None, &none), Decision::ImplicitDeny);
    }

    #[test]
    fn condition_operators() {
        let c = |op: &str, key: &str, vals: &[&str]| Condition {
            operator: op.into(),
            key: key.to_ascii_lowercase(),
            values: vals.iter().map(|s| s.to_string()).collect(),
        };
        let mut ctx = HashMap::new();
        ctx.insert("aws:sourceip".to_string(), vec!["10.1.2.3".to_string()]);
        ctx.insert(
            "aws:multifactorauthpresent".to_string(),
            vec!["true".to_string()],
        );
        ctx.insert(
            "aws:currenttime".to_string(),
            vec!["2026-11-24T12:00:00Z".to_string()],
        );
        ctx.insert(
            "aws:tagkeys".to_string(),
            vec!["team".to_string(), "env".to_string()],
        );
        ctx.insert(
            "aws:principalarn".to_string(),
            vec!["arn:aws:iam::1:role/ci-deploy".to_string()],
        );
        ctx.insert("s3:max-keys".to_string(), vec!["10".to_string()]);
        assert!(condition_holds(
            &c("IpAddress", "aws:SourceIp", &["10.0.0.0/8"]),
            &ctx
        ));
        assert!(!condition_holds(
            &c("NotIpAddress", "aws:SourceIp", &["10.0.0.0/8"]),
            &ctx
        ));
        assert!(condition_holds(
            &c("Bool", "aws:MultiFactorAuthPresent", &["true"]),
            &ctx
        ));
        assert!(condition_holds(
            &c(
                "DateGreaterThan",
                "aws:CurrentTime",
                &["2020-01-01T00:00:01Z"]
            ),
            &ctx
        ));
        assert!(!condition_holds(
            &c("DateLessThan", "aws:CurrentTime", &["2020-01-01T00:00:01Z"]),
            &ctx
        ));
        assert!(condition_holds(
            &c(
                "ForAllValues:StringEquals",
                "aws:TagKeys",
                &["team", "env", "owner"]
            ),
            &ctx
        ));
        assert!(!condition_holds(
            &c("ForAllValues:StringEquals", "aws:TagKeys", &["team"]),
            &ctx
        ));
        assert!(condition_holds(
            &c("ForAnyValue:StringEquals", "aws:TagKeys", &["env"]),
            &ctx
        ));
        assert!(condition_holds(
            &c("ArnLike", "aws:PrincipalArn", &["arn:aws:iam::*:role/ci-*"]),
            &ctx
        ));
        assert!(!condition_holds(
            &c(
                "ArnNotLike",
                "aws:PrincipalArn",
                &["arn:aws:iam::*:role/ci-*"]
            ),
            &ctx
        ));
        assert!(condition_holds(
            &c("NumericLessThanEquals", "s3:max-keys", &["10"]),
            &ctx
        ));
        assert!(condition_holds(
            &c("Null", "aws:TokenIssueTime", &["true"]),
            &ctx
        ));
        assert!(!condition_holds(
            &c("Null", "aws:SourceIp", &["true"]),
            &ctx
        ));
        // Missing keys: positive operators fail, IfExists and negated ones hold.
        assert!(!condition_holds(
            &c("StringEquals", "aws:SourceVpc", &["vpc-1"]),
            &ctx
        ));
        assert!(condition_holds(
            &c("StringEqualsIfExists", "aws:SourceVpc", &["vpc-1"]),
            &ctx
        ));
        assert!(condition_holds(
            &c("StringNotEquals", "aws:SourceVpc", &["vpc-1"]),
            &ctx
        ));
        assert!(condition_holds(
            &c("StringLike", "aws:PrincipalArn", &["*deploy"]),
            &ctx
        ));
        assert!(condition_holds(
            &c(
                "StringEqualsIgnoreCase",
                "aws:PrincipalArn",
                &["ARN:AWS:IAM::1:ROLE/CI-DEPLOY"]
            ),
            &ctx
        ));
    }
}
