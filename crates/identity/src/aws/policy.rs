//! IAM policy documents: identity policies, trust policies and permission boundaries.
//!
//! Parsing is strict about shape and lenient about spelling, like IAM itself: `Statement`,
//! `Action`, `Resource` and condition values may be a single value or a list; errors name the
//! path that is wrong (`Statement[1].Effect: expected "Allow" or "Deny", found "allow "`).

use serde_json::{Map, Value};

/// A parsed policy document.
///
/// ```
/// use tripline_identity::aws::PolicyDocument;
/// let doc = PolicyDocument::parse(&serde_json::json!({
///     "Version": "2012-10-17",
///     "Statement": {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::logs/*"}
/// })).unwrap();
/// assert_eq!(doc.statements[0].actions.patterns(), ["s3:Get*"]);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicyDocument {
    /// `Version`, when given.
    pub version: Option<String>,
    /// Statements, in order.
    pub statements: Vec<Statement>,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Denies, overriding any allow.
    Deny,
}

/// A list of patterns, or its negation (`NotAction`, `NotResource`, `NotPrincipal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patterns {
    /// Matches any of the patterns.
    Is(Vec<String>),
    /// Matches anything but the patterns.
    Not(Vec<String>),
}

impl Patterns {
    /// The patterns as written.
    pub fn patterns(&self) -> &[String] {
        match self {
            Patterns::Is(v) | Patterns::Not(v) => v,
        }
    }

    /// True for `Not...`.
    pub fn negated(&self) -> bool {
        matches!(self, Patterns::Not(_))
    }
}

/// Who a trust (or resource) policy statement names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principals {
    /// `"Principal": "*"` or `{"AWS": "*"}`.
    pub any: bool,
    /// AWS principals: account ids, account roots, user and role ARNs.
    pub aws: Vec<String>,
    /// Service principals (`lambda.amazonaws.com`).
    pub service: Vec<String>,
    /// Identity providers (SAML, OIDC).
    pub federated: Vec<String>,
    /// `NotPrincipal` rather than `Principal`.
    pub negated: bool,
}

