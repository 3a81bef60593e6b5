//! The IAM a Terraform state declares, as an [`Account`]: what `tripline drift --terraform`
//! compares with the live account.
//!
//! Reads `terraform show -json` output (state or plan: `values` or `planned_values`, with
//! child modules) and raw `terraform.tfstate` files (version 4). The resources read are
//! `aws_iam_{user,group,role,policy}`, their `_policy` (inline) and `_policy_attachment`
//! resources, `aws_iam_user_group_membership`, `aws_iam_group_membership` and
//! `aws_iam_policy_attachment`; a role's own `managed_policy_arns` and `inline_policy` blocks
//! count as well.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::account::{Account, Grants, Identity, IdentityKind, InlinePolicy, ManagedPolicy};
use super::policy::PolicyDocument;

/// A Terraform file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {at}: {message}")]
pub struct TerraformError {
    /// The file.
    pub file: String,
    /// The resource address (`aws_iam_role.deploy`) or `line N`.
    pub at: String,
    /// What was expected.
    pub message: String,
}

/// What an attachment or membership resource gives an identity.
enum Grant {
    Attached(String),
    Inline(InlinePolicy),
    Groups(Vec<String>),
}

impl Grant {
    fn apply(&self, i: &mut Identity) {
        match self {
            Grant::Attached(arn) => i.grants.attached.push(arn.clone()),
            Grant::Inline(p) => i.grants.inline.push(p.clone()),
            Grant::Groups(g) => i.groups.extend(g.iter().cloned()),
        }
    }
}

/// One resource instance: its address, type and attribute values.
struct Resource<'a> {
    address: String,
    kind: &'a str,
    values: &'a Value,
}

/// Managed resources of a `terraform show -json` module, with its child modules.
fn module_resources<'a>(module: &'a Value, out: &mut Vec<Resource<'a>>) {
    for r in module
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if r.get("mode").and_then(Value::as_str) == Some("data") {
            continue;
        }
        if let (Some(kind), Some(values)) = (r.get("type").and_then(Value::as_str), r.get("values"))
        {
            let address = r.get("address").and_then(Value::as_str).unwrap_or(kind);
            out.push(Resource {
                address: address.to_string(),
                kind,
                values,
            });
        }
    }
    for child in module
        .get("child_modules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        module_resources(child, out);
    }
}

