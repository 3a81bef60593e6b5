//! Declared IAM (from Terraform) against the live account, with CloudTrail attribution: who
//! attached the policy, rewrote the trust policy or created the user nobody declared.
//!
//! Identities are matched by kind and name; customer-managed policies by ARN, else by name.
//! Live identities under AWS's own paths (`/aws-service-role/`, `/aws-reserved/`) and
//! AWS-managed policies are never drift.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use tripline_drift::compare::{Attribution, Change, Finding, Severity};
use tripline_sources::input::{Limits, Reader, Skip};
use tripline_sources::SourceKind;

use super::account::{Account, Identity, IdentityKind, ManagedPolicy};
use super::policy::PolicyDocument;
use super::terraform::kind_name;

/// The drift section of these findings (rule names are `aws-iam missing|added|changed`).
pub const SECTION: &str = "aws-iam";

/// What a CloudTrail write names: the identity or policy it changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// A user, group or role, by name.
    Identity(IdentityKind, String),
    /// A managed policy, by ARN or (`CreatePolicy`) by name.
    Policy(String),
}

/// A successful IAM write from CloudTrail.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailChange {
    /// What it changed.
    pub targets: Vec<Target>,
    /// Who, when, from where.
    pub attribution: Attribution,
}

/// Records that could not be read.
#[derive(Debug, Default)]
pub struct Skipped {
    /// How many.
    pub count: u64,
    /// The first, with file, line and reason.
    pub first: Option<Skip>,
}

