//! AWS escalation edges: who can act as which user or role, and who is admin-equivalent.
//!
//! Edges (each checked with the full evaluator against the target's ARN):
//! - `sts:AssumeRole`: the role's trust policy admits the principal (by ARN, its account, or
//!   `*`), and, unless the trust names it directly, its own policies allow the call;
//! - `iam:PassRole` + launching a compute service the role trusts (Lambda, EC2, ECS, Glue,
//!   CloudFormation, SageMaker, CodeBuild, Data Pipeline, App Runner);
//! - access-key or console-password creation for another user;
//! - rewriting a role's trust policy (`iam:UpdateAssumeRolePolicy`);
//! - code changes to what already runs as a role (`lambda:UpdateFunctionCode`,
//!   `ssm:SendCommand`/`ssm:StartSession` on instances).
//!
//! Admin-equivalent: allows every action on `*`, or can change its own permissions (attach or
//! put a policy on itself or its group, or write a new version of a policy attached to it).

use super::account::{Account, IdentityKind};
use super::catalog::Catalog;
use super::effective::Effective;
use super::policy::Effect;
use crate::graph::Graph;

/// Launch recipes per trusted service: every action of one alternative must be allowed.
const LAUNCH: &[(&str, &[&[&str]])] = &[
    (
        "lambda.amazonaws.com",
        &[
            &["lambda:CreateFunction", "lambda:InvokeFunction"],
            &["lambda:CreateFunction", "lambda:CreateEventSourceMapping"],
            &["lambda:CreateFunction", "lambda:AddPermission"],
        ],
    ),
    (
        "ec2.amazonaws.com",
        &[&["ec2:RunInstances"], &["ec2:RequestSpotInstances"]],
    ),
    (
        "ecs-tasks.amazonaws.com",
        &[
            &["ecs:RegisterTaskDefinition", "ecs:RunTask"],
            &["ecs:RegisterTaskDefinition", "ecs:StartTask"],
            &["ecs:RegisterTaskDefinition", "ecs:CreateService"],
        ],
    ),
    (
        "glue.amazonaws.com",
        &[
            &["glue:CreateDevEndpoint"],
            &["glue:CreateJob", "glue:StartJobRun"],
            &["glue:CreateJob", "glue:CreateTrigger"],
        ],
    ),
    (
        "cloudformation.amazonaws.com",
        &[&["cloudformation:CreateStack"]],
    ),
    (
        "sagemaker.amazonaws.com",
        &[
            &["sagemaker:CreateNotebookInstance"],
            &["sagemaker:CreateTrainingJob"],
            &["sagemaker:CreateProcessingJob"],
        ],
    ),
    (
        "codebuild.amazonaws.com",
        &[&["codebuild:CreateProject", "codebuild:StartBuild"]],
    ),
    (
        "datapipeline.amazonaws.com",
        &[&["datapipeline:CreatePipeline"]],
    ),
    ("apprunner.amazonaws.com", &[&["apprunner:CreateService"]]),
];

/// Why a principal is admin-equivalent, if it is.
pub fn admin_reason(cat: &Catalog, acct: &Account, p: &Effective<'_>) -> Option<String> {
    if p.unrestricted.count_ones(..) == cat.len() {
        return Some("allows every action on every resource".into());
    }
    let arn = &p.who.arn;
    let own: &[&str] = match p.who.kind {
        IdentityKind::User => &["iam:PutUserPolicy", "iam:AttachUserPolicy"],
        IdentityKind::Role => &["iam:PutRolePolicy", "iam:AttachRolePolicy"],
        IdentityKind::Group => &[],
    };
    for a in own {
        if p.may(cat, a) && p.allows(a, arn, &[]) {
            return Some(format!("can grant itself any permission ({a} on itself)"));
        }
    }
    for g in &p.who.groups {
        if let Some(group) = acct.group(g) {
            for a in ["iam:PutGroupPolicy", "iam:AttachGroupPolicy"] {
                if p.may(cat, a) && p.allows(a, &group.arn, &[]) {
                    return Some(format!("can grant its group {g} any permission ({a})"));
                }
            }
        }
    }
    let attached: Vec<&String> = p
        .who
        .grants
        .attached
        .iter()
        .chain(
            p.who
                .groups
                .iter()
                .filter_map(|g| acct.group(g))
                .flat_map(|g| g.grants.attached.iter()),
        )
        .filter(|a| acct.policies.get(*a).is_some_and(|m| !m.aws_managed))
        .collect();
    if p.may(cat, "iam:CreatePolicyVersion") {
        for pol in attached {
            if p.allows("iam:CreatePolicyVersion", pol, &[]) {
                return Some(format!(
                    "can rewrite its own policy {pol} (iam:CreatePolicyVersion)"
                ));
            }
        }
    }
    None
}

