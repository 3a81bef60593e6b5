//! An AWS account's identities, from `aws iam get-account-authorization-details` output.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::policy::{PolicyDocument, PolicyError};

/// A managed policy (customer or AWS managed) with its default version.
#[derive(Debug, Clone)]
pub struct ManagedPolicy {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Path (`/service-role/`).
    pub path: String,
    /// The default version's document.
    pub document: PolicyDocument,
    /// AWS managed (`arn:aws:iam::aws:policy/...`).
    pub aws_managed: bool,
}

/// An inline policy.
#[derive(Debug, Clone)]
pub struct InlinePolicy {
    /// Name.
    pub name: String,
    /// Document.
    pub document: PolicyDocument,
}

/// What a user, group or role holds.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Inline policies.
    pub inline: Vec<InlinePolicy>,
    /// Attached managed policy ARNs.
    pub attached: Vec<String>,
}

/// A user, group or role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityKind {
    /// IAM user.
    User,
    /// IAM group.
    Group,
    /// IAM role.
    Role,
}

/// An IAM user or role (a principal that can act) or a group.
#[derive(Debug, Clone)]
pub struct Identity {
    /// User, group or role.
    pub kind: IdentityKind,
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Path.
    pub path: String,
    /// Creation time as IAM wrote it.
    pub created: String,
    /// Policies.
    pub grants: Grants,
    /// Groups (users only).
    pub groups: Vec<String>,
    /// Permission boundary policy ARN.
    pub boundary: Option<String>,
    /// Trust policy (roles only).
    pub trust: Option<PolicyDocument>,
    /// `RoleLastUsed.LastUsedDate` (roles only), when IAM reports it.
    pub last_used: Option<String>,
}

/// An account's authorization details.
///
/// ```no_run
/// let acct = tripline_identity::aws::Account::load("auth.json".as_ref()).unwrap();
/// for p in acct.principals() {
///     println!("{} has {} policies", p.arn, acct.policies_of(p).len());
/// }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Account {
    /// Account id (from the ARNs).
    pub id: String,
    /// Users, groups and roles.
    pub identities: Vec<Identity>,
    /// Managed policies by ARN.
    pub policies: HashMap<String, ManagedPolicy>,
    /// Managed policies in input order.
    pub policy_order: Vec<String>,
}