/// IAM API calls that change nothing.
fn read_only(name: &str) -> bool {
    ["Get", "List", "Generate", "Simulate"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// The IAM writes of CloudTrail files or directories (Records files, arrays or JSON lines,
/// plain or gzip), oldest first. Failed calls (`errorCode`) changed nothing and are left out;
/// unreadable records are skipped: the second value counts them and names the first.
pub fn read_trail(paths: &[PathBuf]) -> Result<(Vec<TrailChange>, Skipped), String> {
    let mut reader = Reader::new(SourceKind::CloudTrail, Limits::default());
    let mut out = Vec::new();
    let mut skipped = Skipped::default();
    for p in paths {
        reader
            .read_path(
                &p.display().to_string(),
                &mut |e| {
                    if let Some(c) = trail_change(&e.json) {
                        out.push(c);
                    }
                },
                &mut |skip| {
                    skipped.count += 1;
                    skipped.first.get_or_insert(skip);
                },
            )
            .map_err(|e| e.to_string())?;
    }
    out.sort_by(|a, b| a.attribution.time.cmp(&b.attribution.time));
    Ok((out, skipped))
}

/// One CloudTrail record as an IAM change, when it is one.
pub fn trail_change(r: &Value) -> Option<TrailChange> {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    if r.get("eventSource")?.as_str()? != "iam.amazonaws.com"
        || r.get("errorCode").is_some_and(|c| !c.is_null())
        || r.get("readOnly").and_then(Value::as_bool) == Some(true)
    {
        return None;
    }
    let name = r.get("eventName")?.as_str()?;
    if read_only(name) {
        return None;
    }
    let params = r.get("requestParameters")?;
    let mut targets = Vec::new();
    for (key, kind) in [
        ("roleName", IdentityKind::Role),
        ("userName", IdentityKind::User),
        ("groupName", IdentityKind::Group),
    ] {
        if let Some(n) = params.get(key).and_then(Value::as_str) {
            targets.push(Target::Identity(kind, n.to_string()));
        }
    }
    // A policy's own changes (versions, deletion), not its attachment to someone.
    if targets.is_empty() {
        if let Some(arn) = params.get("policyArn").and_then(Value::as_str) {
            targets.push(Target::Policy(arn.to_string()));
        }
        if let Some(n) = params.get("policyName").and_then(Value::as_str) {
            targets.push(Target::Policy(n.to_string()));
        }
    }
    if targets.is_empty() {
        return None;
    }
    let who = r.get("userIdentity");
    let user = who
        .and_then(|u| u.get("arn"))
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .or_else(|| {
            who.and_then(|u| u.get("principalId"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    Some(TrailChange {
        targets,
        attribution: Attribution {
            user,
            verb: name.to_string(),
            user_agent: s(r.get("userAgent")),
            source_ip: s(r.get("sourceIPAddress")),
            time: s(r.get("eventTime")),
        },
    })
}

/// A policy document as JSON whose equality means "the same grants": IAM's canonical shape,
/// lists sorted.
fn canonical(doc: &PolicyDocument) -> Value {
    fn sort(v: Value) -> Value {
        match v {
            Value::Array(items) => {
                let mut items: Vec<Value> = items.into_iter().map(sort).collect();
                if items.iter().all(|i| i.is_string()) {
                    items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                }
                Value::Array(items)
            }
            Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, sort(v))).collect()),
            other => other,
        }
    }
    let mut v = sort(doc.to_json());
    // The policy language version is not a grant.
    if let Some(o) = v.as_object_mut() {
        o.remove("Version");
    }
    v
}

/// Every principal string a trust policy names (`arn:aws:iam::123456789012:root`,
/// `ec2.amazonaws.com`, `*`).
fn principals(doc: &PolicyDocument) -> BTreeSet<String> {
    fn walk(v: &Value, inside: bool, out: &mut BTreeSet<String>) {
        match v {
            Value::String(s) if inside => {
                out.insert(s.clone());
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, inside, out)),
            Value::Object(m) => {
                for (k, v) in m {
                    walk(v, inside || k == "Principal" || k == "NotPrincipal", out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(&doc.to_json(), false, &mut out);
    out
}

/// Whether a trust policy lets in someone from outside `account` (another account, or anyone).
fn trusts_outsiders(doc: &PolicyDocument, account: &str) -> bool {
    principals(doc).iter().any(|p| {
        p == "*" || (p.starts_with("arn:aws:iam::") && p.split(':').nth(4) != Some(account))
    })
}

/// AWS's own identities, which no IaC declares.
fn aws_owned(i: &Identity) -> bool {
    i.path.starts_with("/aws-service-role/") || i.path.starts_with("/aws-reserved/")
}

fn compact(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 {
        format!("{}...", &s[..s.floor_char_boundary(300)])
    } else {
        s
    }
}

/// One identity's differences: `(severity, evidence)`.
fn identity_diffs(d: &Identity, l: &Identity, account: &str) -> Vec<(Severity, String)> {
    let mut out = Vec::new();
    if let (Some(dt), Some(lt)) = (&d.trust, &l.trust) {
        if canonical(dt) != canonical(lt) {
            let added: Vec<String> = principals(lt)
                .difference(&principals(dt))
                .cloned()
                .collect();
            let severity = if trusts_outsiders(lt, account) && !trusts_outsiders(dt, account) {
                Severity::Critical
            } else {
                Severity::High
            };
            out.push((
                severity,
                if added.is_empty() {
                    format!(
                        "trust policy: declared {}, live {}",
                        compact(&canonical(dt)),
                        compact(&canonical(lt))
                    )
                } else {
                    format!("trust policy: live also trusts {}", added.join(", "))
                },
            ));
        }
    }
    let (da, la): (BTreeSet<&String>, BTreeSet<&String>) = (
        d.grants.attached.iter().collect(),
        l.grants.attached.iter().collect(),
    );
    for arn in la.difference(&da) {
        out.push((
            Severity::High,
            format!("attached policy {arn}: not declared"),
        ));
    }
    for arn in da.difference(&la) {
        out.push((
            Severity::Low,
            format!("declared policy {arn}: not attached"),
        ));
    }
    let inline = |i: &Identity| -> BTreeMap<String, Value> {
        i.grants
            .inline
            .iter()
            .map(|p| (p.name.clone(), canonical(&p.document)))
            .collect()
    };
    let (di, li) = (inline(d), inline(l));
    for (name, doc) in &li {
        match di.get(name) {
            None => out.push((
                Severity::High,
                format!("inline policy {name}: not declared: {}", compact(doc)),
            )),
            Some(declared) if declared != doc => out.push((
                Severity::High,
                format!(
                    "inline policy {name}: declared {}, live {}",
                    compact(declared),
                    compact(doc)
                ),
            )),
            Some(_) => {}
        }
    }
    for name in di.keys().filter(|n| !li.contains_key(*n)) {
        out.push((
            Severity::Medium,
            format!("declared inline policy {name}: not there"),
        ));
    }
    if d.boundary != l.boundary {
        out.push((
            if l.boundary.is_none() {
                Severity::High
            } else {
                Severity::Medium
            },
            format!(
                "permissions boundary: declared {}, live {}",
                d.boundary.as_deref().unwrap_or("none"),
                l.boundary.as_deref().unwrap_or("none")
            ),
        ));
    }
    let (dg, lg): (BTreeSet<&String>, BTreeSet<&String>) =
        (d.groups.iter().collect(), l.groups.iter().collect());
    for g in lg.difference(&dg) {
        out.push((Severity::High, format!("member of group {g}: not declared")));
    }
    for g in dg.difference(&lg) {
        out.push((Severity::Low, format!("declared group {g}: not a member")));
    }
    out
}

/// The live managed policy a declared one is (by ARN, else by name).
fn live_policy<'a>(d: &ManagedPolicy, live: &'a Account) -> Option<&'a ManagedPolicy> {
    if !d.arn.is_empty() {
        if let Some(p) = live.policies.get(&d.arn) {
            return Some(p);
        }
    }
    live.policies
        .values()
        .find(|p| !p.aws_managed && p.name == d.name && (d.path.is_empty() || p.path == d.path))
}

/// The latest change CloudTrail records for any of `targets`.
fn last_change(trail: &[TrailChange], targets: &[Target]) -> Option<Attribution> {
    trail
        .iter()
        .rev()
        .find(|c| c.targets.iter().any(|t| targets.contains(t)))
        .map(|c| c.attribution.clone())
}

/// Declared IAM against live IAM; `trail` (from [`read_trail`]) names who made each change.
///
/// ```
/// use tripline_identity::aws::{drift, terraform, Account};
/// let state = serde_json::json!({"values": {"root_module": {"resources": [
///     {"address": "aws_iam_user.ci", "type": "aws_iam_user", "values": {"name": "ci"}}]}}});
/// let live = Account::from_json(&serde_json::json!({"UserDetailList": [
///     {"UserName": "ci", "Arn": "arn:aws:iam::111122223333:user/ci", "Path": "/",
///      "AttachedManagedPolicies": [{"PolicyName": "AdministratorAccess",
///          "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]}]})).unwrap();
/// let declared = terraform::declared(&[("state.json", &state)]).unwrap();
/// let f = drift::drift(&declared, &live, &[]);
/// assert_eq!(f[0].item, "user ci");
/// assert!(f[0].evidence[0].contains("AdministratorAccess: not declared"));
/// ```
pub fn drift(declared: &Account, live: &Account, trail: &[TrailChange]) -> Vec<Finding> {
    let account = if live.id.is_empty() {
        &declared.id
    } else {
        &live.id
    };
    let mut out = Vec::new();
    let key = |i: &Identity| (i.kind, i.name.clone());
    let live_ids: BTreeMap<(IdentityKind, String), &Identity> =
        live.identities.iter().map(|i| (key(i), i)).collect();
    let declared_ids: BTreeSet<(IdentityKind, String)> =
        declared.identities.iter().map(key).collect();
    let finding = |change, item: String, severity, evidence, hint: &str, targets: Vec<Target>| {
        let attribution = last_change(trail, &targets);
        let mut evidence: Vec<String> = evidence;
        if let Some(a) = &attribution {
            evidence.push(format!(
                "last change: {} by {} ({}) from {} at {}",
                a.verb, a.user, a.user_agent, a.source_ip, a.time
            ));
        }
        Finding {
            section: SECTION,
            change,
            item,
            severity,
            evidence,
            hint: hint.to_string(),
            attribution,
        }
    };
    for d in &declared.identities {
        let item = format!("{} {}", kind_name(d.kind), d.name);
        let targets = vec![Target::Identity(d.kind, d.name.clone())];
        match live_ids.get(&key(d)) {
            None => out.push(finding(
                Change::Missing,
                item,
                Severity::Medium,
                vec!["declared in Terraform, not in the account".into()],
                "terraform apply re-creates it; find who deleted it (--audit)",
                targets,
            )),
            Some(l) => {
                let diffs = identity_diffs(d, l, account);
                if let Some(severity) = diffs.iter().map(|(s, _)| *s).max() {
                    out.push(finding(
                        Change::Changed,
                        item,
                        severity,
                        diffs.into_iter().map(|(_, e)| e).collect(),
                        "terraform apply restores the declared grants; review who changed them (--audit) first",
                        targets,
                    ));
                }
            }
        }
    }
    for l in &live.identities {
        if declared_ids.contains(&key(l)) || aws_owned(l) {
            continue;
        }
        let (severity, why) = match l.kind {
            IdentityKind::User => (Severity::High, "an IAM user nobody declared"),
            IdentityKind::Role
                if l.trust
                    .as_ref()
                    .is_some_and(|t| trusts_outsiders(t, account)) =>
            {
                (
                    Severity::Critical,
                    "a role nobody declared, trusted from outside the account",
                )
            }
            _ => (Severity::Medium, "not declared in Terraform"),
        };
        let mut evidence = vec![why.to_string()];
        if !l.grants.attached.is_empty() {
            evidence.push(format!("attached: {}", l.grants.attached.join(", ")));
        }
        out.push(finding(
            Change::Added,
            format!("{} {}", kind_name(l.kind), l.name),
            severity,
            evidence,
            "find who created it (--audit); delete it, or declare it in Terraform after review",
            vec![Target::Identity(l.kind, l.name.clone())],
        ));
    }
    let mut matched = BTreeSet::new();
    for key in &declared.policy_order {
        let d = &declared.policies[key];
        let targets = vec![
            Target::Policy(d.arn.clone()),
            Target::Policy(d.name.clone()),
        ];
        match live_policy(d, live) {
            None => out.push(finding(
                Change::Missing,
                format!("policy {}", d.name),
                Severity::Medium,
                vec!["declared in Terraform, not in the account".into()],
                "terraform apply re-creates it",
                targets,
            )),
            Some(l) => {
                matched.insert(l.arn.clone());
                let (dc, lc) = (canonical(&d.document), canonical(&l.document));
                if dc != lc {
                    out.push(finding(
                        Change::Changed,
                        format!("policy {}", d.name),
                        Severity::High,
                        vec![format!(
                            "default version: declared {}, live {}",
                            compact(&dc),
                            compact(&lc)
                        )],
                        "terraform apply restores the declared version; review who changed it (--audit) first",
                        vec![Target::Policy(l.arn.clone()), Target::Policy(l.name.clone())],
                    ));
                }
            }
        }
    }
    if !declared.policies.is_empty() {
        for arn in &live.policy_order {
            let l = &live.policies[arn];
            if l.aws_managed || matched.contains(arn) {
                continue;
            }
            out.push(finding(
                Change::Added,
                format!("policy {}", l.name),
                Severity::Medium,
                vec![format!(
                    "customer-managed policy {arn}: not declared in Terraform"
                )],
                "find who created it (--audit); delete it, or declare it in Terraform after review",
                vec![Target::Policy(arn.clone()), Target::Policy(l.name.clone())],
            ));
        }
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.item.cmp(&b.item)));
    out
}
