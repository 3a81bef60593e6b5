//! Risky grants in one policy document: privilege escalation, data exfiltration, resource
//! exposure, credentials exposure and service wildcards.
//!
//! A grant is risky when a statement allows it on `"Resource": "*"` with no condition: nothing
//! then limits which users, roles, buckets or secrets it reaches. Deny statements on `*` take
//! actions back. This is Cloudsplaining's model, judged per policy, so the results compare one
//! to one with its reports; per-principal effective access is [`crate::aws::Account`]'s job.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use fixedbitset::FixedBitSet;
use serde::{Deserialize, Serialize};

use super::catalog::{Access, Catalog};
use super::policy::{Effect, Patterns, PolicyDocument, Statement};

const RISKY_YAML: &str = include_str!("../../../../data/aws/risky-actions.yaml");

/// The risky action sets (`data/aws/risky-actions.yaml`).
#[derive(Debug, Deserialize)]
pub struct RiskyActions {
    /// Method name → the actions that together allow it.
    pub privilege_escalation: BTreeMap<String, Vec<String>>,
    /// Actions whose responses carry credentials.
    pub credentials_exposure: Vec<String>,
    /// Reads of stored data and secrets.
    pub data_exfiltration: Vec<String>,
    /// Service principals that run code as a role (`lambda`, `ec2`, ...).
    pub compute_services: Vec<String>,
}

impl RiskyActions {
    /// The embedded sets.
    pub fn get() -> &'static RiskyActions {
        static SETS: OnceLock<RiskyActions> = OnceLock::new();
        SETS.get_or_init(|| serde_yaml::from_str(RISKY_YAML).expect("embedded risky-actions.yaml"))
    }
}

/// One privilege-escalation method a policy allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Escalation {
    /// Method name (`PassExistingRoleToNewLambdaThenInvoke`).
    #[serde(rename = "type")]
    pub method: String,
    /// The actions it needs, lower-case.
    pub actions: Vec<String>,
}

/// What is risky in one policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyRisks {
    /// Escalation methods fully allowed.
    pub privilege_escalation: Vec<Escalation>,
    /// Reads of data and secrets on any resource.
    pub data_exfiltration: Vec<String>,
    /// Permissions-management actions on any resource (resource policies, grants, IAM).
    pub resource_exposure: Vec<String>,
    /// Actions that return credentials.
    pub credentials_exposure: Vec<String>,
    /// Services granted with `service:*` (or every service with `*`).
    pub service_wildcard: Vec<String>,
    /// Write, permissions and tagging actions on any resource.
    pub infrastructure_modification: Vec<String>,
}

impl PolicyRisks {
    /// True when nothing risky was found.
    pub fn is_empty(&self) -> bool {
        self.privilege_escalation.is_empty()
            && self.data_exfiltration.is_empty()
            && self.resource_exposure.is_empty()
            && self.credentials_exposure.is_empty()
            && self.service_wildcard.is_empty()
            && self.infrastructure_modification.is_empty()
    }
}

/// The actions a statement names, expanded; `NotAction` is everything else.
pub fn statement_actions(cat: &Catalog, s: &Statement) -> FixedBitSet {
    let mut set = cat.empty_set();
    for p in s.actions.patterns() {
        cat.expand_into(p, &mut set);
    }
    if s.actions.negated() {
        set.toggle_range(..);
    }
    set
}

fn resource_is_any(s: &Statement) -> bool {
    matches!(&s.resources, Some(Patterns::Is(r)) if r.iter().any(|x| x == "*"))
}

/// Unconstrained: `Resource` includes `*`, no condition, and at least one action that a
/// resource ARN could have narrowed (a statement of wildcard-only actions is as narrow as IAM
/// allows).
fn unconstrained(cat: &Catalog, s: &Statement, actions: &FixedBitSet) -> Option<FixedBitSet> {
    if !resource_is_any(s) || !s.conditions.is_empty() {
        return None;
    }
    let mut restrictable = actions.clone();
    for id in actions.ones() {
        if cat.action(id as u32).wildcard_only {
            restrictable.set(id, false);
        }
    }
    (!restrictable.is_clear()).then_some(restrictable)
}

/// What one policy grants without resource constraints, as action sets.
#[derive(Debug, Clone)]
pub struct PolicyGrants {
    /// Actions allowed on `"Resource": "*"` without conditions, minus those denied on `*`.
    pub unrestricted: FixedBitSet,
    /// Actions denied on `*` without conditions.
    pub denied: FixedBitSet,
    /// Permissions-management actions allowed on `*` statement by statement (denies ignored).
    pub exposure: FixedBitSet,
    /// Every action an Allow statement names, whatever its resources and conditions.
    pub allowed_any: FixedBitSet,
    /// Services granted with `service:*` or `*`.
    pub service_wildcard: Vec<String>,
    /// Write, permissions and tagging actions (and data reads) allowed on `*`, per statement.
    pub modification: Vec<String>,
}

