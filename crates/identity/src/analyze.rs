//! The analysis: every input in, ranked findings and escalation paths out.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::aws::credentials::CredentialReport;
use crate::aws::effective::{self, Effective, GrantCache};
use crate::aws::usage::AwsUsage;
use crate::aws::{paths as aws_paths, risk, Account, Catalog, IdentityKind};
use crate::finding::{rank, IdentityFinding, Platform, Severity};
use crate::graph::{EscalationPath, Graph};
use crate::k8s::usage::K8sUsage;
use crate::k8s::{paths as k8s_paths, risk as k8s_risk, Rbac, Subject};

/// What to analyze. Every part is optional; findings need the parts they are about.
#[derive(Default)]
pub struct Inputs {
    /// `get-account-authorization-details` output, and its file.
    pub account: Option<(Account, String)>,
    /// IAM credential report.
    pub credential_report: Option<CredentialReport>,
    /// CloudTrail usage.
    pub cloudtrail: Option<AwsUsage>,
    /// RBAC objects.
    pub rbac: Option<Rbac>,
    /// Kubernetes audit usage.
    pub k8s_audit: Option<K8sUsage>,
}

/// Thresholds.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// An identity or key idle this long is unused.
    pub unused_days: u64,
    /// Access keys older than this should be rotated.
    pub key_max_age_days: u64,
    /// "Now", seconds since the epoch.
    pub now_secs: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            unused_days: 90,
            key_max_age_days: 90,
            now_secs: chrono::Utc::now().timestamp(),
        }
    }
}

/// The result.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    /// Findings, most severe first.
    pub findings: Vec<IdentityFinding>,
    /// Shortest path to admin for every identity that has one.
    pub paths: Vec<EscalationPath>,
    /// Identities that are admin-equivalent, with the reason.
    pub admins: BTreeMap<String, String>,
    /// Counts of what was analyzed.
    pub summary: BTreeMap<String, u64>,
}