/// Adds the account's principals, admin marks and edges to the graph.
pub fn build(cat: &Catalog, acct: &Account, principals: &[Effective<'_>], g: &mut Graph) {
    let ids: Vec<usize> = principals.iter().map(|p| g.node(&p.who.arn)).collect();
    for (p, &n) in principals.iter().zip(&ids) {
        if let Some(why) = admin_reason(cat, acct, p) {
            g.set_admin(n, &why);
        }
    }
    let index: std::collections::HashMap<&str, usize> = principals
        .iter()
        .enumerate()
        .map(|(i, p)| (p.who.arn.as_str(), i))
        .collect();
    let index_of = |arn: &str| index.get(arn).copied();
    // Principals whose policies name an action at all: the only ones worth evaluating.
    let mut may_cache: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    let mut who_may = |a: &'static str| -> Vec<usize> {
        may_cache
            .entry(a)
            .or_insert_with(|| {
                let id = cat.lookup(a);
                principals
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| id.is_some_and(|id| p.granted[id as usize]))
                    .map(|(i, _)| i)
                    .collect()
            })
            .clone()
    };
    for (ri, role) in principals.iter().enumerate() {
        if role.who.kind != IdentityKind::Role {
            continue;
        }
        let Some(trust) = &role.who.trust else {
            continue;
        };
        let rarn = &role.who.arn;
        for s in &trust.statements {
            if s.effect != Effect::Allow
                || !super::eval::action_matches(&s.actions, "sts:assumerole")
            {
                continue;
            }
            let Some(pr) = &s.principals else { continue };
            let how = if s.conditions.is_empty() {
                "sts:AssumeRole".to_string()
            } else {
                "sts:AssumeRole (trust has conditions)".to_string()
            };
            // Principals the trust names directly need no permission of their own.
            for a in &pr.aws {
                if let Some(i) = index_of(a) {
                    g.edge(ids[i], ids[ri], &how);
                }
            }
            let whole_account = pr.any
                || pr
                    .aws
                    .iter()
                    .any(|a| *a == acct.id || *a == format!("arn:aws:iam::{}:root", acct.id));
            if whole_account {
                for i in who_may("sts:AssumeRole") {
                    if i != ri && principals[i].allows("sts:AssumeRole", rarn, &[]) {
                        g.edge(ids[i], ids[ri], &how);
                    }
                }
            }
            for svc in &pr.service {
                let Some((_, recipes)) = LAUNCH.iter().find(|(s, _)| s == svc) else {
                    continue;
                };
                for i in who_may("iam:PassRole") {
                    let p = &principals[i];
                    if i == ri || !p.allows("iam:PassRole", rarn, &[("iam:PassedToService", svc)]) {
                        continue;
                    }
                    let recipe = recipes
                        .iter()
                        .find(|r| r.iter().all(|a| p.may(cat, a) && p.allows(a, "*", &[])));
                    if let Some(r) = recipe {
                        g.edge(
                            ids[i],
                            ids[ri],
                            &format!("iam:PassRole + {}", r.join(" + ")),
                        );
                    }
                }
                // Code already running as the role.
                let existing: &[&'static str] = match svc.as_str() {
                    "lambda.amazonaws.com" => &["lambda:UpdateFunctionCode"],
                    "ec2.amazonaws.com" => &["ssm:SendCommand", "ssm:StartSession"],
                    _ => &[],
                };
                for a in existing {
                    for i in who_may(a) {
                        if i != ri && principals[i].allows(a, "*", &[]) {
                            g.edge(ids[i], ids[ri], &format!("{a} on what runs as the role"));
                        }
                    }
                }
            }
        }
        let a = "iam:UpdateAssumeRolePolicy";
        for i in who_may(a) {
            if i != ri && principals[i].allows(a, rarn, &[]) {
                g.edge(
                    ids[i],
                    ids[ri],
                    "iam:UpdateAssumeRolePolicy, then sts:AssumeRole",
                );
            }
        }
    }
    for (ui, user) in principals.iter().enumerate() {
        if user.who.kind != IdentityKind::User {
            continue;
        }
        for a in [
            "iam:CreateAccessKey",
            "iam:CreateLoginProfile",
            "iam:UpdateLoginProfile",
        ] {
            for i in who_may(a) {
                if i != ui && principals[i].allows(a, &user.who.arn, &[]) {
                    g.edge(ids[i], ids[ui], a);
                }
            }
        }
    }
}