/// One condition clause: `"StringEquals": {"aws:SourceVpc": ["vpc-1"]}` gives one clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The operator as written (`ForAnyValue:StringLikeIfExists`).
    pub operator: String,
    /// The condition key, lower-case (keys are case-insensitive).
    pub key: String,
    /// Values, as strings (booleans and numbers are written as JSON would).
    pub values: Vec<String>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `Sid`.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Action` or `NotAction`.
    pub actions: Patterns,
    /// `Resource` or `NotResource` (absent in trust policies).
    pub resources: Option<Patterns>,
    /// `Principal` or `NotPrincipal` (trust and resource policies).
    pub principals: Option<Principals>,
    /// `Condition` clauses; all must hold.
    pub conditions: Vec<Condition>,
}

/// A policy document that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PolicyError {
    /// Where in the document (`Statement[2].Action[0]`).
    pub path: String,
    /// What was expected.
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> PolicyError {
    PolicyError {
        path: path.to_string(),
        message: message.into(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A string or a list of strings.
fn strings(v: &Value, path: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| match x {
                Value::String(s) => Ok(s.clone()),
                other => Err(err(
                    &format!("{path}[{i}]"),
                    format!("expected a string, found {}", kind(other)),
                )),
            })
            .collect(),
        other => Err(err(
            path,
            format!(
                "expected a string or a list of strings, found {}",
                kind(other)
            ),
        )),
    }
}

/// Condition values: strings, booleans and numbers, one or a list.
fn scalar_strings(v: &Value, path: &str) -> Result<Vec<String>, PolicyError> {
    let one = |x: &Value, p: &str| match x {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(err(
            p,
            format!(
                "expected a string, boolean or number, found {}",
                kind(other)
            ),
        )),
    };
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| one(x, &format!("{path}[{i}]")))
            .collect(),
        x => Ok(vec![one(x, path)?]),
    }
}

impl PolicyDocument {
    /// Parses a policy document given as JSON.
    pub fn parse(v: &Value) -> Result<PolicyDocument, PolicyError> {
        let obj = v.as_object().ok_or_else(|| {
            err(
                "(document)",
                format!("expected an object, found {}", kind(v)),
            )
        })?;
        let version = match obj.get("Version") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(err(
                    "Version",
                    format!("expected a string, found {}", kind(other)),
                ))
            }
        };
        let statements = match obj.get("Statement") {
            None => return Err(err("Statement", "missing")),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, s)| Statement::parse(s, &format!("Statement[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
            Some(s) => vec![Statement::parse(s, "Statement")?],
        };
        Ok(PolicyDocument {
            version,
            statements,
        })
    }

    /// Parses a document that may also come URL-encoded in a string (as IAM's
    /// `GetPolicyVersion` and `GetRolePolicy` return it).
    pub fn parse_any(v: &Value) -> Result<PolicyDocument, PolicyError> {
        match v {
            Value::String(s) => {
                let decoded = percent_decode(s);
                let json: Value = serde_json::from_str(&decoded)
                    .map_err(|e| err("(document)", format!("not JSON: {e}")))?;
                PolicyDocument::parse(&json)
            }
            other => PolicyDocument::parse(other),
        }
    }

    /// Back to JSON, in IAM's canonical shape.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        if let Some(v) = &self.version {
            o.insert("Version".into(), Value::String(v.clone()));
        }
        o.insert(
            "Statement".into(),
            Value::Array(self.statements.iter().map(Statement::to_json).collect()),
        );
        Value::Object(o)
    }
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn pair<'a>(
    o: &'a Map<String, Value>,
    is: &str,
    not: &str,
    path: &str,
) -> Result<Option<(bool, &'a Value)>, PolicyError> {
    match (o.get(is), o.get(not)) {
        (Some(_), Some(_)) => Err(err(path, format!("has both {is} and {not}"))),
        (Some(v), None) => Ok(Some((false, v))),
        (None, Some(v)) => Ok(Some((true, v))),
        (None, None) => Ok(None),
    }
}

impl Statement {
    fn parse(v: &Value, path: &str) -> Result<Statement, PolicyError> {
        let o = v
            .as_object()
            .ok_or_else(|| err(path, format!("expected an object, found {}", kind(v))))?;
        let sid = o.get("Sid").and_then(Value::as_str).map(str::to_string);
        let effect = match o.get("Effect") {
            Some(Value::String(s)) if s == "Allow" => Effect::Allow,
            Some(Value::String(s)) if s == "Deny" => Effect::Deny,
            Some(other) => {
                return Err(err(
                    &format!("{path}.Effect"),
                    format!("expected \"Allow\" or \"Deny\", found {other}"),
                ))
            }
            None => return Err(err(&format!("{path}.Effect"), "missing")),
        };
        let actions = match pair(o, "Action", "NotAction", path)? {
            Some((neg, v)) => {
                let key = if neg { "NotAction" } else { "Action" };
                let list = strings(v, &format!("{path}.{key}"))?;
                if neg {
                    Patterns::Not(list)
                } else {
                    Patterns::Is(list)
                }
            }
            None => return Err(err(path, "expected Action or NotAction")),
        };
        let resources = match pair(o, "Resource", "NotResource", path)? {
            Some((neg, v)) => {
                let key = if neg { "NotResource" } else { "Resource" };
                let list = strings(v, &format!("{path}.{key}"))?;
                Some(if neg {
                    Patterns::Not(list)
                } else {
                    Patterns::Is(list)
                })
            }
            None => None,
        };
        let principals = match pair(o, "Principal", "NotPrincipal", path)? {
            Some((neg, v)) => {
                let key = if neg { "NotPrincipal" } else { "Principal" };
                Some(parse_principals(v, neg, &format!("{path}.{key}"))?)
            }
            None => None,
        };
        let mut conditions = Vec::new();
        if let Some(c) = o.get("Condition") {
            let cpath = format!("{path}.Condition");
            let ops = c
                .as_object()
                .ok_or_else(|| err(&cpath, format!("expected an object, found {}", kind(c))))?;
            for (op, keys) in ops {
                let kpath = format!("{cpath}.{op}");
                let keys = keys.as_object().ok_or_else(|| {
                    err(&kpath, format!("expected an object, found {}", kind(keys)))
                })?;
                if crate::aws::eval::Operator::parse(op).is_none() {
                    return Err(err(&kpath, "unknown condition operator"));
                }
                for (key, values) in keys {
                    conditions.push(Condition {
                        operator: op.clone(),
                        key: key.to_ascii_lowercase(),
                        values: scalar_strings(values, &format!("{kpath}.{key}"))?,
                    });
                }
            }
        }
        Ok(Statement {
            sid,
            effect,
            actions,
            resources,
            principals,
            conditions,
        })
    }

    /// Back to JSON.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        if let Some(s) = &self.sid {
            o.insert("Sid".into(), Value::String(s.clone()));
        }
        o.insert(
            "Effect".into(),
            Value::String(
                match self.effect {
                    Effect::Allow => "Allow",
                    Effect::Deny => "Deny",
                }
                .into(),
            ),
        );
        let list = |v: &[String]| {
            if v.len() == 1 {
                Value::String(v[0].clone())
            } else {
                Value::Array(v.iter().cloned().map(Value::String).collect())
            }
        };
        if let Some(p) = &self.principals {
            let key = if p.negated {
                "NotPrincipal"
            } else {
                "Principal"
            };
            let named = !(p.aws.is_empty() && p.service.is_empty() && p.federated.is_empty());
            let value = if p.any && !named {
                Value::String("*".into())
            } else {
                let mut m = Map::new();
                let mut aws = p.aws.clone();
                if p.any {
                    aws.insert(0, "*".into());
                }
                for (k, v) in [
                    ("AWS", &aws),
                    ("Service", &p.service),
                    ("Federated", &p.federated),
                ] {
                    if !v.is_empty() {
                        m.insert(k.into(), list(v));
                    }
                }
                Value::Object(m)
            };
            o.insert(key.into(), value);
        }
        match &self.actions {
            Patterns::Is(v) => o.insert("Action".into(), list(v)),
            Patterns::Not(v) => o.insert("NotAction".into(), list(v)),
        };
        match &self.resources {
            Some(Patterns::Is(v)) => {
                o.insert("Resource".into(), list(v));
            }
            Some(Patterns::Not(v)) => {
                o.insert("NotResource".into(), list(v));
            }
            None => {}
        }
        if !self.conditions.is_empty() {
            let mut ops = Map::new();
            for c in &self.conditions {
                let entry = ops
                    .entry(c.operator.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = entry {
                    m.insert(c.key.clone(), list(&c.values));
                }
            }
            o.insert("Condition".into(), Value::Object(ops));
        }
        Value::Object(o)
    }
}

fn parse_principals(v: &Value, negated: bool, path: &str) -> Result<Principals, PolicyError> {
    let mut p = Principals {
        negated,
        ..Principals::default()
    };
    match v {
        Value::String(s) if s == "*" => p.any = true,
        Value::Object(o) => {
            for (k, vals) in o {
                let list = strings(vals, &format!("{path}.{k}"))?;
                match k.as_str() {
                    "AWS" => {
                        if list.iter().any(|s| s == "*") {
                            p.any = true;
                        }
                        p.aws.extend(list.into_iter().filter(|s| s != "*"));
                    }
                    "Service" => p.service.extend(list),
                    "Federated" => p.federated.extend(list),
                    "CanonicalUser" => {}
                    _ => {
                        return Err(err(
                            &format!("{path}.{k}"),
                            "expected AWS, Service, Federated or CanonicalUser",
                        ))
                    }
                }
            }
        }
        other => {
            return Err(err(
                path,
                format!("expected \"*\" or an object, found {}", kind(other)),
            ))
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_values_and_lists_parse_alike() {
        let a = PolicyDocument::parse(
            &json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}),
        )
        .unwrap();
        let b = PolicyDocument::parse(
            &json!({"Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]}]}),
        )
        .unwrap();
        assert_eq!(a.statements, b.statements);
    }

    #[test]
    fn errors_name_the_path() {
        let e = PolicyDocument::parse(&json!({"Statement": [{"Effect": "Allow", "Action": "s3:*"}, {"Effect": "allow", "Action": "*"}]})).unwrap_err();
        assert_eq!(e.path, "Statement[1].Effect");
        let e = PolicyDocument::parse(
            &json!({"Statement": [{"Effect": "Allow", "Action": ["s3:*", 3]}]}),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Statement[0].Action[1]: expected a string, found a number"
        );
        let e = PolicyDocument::parse(
            &json!({"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "s3:*"}]}),
        )
        .unwrap_err();
        assert!(e.message.contains("both Action and NotAction"), "{e}");
        let e = PolicyDocument::parse(&json!({"Statement": [{"Effect": "Allow", "Action": "*", "Condition": {"StringEqualz": {"a": "b"}}}]})).unwrap_err();
        assert_eq!(e.path, "Statement[0].Condition.StringEqualz");
    }

    #[test]
    fn trust_policies_and_conditions() {
        let d = PolicyDocument::parse(&json!({"Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::111122223333:root"], "Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": true}, "StringEquals": {"sts:ExternalId": "x"}}
        }]})).unwrap();
        let s = &d.statements[0];
        let p = s.principals.as_ref().unwrap();
        assert_eq!(p.aws, ["arn:aws:iam::111122223333:root"]);
        assert_eq!(p.service, ["lambda.amazonaws.com"]);
        assert_eq!(s.conditions.len(), 2);
        assert!(s
            .conditions
            .iter()
            .any(|c| c.key == "aws:multifactorauthpresent" && c.values == ["true"]));
    }

    #[test]
    fn url_encoded_documents() {
        let enc = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
        let d = PolicyDocument::parse_any(&Value::String(enc.into())).unwrap();
        assert_eq!(d.statements[0].actions.patterns(), ["s3:*"]);
    }
}