fn time_text(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn window_text(w: Option<(u64, u64)>) -> String {
    match w {
        Some((a, b)) => format!(
            "{} to {}",
            time_text((a / 1_000_000_000) as i64),
            time_text((b / 1_000_000_000) as i64)
        ),
        None => "no events".into(),
    }
}

fn short(arn: &str) -> &str {
    arn.rsplit(['/', ':']).next().unwrap_or(arn)
}

/// Runs every analysis the inputs allow.
pub fn analyze(inputs: &Inputs, opts: &Options) -> Report {
    let mut report = Report::default();
    let mut graph = Graph::default();
    if let Some((acct, file)) = &inputs.account {
        aws(inputs, acct, file, opts, &mut graph, &mut report);
    }
    if let Some(rbac) = &inputs.rbac {
        k8s(inputs, rbac, &mut graph, &mut report);
    }
    for n in &graph.nodes {
        if let Some(why) = &n.admin {
            report.admins.insert(n.id.clone(), why.clone());
        }
    }
    // Service-linked roles are AWS's to manage and no one can assume them: not a path start.
    report.paths = graph
        .paths_to_admin()
        .into_iter()
        .filter(|p| !p.from.contains(":role/aws-service-role/"))
        .collect();
    // Where each path's first identity is declared.
    let mut declared: std::collections::HashMap<String, String> = Default::default();
    if let Some((acct, file)) = &inputs.account {
        for i in &acct.identities {
            declared.insert(i.arn.clone(), file.clone());
        }
    }
    if let Some(rbac) = &inputs.rbac {
        for b in &rbac.bindings {
            for s in &b.subjects {
                declared
                    .entry(k8s_paths::node_id(s))
                    .or_insert_with(|| b.file.clone());
            }
        }
    }
    for p in &report.paths {
        let k8s = p.from.starts_with("k8s:");
        report.findings.push(IdentityFinding {
            check: if k8s { "k8s-escalation-path" } else { "aws-escalation-path" }.into(),
            severity: if p.steps.len() == 1 { Severity::Critical } else { Severity::High },
            platform: if k8s { Platform::K8s } else { Platform::Aws },
            identity: p.from.trim_start_matches("k8s:").to_string(),
            title: format!(
                "{} can become admin-equivalent {} in {} step{}",
                short(&p.from),
                short(&p.steps.last().map(|s| s.to.clone()).unwrap_or_default()),
                p.steps.len(),
                if p.steps.len() == 1 { "" } else { "s" }
            ),
            evidence: json!({"path": p.display(), "steps": p.steps, "admin_because": p.admin_because}),
            remediation: "Remove the permission behind the first step, or narrow it to resources \
                          that cannot lead to admin."
                .into(),
            location: declared.get(&p.from).cloned(),
        });
    }
    report
        .summary
        .insert("escalation_paths".into(), report.paths.len() as u64);
    report
        .summary
        .insert("admin_equivalent".into(), report.admins.len() as u64);
    report
        .summary
        .insert("findings".into(), report.findings.len() as u64);
    rank(&mut report.findings);
    report
}

fn aws(
    inputs: &Inputs,
    acct: &Account,
    file: &str,
    opts: &Options,
    graph: &mut Graph,
    report: &mut Report,
) {
    let cat = Catalog::get();
    let cache = GrantCache::build(cat, acct);
    let principals = effective::principals(cat, acct, &cache);
    aws_paths::build(cat, acct, &principals, graph);
    report
        .summary
        .insert("aws_principals".into(), principals.len() as u64);
    report
        .summary
        .insert("aws_policies".into(), acct.policies.len() as u64);
    let loc = Some(file.to_string());
    let push = |report: &mut Report,
                check: &str,
                sev: Severity,
                who: &str,
                title: String,
                evidence: Value,
                fix: &str| {
        report.findings.push(IdentityFinding {
            check: check.into(),
            severity: sev,
            platform: Platform::Aws,
            identity: who.to_string(),
            title,
            evidence,
            remediation: fix.into(),
            location: loc.clone(),
        });
    };
    for p in principals
        .iter()
        .filter(|p| !p.who.path.starts_with("/aws-service-role/"))
    {
        let arn = &p.who.arn;
        let name = &p.who.name;
        let kind = match p.who.kind {
            IdentityKind::User => "user",
            IdentityKind::Role => "role",
            IdentityKind::Group => "group",
        };
        if p.who.kind == IdentityKind::Role {
            trust(p, acct, report, &push);
        }
        if let Some(n) = graph.find(arn) {
            if let Some(why) = &graph.nodes[n].admin {
                push(report, "aws-admin-equivalent", Severity::Medium, arn,
                    format!("{kind} {name} is admin-equivalent: {why}"),
                    json!({"because": why, "policies": p.docs.iter().map(|(l, _)| l).collect::<Vec<_>>()}),
                    "Keep admin rights to a few break-glass identities; give this one only what it uses (see `tripline identity propose`).");
                unused(inputs, opts, p, kind, report, &push);
                continue;
            }
        }
        let r = risk::risks_of(cat, &p.unrestricted, &p.exposure, Vec::new(), Vec::new());
        let via = |actions: &[String]| -> Vec<String> {
            p.docs
                .iter()
                .filter(|(_, d)| {
                    cache.get(d).is_some_and(|g| {
                        actions.iter().any(|a| {
                            cat.lookup(a).is_some_and(|id| {
                                g.unrestricted[id as usize] || g.exposure[id as usize]
                            })
                        })
                    })
                })
                .map(|(l, _)| l.clone())
                .collect()
        };
        if !r.privilege_escalation.is_empty() {
            let actions: Vec<String> = r
                .privilege_escalation
                .iter()
                .flat_map(|e| e.actions.clone())
                .collect();
            push(
                report,
                "aws-privilege-escalation",
                Severity::High,
                arn,
                format!(
                    "{kind} {name} allows {} privilege-escalation method{}",
                    r.privilege_escalation.len(),
                    if r.privilege_escalation.len() == 1 {
                        ""
                    } else {
                        "s"
                    }
                ),
                json!({"methods": r.privilege_escalation, "policies": via(&actions)}),
                "Limit these actions to named resources, or remove them.",
            );
        }
        for (check, sev, list, what, fix) in [
            ("aws-credentials-exposure", Severity::High, &r.credentials_exposure, "action(s) that return credentials", "Limit these actions to named resources, or remove them."),
            ("aws-resource-exposure", Severity::High, &r.resource_exposure, "permissions-management action(s) on any resource", "Limit these actions to named resources: they change who can access what."),
            ("aws-data-exfiltration", Severity::Medium, &r.data_exfiltration, "data read(s) on any resource", "Limit reads of objects, parameters and secrets to the resources this identity needs."),
        ] {
            if !list.is_empty() {
                push(report, check, sev, arn,
                    format!("{kind} {name} allows {} {what}", list.len()),
                    json!({"actions": list, "policies": via(list)}), fix);
            }
        }
        unused(inputs, opts, p, kind, report, &push);
    }
    if let Some(cr) = &inputs.credential_report {
        keys(inputs, cr, opts, report, &push);
    }
}

type Push<'a> = dyn Fn(&mut Report, &str, Severity, &str, String, Value, &str) + 'a;

fn trust(p: &Effective<'_>, acct: &Account, report: &mut Report, push: &Push<'_>) {
    let Some(t) = &p.who.trust else { return };
    let sets = risk::RiskyActions::get();
    for s in &t.statements {
        if s.effect != crate::aws::policy::Effect::Allow {
            continue;
        }
        let Some(pr) = &s.principals else { continue };
        let name = &p.who.name;
        if pr.any {
            let (sev, cond) = if s.conditions.is_empty() {
                (Severity::Critical, "")
            } else {
                (Severity::Medium, " (with conditions)")
            };
            push(
                report,
                "aws-trust-any-principal",
                sev,
                &p.who.arn,
                format!("role {name} can be assumed by any AWS principal{cond}"),
                json!({"statement": s.to_json()}),
                "Name the accounts or roles that may assume it in the trust policy.",
            );
        }
        let foreign: Vec<&String> = pr
            .aws
            .iter()
            .filter(|a| {
                let account = a.split(':').nth(4).unwrap_or(a);
                account != acct.id && !acct.id.is_empty()
            })
            .collect();
        if !foreign.is_empty() {
            push(report, "aws-trust-cross-account", Severity::Medium, &p.who.arn,
                format!("role {name} can be assumed from other accounts: {}", foreign.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
                json!({"principals": foreign}),
                "Check each account is yours or a vendor you trust; require sts:ExternalId for vendors.");
        }
        let compute: Vec<&String> = pr
            .service
            .iter()
            .filter(|svc| {
                sets.compute_services
                    .iter()
                    .any(|c| svc.as_str() == format!("{c}.amazonaws.com"))
            })
            .collect();
        if !compute.is_empty() && p.unrestricted.count_ones(..) > 0 {
            push(report, "aws-trust-compute-service", Severity::Low, &p.who.arn,
                format!("role {name} runs on compute services ({}) with unrestricted grants", compute.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
                json!({"services": compute}),
                "Whoever runs code on these services as this role holds its permissions: keep them narrow.");
        }
    }
}

fn unused(
    inputs: &Inputs,
    opts: &Options,
    p: &Effective<'_>,
    kind: &str,
    report: &mut Report,
    push: &Push<'_>,
) {
    let cat = Catalog::get();
    let arn = &p.who.arn;
    let name = &p.who.name;
    let ct = inputs.cloudtrail.as_ref();
    let seen = ct.and_then(|u| u.of(arn));
    let cr_last = inputs
        .credential_report
        .as_ref()
        .and_then(|c| c.user(arn))
        .and_then(|u| u.last_used());
    let role_last = p.who.last_used.as_deref().and_then(|t| {
        chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.timestamp())
    });
    let ct_last = seen.map(|s| (s.last_ns / 1_000_000_000) as i64);
    let last = [cr_last, role_last, ct_last].into_iter().flatten().max();
    let have_data = ct.is_some()
        || (p.who.kind == IdentityKind::User && inputs.credential_report.is_some())
        || role_last.is_some();
    let cutoff = opts.now_secs - (opts.unused_days as i64) * 86_400;
    let idle = have_data && last.is_none_or(|l| l < cutoff);
    if idle && p.granted.count_ones(..) > 0 {
        let window = ct.map(|u| window_text(u.window));
        let window_days = ct
            .and_then(|u| u.window)
            .map_or(0, |(a, b)| (b - a) / 86_400_000_000_000);
        // Logs shorter than the threshold cannot prove idleness: say so and rank it lower.
        let proven = last.is_some() || ct.is_none() || window_days >= opts.unused_days;
        push(report, "aws-unused-identity", if proven { Severity::Medium } else { Severity::Low }, arn,
            match last {
                Some(l) => format!("{kind} {name}: last used {}, over {} days ago", time_text(l), opts.unused_days),
                None => format!("{kind} {name}: no activity{}", window.as_ref().map(|w| format!(" in the logs ({w})")).unwrap_or_default()),
            },
            json!({"last_used": last.map(time_text), "cloudtrail_window": window, "unused_days": opts.unused_days,
                   "granted_actions": p.granted.count_ones(..), "proven_for_whole_period": proven}),
            &format!("Delete the {kind} if nothing needs it, or detach its policies first and watch for errors."));
    }
    let Some(seen) = seen else { return };
    let used: std::collections::BTreeSet<u32> = seen
        .actions
        .iter()
        .filter(|(_, u)| u.calls > 0)
        .filter_map(|(a, _)| cat.lookup(a))
        .collect();
    let mut by_service: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for id in p.granted.ones() {
        let svc = Catalog::service_of(&cat.action(id as u32).name);
        let e = by_service.entry(svc).or_default();
        e.0 += 1;
        if used.contains(&(id as u32)) {
            e.1 += 1;
        }
    }
    let unused_services: Vec<&str> = by_service
        .iter()
        .filter(|(_, (_, u))| *u == 0)
        .map(|(s, _)| *s)
        .collect();
    let unused_count: u64 = by_service.values().map(|(g, u)| g - u).sum();
    if unused_count == 0 {
        return;
    }
    let partly: BTreeMap<&str, String> = by_service
        .iter()
        .filter(|(_, (g, u))| *u > 0 && g > u)
        .map(|(s, (g, u))| (*s, format!("{u} of {g} used")))
        .collect();
    let writes_unused = p.granted.ones().any(|id| {
        !used.contains(&(id as u32))
            && matches!(
                cat.action(id as u32).access,
                crate::aws::Access::PermissionsManagement
            )
    });
    push(report, "aws-unused-permissions", if writes_unused { Severity::Medium } else { Severity::Low }, arn,
        format!("{kind} {name} used {} of {} granted actions in the logs; {} service{} granted and never used",
            used.len(), p.granted.count_ones(..), unused_services.len(), if unused_services.len() == 1 { "" } else { "s" }),
        json!({
            "window": window_text(inputs.cloudtrail.as_ref().and_then(|u| u.window)),
            "used": seen.actions.iter().filter(|(_, u)| u.calls > 0).map(|(a, _)| a).collect::<Vec<_>>(),
            "denied": seen.actions.iter().filter(|(_, u)| u.denied > 0).map(|(a, _)| a).collect::<Vec<_>>(),
            "unused_services": unused_services,
            "partly_used_services": partly,
        }),
        "Replace its policies with the least-privilege proposal: `tripline identity propose --identity ARN -o DIR`.");
}

fn keys(
    inputs: &Inputs,
    cr: &CredentialReport,
    opts: &Options,
    report: &mut Report,
    push: &Push<'_>,
) {
    let day = 86_400i64;
    for u in &cr.users {
        for k in u.keys.iter().filter(|k| k.active) {
            // CloudTrail may show a newer use than the report.
            let ct_last = inputs.cloudtrail.as_ref().and_then(|c| {
                c.access_keys
                    .values()
                    .filter(|ku| ku.principal == u.arn)
                    .map(|ku| (ku.last_ns / 1_000_000_000) as i64)
                    .max()
            });
            let last = k.last_used.max(ct_last);
            let age = k.last_rotated.map(|r| (opts.now_secs - r) / day);
            let ev = json!({"user": u.user, "key_slot": k.slot, "last_rotated": k.last_rotated.map(time_text),
                            "last_used": last.map(time_text), "age_days": age});
            if let Some(age) = age.filter(|a| *a > opts.key_max_age_days as i64) {
                push(report, "aws-access-key-old", Severity::Medium, &u.arn,
                    format!("user {}: access key {} is {age} days old (limit {})", u.user, k.slot, opts.key_max_age_days),
                    ev.clone(), "Rotate the key: create a new one, switch clients, deactivate and delete the old one.");
            }
            match last {
                None if age.is_none_or(|a| a > 7) => push(
                    report,
                    "aws-access-key-never-used",
                    Severity::Medium,
                    &u.arn,
                    format!(
                        "user {}: active access key {} was never used",
                        u.user, k.slot
                    ),
                    ev,
                    "Deactivate and delete the key.",
                ),
                Some(l) if l < opts.now_secs - opts.unused_days as i64 * day => push(
                    report,
                    "aws-access-key-stale",
                    Severity::Medium,
                    &u.arn,
                    format!(
                        "user {}: access key {} last used {}, over {} days ago",
                        u.user,
                        k.slot,
                        time_text(l),
                        opts.unused_days
                    ),
                    ev,
                    "Deactivate the key; delete it if nothing breaks.",
                ),
                _ => {}
            }
        }
    }
}

fn k8s(inputs: &Inputs, rbac: &Rbac, graph: &mut Graph, report: &mut Report) {
    k8s_paths::build(rbac, graph);
    report
        .summary
        .insert("k8s_subjects".into(), rbac.subjects().len() as u64);
    for r in k8s_risk::check(rbac) {
        let admin = graph
            .find(&k8s_paths::node_id(&r.subject))
            .and_then(|n| graph.nodes[n].admin.clone());
        if admin.is_some() && r.check != "k8s-cluster-admin" {
            continue; // Admins can do everything; one finding says so.
        }
        report.findings.push(IdentityFinding {
            check: r.check.into(),
            severity: r.severity,
            platform: Platform::K8s,
            identity: r.subject.display(),
            title: format!(
                "{} {}{}",
                r.subject.display(),
                r.title,
                if r.effective {
                    ""
                } else {
                    " (RoleBinding: no effect on cluster-scoped resources until bound cluster-wide)"
                }
            ),
            evidence: json!({"via": r.via, "effective": r.effective}),
            remediation: "Remove the rule from the role, or bind the role to fewer subjects."
                .into(),
            location: r.files.first().cloned(),
        });
    }
    for e in k8s_risk::ssh_exposed(rbac) {
        report.findings.push(IdentityFinding {
            check: "k8s-ssh-exposed".into(),
            severity: Severity::Medium,
            platform: Platform::K8s,
            identity: format!("{} {}/{}", e.kind, e.namespace, e.name),
            title: format!("{} {}/{} is exposed on SSH port {} by service {}", e.kind, e.namespace, e.name, e.port, e.service),
            evidence: json!(e),
            remediation: "Remove the SSH server from the image; use `kubectl exec` with RBAC instead.".into(),
            location: None,
        });
    }
    let Some(audit) = &inputs.k8s_audit else {
        return;
    };
    for s in rbac.subjects() {
        if s.kind == "Group" {
            continue;
        }
        let grants = rbac.grants_of(&s);
        if grants.is_empty() {
            continue;
        }
        let username = s.username();
        let Some(u) = audit.users.get(&username) else {
            report.findings.push(IdentityFinding {
                check: "k8s-unused-identity".into(),
                severity: Severity::Low,
                platform: Platform::K8s,
                identity: s.display(),
                title: format!("{}: no requests in the audit log ({})", s.display(), window_text(audit.window)),
                evidence: json!({"window": window_text(audit.window), "bindings": grants.iter().map(|g| g.binding.display()).collect::<std::collections::BTreeSet<_>>()}),
                remediation: "Remove its bindings if nothing needs it.".into(),
                location: grants.first().map(|g| g.binding.file.clone()),
            });
            continue;
        };
        let unused: Vec<String> = grants
            .iter()
            .filter(|g| {
                !u.requests
                    .iter()
                    .any(|(r, use_)| use_.calls > 0 && g.allows(r))
            })
            .map(|g| g.display())
            .collect();
        if !unused.is_empty() {
            report.findings.push(IdentityFinding {
                check: "k8s-unused-permissions".into(),
                severity: Severity::Low,
                platform: Platform::K8s,
                identity: s.display(),
                title: format!("{}: {} of {} granted rules unused in the audit log", s.display(), unused.len(), grants.len()),
                evidence: json!({"unused_rules": unused, "used": u}),
                remediation: "Replace its roles with the least-privilege proposal: `tripline identity propose --identity SUBJECT -o DIR`.".into(),
                location: grants.first().map(|g| g.binding.file.clone()),
            });
        }
    }
}

/// Subjects known to RBAC by their user name (`system:serviceaccount:ns:sa`, `jane`).
pub fn k8s_subject(rbac: &Rbac, name: &str) -> Option<Subject> {
    rbac.subjects()
        .into_iter()
        .find(|s| s.username() == name || s.display() == name || s.name == name)
}