/// An authorization-details file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {path}: {message}")]
pub struct AccountError {
    /// File.
    pub file: String,
    /// JSON path of the bad part.
    pub path: String,
    /// What was expected.
    pub message: String,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

impl Account {
    /// Reads a file.
    pub fn load(path: &Path) -> Result<Account, AccountError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| AccountError {
            file: file.clone(),
            path: "(file)".into(),
            message: e.to_string(),
        })?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| AccountError {
            file: file.clone(),
            path: format!("line {}", e.line()),
            message: format!("not JSON: {e}"),
        })?;
        Account::from_json(&v).map_err(|(path, message)| AccountError {
            file,
            path,
            message,
        })
    }

    /// Decodes `get-account-authorization-details` output (several pages may be merged by
    /// concatenating the lists). Errors are `(json path, message)`.
    pub fn from_json(v: &Value) -> Result<Account, (String, String)> {
        let obj = v.as_object().ok_or_else(|| {
            (
                "(document)".to_string(),
                "expected the object printed by `aws iam get-account-authorization-details`"
                    .to_string(),
            )
        })?;
        if ![
            "UserDetailList",
            "RoleDetailList",
            "GroupDetailList",
            "Policies",
        ]
        .iter()
        .any(|k| obj.contains_key(*k))
        {
            return Err((
                "(document)".into(),
                "expected UserDetailList, GroupDetailList, RoleDetailList or Policies".into(),
            ));
        }
        let list = |key: &str| -> Result<&[Value], (String, String)> {
            match obj.get(key) {
                None => Ok(&[]),
                Some(Value::Array(a)) => Ok(a.as_slice()),
                Some(_) => Err((key.to_string(), "expected a list".to_string())),
            }
        };
        let doc = |v: &Value, path: String| -> Result<PolicyDocument, (String, String)> {
            PolicyDocument::parse_any(v)
                .map_err(|e: PolicyError| (format!("{path}.{}", e.path), e.message))
        };
        let mut acct = Account::default();
        for (i, p) in list("Policies")?.iter().enumerate() {
            let path = format!("Policies[{i}]");
            let arn = text(p, "Arn");
            let default = p
                .get("PolicyVersionList")
                .and_then(Value::as_array)
                .and_then(|vs| {
                    vs.iter().position(|x| {
                        x.get("IsDefaultVersion").and_then(Value::as_bool) == Some(true)
                    })
                })
                .ok_or_else(|| {
                    (
                        format!("{path}.PolicyVersionList"),
                        "no version with IsDefaultVersion: true".to_string(),
                    )
                })?;
            let document = doc(
                &p["PolicyVersionList"][default]["Document"],
                format!("{path}.PolicyVersionList[{default}].Document"),
            )?;
            acct.policy_order.push(arn.clone());
            acct.policies.insert(
                arn.clone(),
                ManagedPolicy {
                    name: text(p, "PolicyName"),
                    aws_managed: arn.starts_with("arn:aws:iam::aws:policy")
                        || arn.contains(":iam::aws:policy"),
                    arn,
                    path: text(p, "Path"),
                    document,
                },
            );
        }
        let grants =
            |v: &Value, inline_key: &str, path: &str| -> Result<Grants, (String, String)> {
                let mut g = Grants::default();
                for (i, p) in v
                    .get(inline_key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    g.inline.push(InlinePolicy {
                        name: text(p, "PolicyName"),
                        document: doc(
                            p.get("PolicyDocument").unwrap_or(&Value::Null),
                            format!("{path}.{inline_key}[{i}].PolicyDocument"),
                        )?,
                    });
                }
                for p in v
                    .get("AttachedManagedPolicies")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    g.attached.push(text(p, "PolicyArn"));
                }
                Ok(g)
            };
        let boundary = |v: &Value| {
            v.get("PermissionsBoundary")
                .and_then(|b| b.get("PermissionsBoundaryArn"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        for (i, u) in list("UserDetailList")?.iter().enumerate() {
            let path = format!("UserDetailList[{i}]");
            acct.identities.push(Identity {
                kind: IdentityKind::User,
                name: text(u, "UserName"),
                arn: text(u, "Arn"),
                path: text(u, "Path"),
                created: text(u, "CreateDate"),
                grants: grants(u, "UserPolicyList", &path)?,
                groups: u
                    .get("GroupList")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|g| g.as_str().map(str::to_string))
                    .collect(),
                boundary: boundary(u),
                trust: None,
                last_used: None,
            });
        }
        for (i, g) in list("GroupDetailList")?.iter().enumerate() {
            let path = format!("GroupDetailList[{i}]");
            acct.identities.push(Identity {
                kind: IdentityKind::Group,
                name: text(g, "GroupName"),
                arn: text(g, "Arn"),
                path: text(g, "Path"),
                created: text(g, "CreateDate"),
                grants: grants(g, "GroupPolicyList", &path)?,
                groups: Vec::new(),
                boundary: None,
                trust: None,
                last_used: None,
            });
        }
        for (i, r) in list("RoleDetailList")?.iter().enumerate() {
            let path = format!("RoleDetailList[{i}]");
            let trust = match r.get("AssumeRolePolicyDocument") {
                Some(t) if !t.is_null() => {
                    Some(doc(t, format!("{path}.AssumeRolePolicyDocument"))?)
                }
                _ => None,
            };
            acct.identities.push(Identity {
                kind: IdentityKind::Role,
                name: text(r, "RoleName"),
                arn: text(r, "Arn"),
                path: text(r, "Path"),
                created: text(r, "CreateDate"),
                grants: grants(r, "RolePolicyList", &path)?,
                groups: Vec::new(),
                boundary: boundary(r),
                trust,
                last_used: r
                    .get("RoleLastUsed")
                    .and_then(|l| l.get("LastUsedDate"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
        }
        acct.id = acct
            .identities
            .iter()
            .find_map(|i| i.arn.split(':').nth(4).filter(|s| !s.is_empty()))
            .unwrap_or_default()
            .to_string();
        Ok(acct)
    }

    /// Users and roles: the identities that can act.
    pub fn principals(&self) -> impl Iterator<Item = &Identity> {
        self.identities
            .iter()
            .filter(|i| i.kind != IdentityKind::Group)
    }

    /// An identity by ARN.
    pub fn identity(&self, arn: &str) -> Option<&Identity> {
        self.identities.iter().find(|i| i.arn == arn)
    }

    /// A group by name.
    pub fn group(&self, name: &str) -> Option<&Identity> {
        self.identities
            .iter()
            .find(|i| i.kind == IdentityKind::Group && i.name == name)
    }

    /// Every policy document that applies to an identity: its own inline and attached
    /// policies, and those of its groups. Each comes with a label (`inline:Name`,
    /// `managed:Name`, `group:G/inline:Name`).
    pub fn policies_of<'a>(&'a self, who: &'a Identity) -> Vec<(String, &'a PolicyDocument)> {
        let mut out = Vec::new();
        let mut add = |prefix: &str, g: &'a Grants| {
            for p in &g.inline {
                out.push((format!("{prefix}inline:{}", p.name), &p.document));
            }
            for arn in &g.attached {
                if let Some(p) = self.policies.get(arn) {
                    out.push((format!("{prefix}managed:{}", p.name), &p.document));
                }
            }
        };
        add("", &who.grants);
        for g in &who.groups {
            if let Some(group) = self.group(g) {
                add(&format!("group:{g}/"), &group.grants);
            }
        }
        out
    }

    /// The permission boundary document of an identity, if any.
    pub fn boundary_of(&self, who: &Identity) -> Option<&PolicyDocument> {
        who.boundary
            .as_ref()
            .and_then(|arn| self.policies.get(arn))
            .map(|p| &p.document)
    }
}