/// Expands one policy into [`PolicyGrants`].
pub fn grants(cat: &Catalog, doc: &PolicyDocument) -> PolicyGrants {
    let sets = RiskyActions::get();
    let mut unrestricted = cat.empty_set();
    let mut denied = cat.empty_set();
    let mut exposure = cat.empty_set();
    let mut allowed_any = cat.empty_set();
    let mut wildcard_services = std::collections::BTreeSet::new();
    let mut modification = Vec::new();
    for s in &doc.statements {
        let actions = statement_actions(cat, s);
        match s.effect {
            Effect::Deny => {
                if resource_is_any(s) && s.conditions.is_empty() {
                    denied.union_with(&actions);
                }
            }
            Effect::Allow => {
                allowed_any.union_with(&actions);
                if let Patterns::Is(pats) = &s.actions {
                    for p in pats {
                        if p == "*" {
                            wildcard_services.extend(cat.service_prefixes().map(str::to_string));
                        } else if let Some((svc, "*")) = p.split_once(':') {
                            wildcard_services.insert(svc.to_string());
                        }
                    }
                }
                let Some(restrictable) = unconstrained(cat, s, &actions) else {
                    continue;
                };
                unrestricted.union_with(&actions);
                exposure.union_with(&cat.at_level(&restrictable, Access::PermissionsManagement));
                for id in restrictable.ones() {
                    let a = cat.action(id as u32);
                    if !matches!(a.access, Access::Read | Access::List)
                        || sets.data_exfiltration.contains(&a.lower)
                    {
                        modification.push(a.name.clone());
                    }
                }
            }
        }
    }
    unrestricted.difference_with(&denied);
    PolicyGrants {
        unrestricted,
        denied,
        exposure,
        allowed_any,
        service_wildcard: wildcard_services.into_iter().collect(),
        modification,
    }
}

/// The risks of a set of unrestricted actions (one policy's, or a principal's effective set).
pub fn risks_of(
    cat: &Catalog,
    unrestricted: &FixedBitSet,
    exposure: &FixedBitSet,
    service_wildcard: Vec<String>,
    infrastructure_modification: Vec<String>,
) -> PolicyRisks {
    let sets = RiskyActions::get();
    let has = |a: &str| cat.lookup(a).is_some_and(|id| unrestricted[id as usize]);
    let named = |list: &[String]| -> Vec<String> {
        let mut v: Vec<String> = list
            .iter()
            .filter(|a| has(a))
            .filter_map(|a| cat.lookup(a).map(|id| cat.action(id).name.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let privilege_escalation = sets
        .privilege_escalation
        .iter()
        .filter(|(_, actions)| actions.iter().all(|a| has(a)))
        .map(|(m, actions)| Escalation {
            method: m.clone(),
            actions: actions.clone(),
        })
        .collect();
    PolicyRisks {
        privilege_escalation,
        data_exfiltration: named(&sets.data_exfiltration),
        resource_exposure: cat.names(exposure),
        credentials_exposure: named(&sets.credentials_exposure),
        service_wildcard,
        infrastructure_modification,
    }
}

/// Finds the risky grants of one policy.
///
/// ```
/// use tripline_identity::aws::{risk, Catalog, PolicyDocument};
/// let doc = PolicyDocument::parse(&serde_json::json!({"Statement": [
///     {"Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*"}
/// ]})).unwrap();
/// let r = risk::analyze(Catalog::get(), &doc);
/// assert!(r.privilege_escalation.iter().any(|e| e.method == "PassExistingRoleToNewLambdaThenInvoke"));
/// ```
pub fn analyze(cat: &Catalog, doc: &PolicyDocument) -> PolicyRisks {
    let g = grants(cat, doc);
    risks_of(
        cat,
        &g.unrestricted,
        &g.exposure,
        g.service_wildcard,
        g.modification,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn risks(v: serde_json::Value) -> PolicyRisks {
        analyze(Catalog::get(), &PolicyDocument::parse(&v).unwrap())
    }

    #[test]
    fn conditions_and_resource_arns_constrain() {
        let r = risks(
            json!({"Statement": {"Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}}),
        );
        assert!(r.is_empty(), "{r:?}");
        let r = risks(
            json!({"Statement": {"Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": "arn:aws:iam::*:policy/x-*"}}),
        );
        assert!(r.is_empty(), "{r:?}");
        let r = risks(
            json!({"Statement": {"Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": "*"}}),
        );
        assert_eq!(r.privilege_escalation[0].method, "CreateNewPolicyVersion");
        assert_eq!(r.resource_exposure, ["iam:CreatePolicyVersion"]);
    }

    #[test]
    fn deny_takes_back_escalation_but_not_per_statement_exposure() {
        let r = risks(json!({"Statement": [
            {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}
        ]}));
        assert!(r.privilege_escalation.is_empty());
        assert!(r.credentials_exposure.is_empty());
        assert!(r.resource_exposure.contains(&"iam:PassRole".to_string()));
    }

    #[test]
    fn not_action_grants_everything_else() {
        let r = risks(
            json!({"Statement": {"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"}}),
        );
        assert!(r.data_exfiltration.contains(&"s3:GetObject".to_string()));
        assert!(!r.credentials_exposure.iter().any(|a| a.starts_with("iam:")));
        assert!(r
            .credentials_exposure
            .contains(&"sts:AssumeRole".to_string()));
    }
}