/// Managed resource instances of a raw state file (version 4).
fn state_resources<'a>(state: &'a Value, out: &mut Vec<Resource<'a>>) {
    for r in state
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if r.get("mode").and_then(Value::as_str) == Some("data") {
            continue;
        }
        let (Some(kind), Some(name)) = (
            r.get("type").and_then(Value::as_str),
            r.get("name").and_then(Value::as_str),
        ) else {
            continue;
        };
        let module = r.get("module").and_then(Value::as_str);
        for (i, instance) in r
            .get("instances")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(values) = instance.get("attributes") {
                let base = match module {
                    Some(m) => format!("{m}.{kind}.{name}"),
                    None => format!("{kind}.{name}"),
                };
                let address = match instance.get("index_key") {
                    Some(k) if !k.is_null() => format!("{base}[{k}]"),
                    _ if i > 0 => format!("{base}[{i}]"),
                    _ => base,
                };
                out.push(Resource {
                    address,
                    kind,
                    values,
                });
            }
        }
    }
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// The declared IAM of one or more Terraform files, merged.
///
/// ```
/// let state = serde_json::json!({"format_version": "1.0", "values": {"root_module": {
///     "resources": [
///         {"address": "aws_iam_role.ci", "mode": "managed", "type": "aws_iam_role", "name": "ci",
///          "values": {"name": "ci", "path": "/", "assume_role_policy":
///             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"}},
///         {"address": "aws_iam_role_policy_attachment.ci", "mode": "managed",
///          "type": "aws_iam_role_policy_attachment", "name": "ci",
///          "values": {"role": "ci", "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}}]}}});
/// let acct = tripline_identity::aws::terraform::declared(&[("main.tfstate.json", &state)]).unwrap();
/// assert_eq!(acct.identities[0].name, "ci");
/// assert_eq!(acct.identities[0].grants.attached, ["arn:aws:iam::aws:policy/ReadOnlyAccess"]);
/// ```
pub fn declared(files: &[(&str, &Value)]) -> Result<Account, TerraformError> {
    let mut identities: BTreeMap<(IdentityKind, String), Identity> = BTreeMap::new();
    let mut acct = Account::default();
    for (file, doc) in files {
        let mut resources = Vec::new();
        if let Some(values) = doc.get("values").or_else(|| doc.get("planned_values")) {
            if let Some(root) = values.get("root_module") {
                module_resources(root, &mut resources);
            }
        } else if doc.get("resources").is_some() {
            state_resources(doc, &mut resources);
        } else {
            return Err(TerraformError {
                file: file.to_string(),
                at: "(document)".into(),
                message: "expected `terraform show -json` output (values or planned_values) or a terraform.tfstate (resources)".into(),
            });
        }
        let err = |r: &Resource, message: String| TerraformError {
            file: file.to_string(),
            at: r.address.clone(),
            message,
        };
        let document = |r: &Resource, key: &str| -> Result<PolicyDocument, TerraformError> {
            let json = match r.values.get(key) {
                Some(Value::String(s)) => {
                    serde_json::from_str(s).map_err(|e| err(r, format!("{key}: not JSON: {e}")))?
                }
                Some(v @ Value::Object(_)) => v.clone(),
                _ => return Err(err(r, format!("{key}: expected a policy document"))),
            };
            PolicyDocument::parse(&json)
                .map_err(|e| err(r, format!("{key}: {}: {}", e.path, e.message)))
        };
        // Identities first, so attachments find them whatever the order of the file.
        for r in &resources {
            let kind = match r.kind {
                "aws_iam_user" => IdentityKind::User,
                "aws_iam_group" => IdentityKind::Group,
                "aws_iam_role" => IdentityKind::Role,
                "aws_iam_policy" => {
                    let arn = text(r.values, "arn").to_string();
                    let name = text(r.values, "name").to_string();
                    let key = if arn.is_empty() {
                        format!("name:{name}")
                    } else {
                        arn.clone()
                    };
                    acct.policy_order.push(key.clone());
                    acct.policies.insert(
                        key,
                        ManagedPolicy {
                            name,
                            arn,
                            path: text(r.values, "path").to_string(),
                            document: document(r, "policy")?,
                            aws_managed: false,
                        },
                    );
                    continue;
                }
                _ => continue,
            };
            let name = text(r.values, "name");
            if name.is_empty() {
                return Err(err(r, "expected a name".into()));
            }
            let mut grants = Grants {
                attached: strings(r.values, "managed_policy_arns"),
                ..Grants::default()
            };
            for block in r
                .values
                .get("inline_policy")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                // An empty block is how Terraform records "no inline policies".
                if text(block, "name").is_empty() {
                    continue;
                }
                let block_resource = Resource {
                    address: format!("{}.inline_policy[{}]", r.address, text(block, "name")),
                    kind: r.kind,
                    values: block,
                };
                grants.inline.push(InlinePolicy {
                    name: text(block, "name").to_string(),
                    document: document(&block_resource, "policy")?,
                });
            }
            let trust = match kind {
                IdentityKind::Role => Some(document(r, "assume_role_policy")?),
                _ => None,
            };
            identities.insert(
                (kind, name.to_string()),
                Identity {
                    kind,
                    name: name.to_string(),
                    arn: text(r.values, "arn").to_string(),
                    path: match text(r.values, "path") {
                        "" => "/".to_string(),
                        p => p.to_string(),
                    },
                    created: String::new(),
                    grants,
                    groups: Vec::new(),
                    boundary: Some(text(r.values, "permissions_boundary"))
                        .filter(|b| !b.is_empty())
                        .map(str::to_string),
                    trust,
                    last_used: None,
                },
            );
        }
        for r in &resources {
            let owner = |key: &str, kind: IdentityKind| (kind, text(r.values, key).to_string());
            let (targets, grant) = match r.kind {
                "aws_iam_role_policy_attachment"
                | "aws_iam_user_policy_attachment"
                | "aws_iam_group_policy_attachment" => {
                    let (kind, key) = match r.kind {
                        "aws_iam_role_policy_attachment" => (IdentityKind::Role, "role"),
                        "aws_iam_user_policy_attachment" => (IdentityKind::User, "user"),
                        _ => (IdentityKind::Group, "group"),
                    };
                    let arn = text(r.values, "policy_arn").to_string();
                    (vec![owner(key, kind)], Grant::Attached(arn))
                }
                "aws_iam_role_policy" | "aws_iam_user_policy" | "aws_iam_group_policy" => {
                    let (kind, key) = match r.kind {
                        "aws_iam_role_policy" => (IdentityKind::Role, "role"),
                        "aws_iam_user_policy" => (IdentityKind::User, "user"),
                        _ => (IdentityKind::Group, "group"),
                    };
                    let inline = InlinePolicy {
                        name: text(r.values, "name").to_string(),
                        document: document(r, "policy")?,
                    };
                    (vec![owner(key, kind)], Grant::Inline(inline))
                }
                "aws_iam_user_group_membership" => (
                    vec![owner("user", IdentityKind::User)],
                    Grant::Groups(strings(r.values, "groups")),
                ),
                "aws_iam_group_membership" => {
                    let users = strings(r.values, "users")
                        .into_iter()
                        .map(|u| (IdentityKind::User, u))
                        .collect();
                    let group = text(r.values, "group").to_string();
                    (users, Grant::Groups(vec![group]))
                }
                "aws_iam_policy_attachment" => {
                    let mut targets = Vec::new();
                    for (key, kind) in [
                        ("users", IdentityKind::User),
                        ("groups", IdentityKind::Group),
                        ("roles", IdentityKind::Role),
                    ] {
                        targets.extend(strings(r.values, key).into_iter().map(|n| (kind, n)));
                    }
                    let arn = text(r.values, "policy_arn").to_string();
                    (targets, Grant::Attached(arn))
                }
                _ => continue,
            };
            for t in targets {
                // A name Terraform writes as a reference or an ARN (`role = aws_iam_role.x.id`
                // is the name; some modules pass the ARN).
                let name = t.1.rsplit('/').next().unwrap_or(&t.1).to_string();
                match identities.get_mut(&(t.0, name.clone())) {
                    Some(i) => grant.apply(i),
                    None => {
                        return Err(err(
                            r,
                            format!(
                                "{} {name} is not declared in this state (an aws_iam_{} resource is needed)",
                                kind_name(t.0),
                                kind_name(t.0)
                            ),
                        ))
                    }
                }
            }
        }
    }
    for i in identities.values_mut() {
        i.grants.attached.sort();
        i.grants.attached.dedup();
        i.grants.inline.sort_by(|a, b| a.name.cmp(&b.name));
        i.groups.sort();
        i.groups.dedup();
    }
    acct.identities = identities.into_values().collect();
    acct.id = acct
        .identities
        .iter()
        .find_map(|i| i.arn.split(':').nth(4).filter(|s| !s.is_empty()))
        .unwrap_or_default()
        .to_string();
    Ok(acct)
}

/// `user`, `group` or `role`.
pub fn kind_name(kind: IdentityKind) -> &'static str {
    match kind {
        IdentityKind::User => "user",
        IdentityKind::Group => "group",
        IdentityKind::Role => "role",
    }
}

/// Reads Terraform files (see [`declared`]).
pub fn load(paths: &[impl AsRef<Path>]) -> Result<Account, TerraformError> {
    let mut docs = Vec::new();
    for p in paths {
        let file = p.as_ref().display().to_string();
        let text = std::fs::read_to_string(p.as_ref()).map_err(|e| TerraformError {
            file: file.clone(),
            at: "(file)".into(),
            message: e.to_string(),
        })?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| TerraformError {
            file: file.clone(),
            at: format!("line {}", e.line()),
            message: format!("expected Terraform JSON (terraform show -json, or a .tfstate): {e}"),
        })?;
        docs.push((file, doc));
    }
    let refs: Vec<(&str, &Value)> = docs.iter().map(|(f, d)| (f.as_str(), d)).collect();
    declared(&refs)
}
