//! `tripline drift`: a contract against a snapshot, as findings with a severity that follows
//! what the difference means for security (a new SUID binary, a new authorized key, a changed
//! sudoers or sshd config, a new listener on all addresses are high; a changed log rotation
//! setting is low).

use serde::Serialize;

use crate::collect::{FileFacts, Snapshot};
use crate::contract::{Contract, PackageRule, State};

/// How bad a difference is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Housekeeping.
    Low,
    /// Worth a look.
    Medium,
    /// Changes who can do what, or what runs.
    High,
    /// A new root.
    Critical,
}

impl Severity {
    /// Lower-case name (`high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// What kind of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Declared `required`, not there.
    Missing,
    /// There, declared nowhere.
    Added,
    /// There, with other facts than declared.
    Changed,
    /// There, declared `forbidden`.
    Forbidden,
}

/// One difference between the contract and the live state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Contract section (`files`, `users`, `authorizedKeys`, ...).
    pub section: &'static str,
    /// What kind of difference.
    pub change: Change,
    /// The item (path, user name, `tcp 0.0.0.0:8080`, ...).
    pub item: String,
    /// Severity.
    pub severity: Severity,
    /// The facts behind it (`sha256: declared abc..., live def...`).
    pub evidence: Vec<String>,
    /// What to do about it.
    pub hint: String,
    /// Who made the change, when an audit log says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<Attribution>,
}

/// The audit record of the latest change to an item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribution {
    /// User (or service account) name.
    pub user: String,
    /// The request's verb (`patch`, `create`, ...).
    pub verb: String,
    /// Client user agent.
    pub user_agent: String,
    /// Source address.
    pub source_ip: String,
    /// When (RFC 3339).
    pub time: String,
}

/// Compares a contract with a snapshot; findings are sorted by severity, then section and item.
///
/// ```
/// use tripline_drift::{collect::{Snapshot, User}, compare::{compare, Change, Severity}, learn::learn};
/// let mut snap = Snapshot::default();
/// let contract = learn(&snap, "h", &[]);
/// snap.users.insert("eve".into(), User { uid: 0, gid: 0, home: "/".into(), shell: "/bin/sh".into() });
/// let f = compare(&contract, &snap);
/// assert_eq!((f[0].change, f[0].severity), (Change::Added, Severity::Critical));
/// ```
pub fn compare(c: &Contract, s: &Snapshot) -> Vec<Finding> {
    let mut out = Vec::new();
    let spec = &c.spec;
    if let Some(rules) = &spec.files {
        files(rules, &spec.watch, s, &mut out);
    }
    if let Some(rules) = &spec.users {
        let live = s.users.iter().map(|(n, u)| (n.clone(), u));
        keyed(
            "users",
            live,
            rules,
            |r, k, _| r.name == *k,
            None,
            |r| r.name.clone(),
            |r| r.state,
            |r, u| {
                let mut d = Vec::new();
                if let Some(uid) = r.uid.filter(|x| *x != u.uid) {
                    d.push(format!("uid: declared {uid}, live {}", u.uid));
                }
                if let Some(sh) = r.shell.as_ref().filter(|x| **x != u.shell) {
                    d.push(format!("shell: declared {sh}, live {}", u.shell));
                }
                d
            },
            |change, _, u, evidence| match (change, u) {
                (Change::Added, Some(u)) if u.uid == 0 => Severity::Critical,
                (Change::Changed, _) if evidence.iter().any(|e| e.ends_with("live 0")) => {
                    Severity::Critical
                }
                (Change::Added, Some(u)) if login_shell(&u.shell) => Severity::High,
                (Change::Forbidden, _) => Severity::High,
                (Change::Missing, _) => Severity::Low,
                _ => Severity::Medium,
            },
            |u| {
                vec![format!(
                    "uid {} gid {} home {} shell {}",
                    u.uid, u.gid, u.home, u.shell
                )]
            },
            &mut out,
        );
    }
    if let Some(rules) = &spec.groups {
        let live = s.groups.iter().map(|(n, g)| (n.clone(), g));
        keyed(
            "groups",
            live,
            rules,
            |r, k, _| r.name == *k,
            None,
            |r| r.name.clone(),
            |r| r.state,
            |r, g| {
                let mut d = Vec::new();
                if let Some(gid) = r.gid.filter(|x| *x != g.gid) {
                    d.push(format!("gid: declared {gid}, live {}", g.gid));
                }
                if let Some(m) = r.members.as_ref().filter(|m| **m != g.members) {
                    d.push(format!(
                        "members: declared [{}], live [{}]",
                        m.join(", "),
                        g.members.join(", ")
                    ));
                }
                d
            },
            |change, key, _, _| match change {
                Change::Changed if privileged_group(key) => Severity::High,
                Change::Forbidden => Severity::High,
                Change::Changed => Severity::Medium,
                _ => Severity::Low,
            },
            |_| Vec::new(),
            &mut out,
        );
    }
    for (section, rules, live) in [
        ("packages", &spec.packages, &s.packages),
        ("pythonPackages", &spec.python_packages, &s.python_packages),
        ("npmPackages", &spec.npm_packages, &s.npm_packages),
    ] {
        if let Some(rules) = rules {
            packages(section, rules, live, &mut out);
        }
    }
    if let Some(rules) = &spec.images {
        keyed(
            "images",
            s.images.iter().map(|(i, d)| (i.clone(), d)),
            rules,
            |r, k, _| r.image == *k,
            None,
            |r| r.image.clone(),
            |r| r.state,
            |r, live: &String| match &r.digest {
                Some(want) if !live.is_empty() && want != live => {
                    vec![format!("digest: declared {want}, live {live}")]
                }
                _ => Vec::new(),
            },
            // Another image behind a declared reference, or one nobody declared, runs code
            // the pipeline never scanned.
            |change, _, _, _| match change {
                Change::Missing => Severity::Medium,
                _ => Severity::High,
            },
            |_| Vec::new(),
            &mut out,
        );
    }
    if let Some(rules) = &spec.authorized_keys {
        let live = s
            .authorized_keys
            .iter()
            .map(|k| (format!("{} {}", k.user, k.fingerprint), k));
        keyed(
            "authorizedKeys",
            live,
            rules,
            |r, _, k| r.user == k.user && r.fingerprint == k.fingerprint,
            None,
            |r| format!("{} {}", r.user, r.fingerprint),
            |r| r.state,
            |_, _| Vec::new(),
            |change, _, _, _| match change {
                Change::Added | Change::Forbidden => Severity::High,
                _ => Severity::Low,
            },
            |k| vec![format!("{} key, comment '{}'", k.key_type, k.comment)],
            &mut out,
        );
        // sshd skips a line it cannot parse; it is no key, but someone wrote it there.
        for (at, text) in &s.unparseable_keys {
            out.push(Finding {
                section: "authorizedKeys",
                change: Change::Added,
                item: at.clone(),
                severity: Severity::Low,
                evidence: vec![format!("unparseable line: {text}")],
                hint: "sshd ignores this line; find out who wrote it and remove it or fix the key"
                    .into(),
                attribution: None,
            });
        }
    }
    for (section, rules, live) in [
        ("sudoers", &spec.sudoers, &s.sudoers),
        ("cron", &spec.cron, &s.cron),
    ] {
        if let Some(rules) = rules {
            keyed(
                section,
                live.iter().map(|l| (l.clone(), l)),
                rules,
                |r, k, _| r.line == *k,
                None,
                |r| r.line.clone(),
                |r| r.state,
                |_, _| Vec::new(),
                |change, _, _, _| match change {
                    Change::Added | Change::Forbidden => Severity::High,
                    _ => Severity::Low,
                },
                |_| Vec::new(),
                &mut out,
            );
        }
    }
    if let Some(rules) = &spec.listeners {
        let live = s.listeners.iter().map(|l| {
            let shown = if l.process.is_empty() {
                format!("{} {}:{}", l.protocol, l.address, l.port)
            } else {
                format!("{} {}:{} ({})", l.protocol, l.address, l.port, l.process)
            };
            (shown, l)
        });
        keyed(
            "listeners",
            live,
            rules,
            |r, _, l| {
                r.protocol == l.protocol
                    && r.port == l.port
                    && r.address.as_ref().is_none_or(|a| *a == l.address)
                    && r.process.as_ref().is_none_or(|p| *p == l.process)
            },
            None,
            |r| {
                format!(
                    "{} {}:{}",
                    r.protocol,
                    r.address.as_deref().unwrap_or("*"),
                    r.port
                )
            },
            |r| r.state,
            |_, _| Vec::new(),
            |change, _, l, _| match (change, l) {
                (Change::Added | Change::Forbidden, Some(l))
                    if l.address == "0.0.0.0" || l.address == "::" =>
                {
                    Severity::High
                }
                (Change::Forbidden, _) => Severity::High,
                (Change::Added, Some(l)) if l.address.starts_with("127.") || l.address == "::1" => {
                    Severity::Low
                }
                _ => Severity::Medium,
            },
            |_| Vec::new(),
            &mut out,
        );
    }
    if let Some(rules) = &spec.sysctls {
        for r in rules {
            match s.sysctls.get(&r.name) {
                Some(v) if *v == r.value => {}
                Some(v) => out.push(Finding {
                    section: "sysctls",
                    change: Change::Changed,
                    item: r.name.clone(),
                    severity: sysctl_severity(&r.name, v),
                    evidence: vec![format!("value: declared {}, live {v}", r.value)],
                    hint: format!(
                        "sysctl -w {}={} and persist it in /etc/sysctl.d",
                        r.name, r.value
                    ),
                    attribution: None,
                }),
                None => out.push(Finding {
                    section: "sysctls",
                    change: Change::Missing,
                    item: r.name.clone(),
                    severity: Severity::Low,
                    evidence: vec![format!("declared {}, not readable here", r.value)],
                    hint: "check the kernel exposes this parameter".into(),
                    attribution: None,
                }),
            }
        }
    }
    for (section, rules, live) in [
        ("modules", &spec.modules, &s.modules),
        ("units", &spec.units, &s.units),
    ] {
        if let Some(rules) = rules {
            keyed(
                section,
                live.iter().map(|l| (l.clone(), l)),
                rules,
                |r, k, _| r.name == *k,
                None,
                |r| r.name.clone(),
                |r| r.state,
                |_, _| Vec::new(),
                |change, _, _, _| match change {
                    Change::Forbidden => Severity::High,
                    Change::Added => Severity::Medium,
                    _ => Severity::Low,
                },
                |_| Vec::new(),
                &mut out,
            );
        }
    }
    if s.watched {
        if let Some(rules) = &spec.executables {
            executables(rules, s, &mut out);
        }
        if let Some(rules) = &spec.egress {
            egress(rules, s, &mut out);
        }
    }
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.section.cmp(b.section))
            .then(a.item.cmp(&b.item))
    });
    out
}

/// Finds the rules that cover a live item's key (for sections too large to scan).
type RuleIndex<'a> = dyn Fn(&str) -> Vec<usize> + 'a;

/// Programs run while watching that no entry allows. A program in a world-writable or
/// in-memory place (`/tmp`, `/dev/shm`, `/var/tmp`, a memfd) is high.
fn executables(rules: &[crate::contract::PathRule], s: &Snapshot, out: &mut Vec<Finding>) {
    let mut set = globset::GlobSetBuilder::new();
    for r in rules {
        if let Ok(g) = globset::GlobBuilder::new(&r.path)
            .literal_separator(true)
            .build()
        {
            set.add(g);
        }
    }
    let set = set.build().unwrap_or_else(|_| globset::GlobSet::empty());
    for exe in &s.executables {
        let hits = set.matches(exe);
        let forbidden = hits.iter().any(|&i| rules[i].state == State::Forbidden);
        if !hits.is_empty() && !forbidden {
            continue;
        }
        let risky = ["/tmp/", "/dev/shm/", "/var/tmp/", "/run/user/"]
            .iter()
            .any(|d| exe.starts_with(d))
            || exe.contains("memfd:");
        let change = if forbidden {
            Change::Forbidden
        } else {
            Change::Added
        };
        out.push(Finding {
            section: "executables",
            change,
            item: exe.clone(),
            severity: if risky || forbidden {
                Severity::High
            } else {
                Severity::Medium
            },
            evidence: vec!["executed while watching".into()],
            hint: hint("executables", change),
            attribution: None,
        });
    }
}

/// Outbound connections attempted while watching that no entry allows.
fn egress(rules: &[crate::contract::EgressRule], s: &Snapshot, out: &mut Vec<Finding>) {
    let covers = |r: &crate::contract::EgressRule, addr: &str, port: u16| {
        let ip: Option<std::net::IpAddr> = addr.parse().ok();
        let net_match = match r.destination.split_once('/') {
            Some((net, bits)) => match (net.parse::<std::net::IpAddr>(), bits.parse::<u8>(), ip) {
                (Ok(std::net::IpAddr::V4(n)), Ok(b), Some(std::net::IpAddr::V4(a))) if b <= 32 => {
                    let mask = if b == 0 { 0 } else { u32::MAX << (32 - b) };
                    u32::from(n) & mask == u32::from(a) & mask
                }
                (Ok(std::net::IpAddr::V6(n)), Ok(b), Some(std::net::IpAddr::V6(a))) if b <= 128 => {
                    let mask = if b == 0 { 0 } else { u128::MAX << (128 - b) };
                    u128::from(n) & mask == u128::from(a) & mask
                }
                _ => false,
            },
            None => r.destination == addr,
        };
        net_match && r.port.is_none_or(|p| p == port)
    };
    for (addr, port) in &s.egress {
        let hits: Vec<&crate::contract::EgressRule> =
            rules.iter().filter(|r| covers(r, addr, *port)).collect();
        let forbidden = hits.iter().any(|r| r.state == State::Forbidden);
        if !hits.is_empty() && !forbidden {
            continue;
        }
        let change = if forbidden {
            Change::Forbidden
        } else {
            Change::Added
        };
        out.push(Finding {
            section: "egress",
            change,
            item: format!("{addr}:{port}"),
            severity: if forbidden {
                Severity::High
            } else {
                Severity::Medium
            },
            evidence: vec!["connection attempted while watching".into()],
            hint: hint("egress", change),
            attribution: None,
        });
    }
}

/// The shared logic of keyed sections: forbidden and undeclared live items, changed facts of
/// declared ones, and required entries with no live item.
#[allow(clippy::too_many_arguments)]
fn keyed<'a, L: 'a, R>(
    section: &'static str,
    live: impl Iterator<Item = (String, &'a L)>,
    rules: &[R],
    matches: impl Fn(&R, &String, &L) -> bool,
    index: Option<&RuleIndex>,
    shown: impl Fn(&R) -> String,
    state: impl Fn(&R) -> State,
    diff: impl Fn(&R, &L) -> Vec<String>,
    severity: impl Fn(Change, &str, Option<&L>, &[String]) -> Severity,
    facts: impl Fn(&L) -> Vec<String>,
    out: &mut Vec<Finding>,
) {
    let mut seen = vec![false; rules.len()];
    for (key, item) in live {
        let hits: Vec<usize> = match index {
            Some(find) => find(&key),
            None => (0..rules.len())
                .filter(|&i| matches(&rules[i], &key, item))
                .collect(),
        };
        for &i in &hits {
            seen[i] = true;
        }
        let (change, evidence) = if hits.iter().any(|&i| state(&rules[i]) == State::Forbidden) {
            let mut e = vec!["declared forbidden".to_string()];
            e.extend(facts(item));
            (Change::Forbidden, e)
        } else if hits.is_empty() {
            let mut e = vec!["not in the contract".to_string()];
            e.extend(facts(item));
            (Change::Added, e)
        } else {
            let d = diff(&rules[hits[0]], item);
            if d.is_empty() {
                continue;
            }
            (Change::Changed, d)
        };
        out.push(Finding {
            section,
            change,
            severity: severity(change, &key, Some(item), &evidence),
            hint: hint(section, change),
            item: key,
            evidence,
            attribution: None,
        });
    }
    for (i, r) in rules.iter().enumerate() {
        if !seen[i] && state(r) == State::Required {
            let evidence = vec!["declared required, not present".to_string()];
            out.push(Finding {
                section,
                change: Change::Missing,
                item: shown(r),
                severity: severity(Change::Missing, &shown(r), None, &evidence),
                evidence,
                hint: hint(section, Change::Missing),
                attribution: None,
            });
        }
    }
}

fn files(
    rules: &[crate::contract::FileRule],
    watch_globs: &[String],
    s: &Snapshot,
    out: &mut Vec<Finding>,
) {
    // Exact paths by hash, globs by one glob set: large trees stay linear.
    let mut exact: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    let mut set = globset::GlobSetBuilder::new();
    let mut set_rules = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        match r.glob() {
            Some(Ok(g)) => {
                set.add(g);
                set_rules.push(i);
            }
            Some(Err(_)) => {} // rejected when the contract was loaded
            None => exact.entry(r.path.as_str()).or_default().push(i),
        }
    }
    let set = set.build().unwrap_or_else(|_| globset::GlobSet::empty());
    let find = |path: &str| -> Vec<usize> {
        let mut hits = exact.get(path).cloned().unwrap_or_default();
        hits.extend(set.matches(path).into_iter().map(|k| set_rules[k]));
        hits.sort_unstable();
        hits.dedup();
        hits
    };
    // Only files under the contract's watch globs can be undeclared; files outside them are
    // judged only by the entries that name them (forbidden ones, say).
    let mut watch = globset::GlobSetBuilder::new();
    for w in watch_globs {
        if let Ok(g) = globset::GlobBuilder::new(w).literal_separator(true).build() {
            watch.add(g);
        }
    }
    let watch = watch.build().unwrap_or_else(|_| globset::GlobSet::empty());
    let live = s
        .files
        .iter()
        .filter(|(p, _)| watch.is_match(p.as_str()) || !find(p).is_empty())
        .map(|(p, f)| (p.clone(), f));
    keyed(
        "files",
        live,
        rules,
        |r, path, _| r.path == *path, // unused: `find` answers
        Some(&find),
        |r| r.path.clone(),
        |r| r.state,
        |r, f| {
            let mut d = Vec::new();
            let mut check = |name: &str, want: &Option<String>, live: Option<&String>| {
                if let Some(want) = want {
                    let live = live.map_or("(none)", String::as_str);
                    if want != live {
                        d.push(format!("{name}: declared {want}, live {live}"));
                    }
                }
            };
            check("kind", &r.kind, Some(&f.kind));
            check("sha256", &r.sha256, f.sha256.as_ref());
            check("mode", &r.mode, Some(&f.mode));
            check("owner", &r.owner, Some(&f.owner));
            check("group", &r.group, Some(&f.group));
            check("target", &r.target, f.target.as_ref());
            d
        },
        file_severity,
        |f| {
            let mut e = vec![format!(
                "{} mode {} owner {}:{} size {}",
                f.kind, f.mode, f.owner, f.group, f.size
            )];
            if f.is_setid() {
                e.push("setuid/setgid".into());
            }
            if let Some(h) = &f.sha256 {
                e.push(format!("sha256 {h}"));
            }
            e
        },
        out,
    );
}

fn file_severity(
    change: Change,
    path: &str,
    f: Option<&FileFacts>,
    evidence: &[String],
) -> Severity {
    let sensitive = is_sensitive_config(path);
    let code = is_code(path, f);
    let model = is_model_weights(path);
    match change {
        Change::Forbidden => Severity::High,
        Change::Added => {
            if f.is_some_and(FileFacts::is_setid) || sensitive || code || model {
                Severity::High
            } else {
                Severity::Medium
            }
        }
        Change::Changed => {
            let mode_risk = f.is_some_and(|f| {
                u32::from_str_radix(&f.mode, 8).is_ok_and(|m| m & 0o6000 != 0 || m & 0o002 != 0)
            }) && evidence.iter().any(|e| e.starts_with("mode:"));
            let content = evidence
                .iter()
                .any(|e| e.starts_with("sha256:") || e.starts_with("target:"));
            if mode_risk || (content && (sensitive || code || model)) {
                Severity::High
            } else if path.contains("logrotate") {
                Severity::Low
            } else {
                Severity::Medium
            }
        }
        Change::Missing => {
            if sensitive || code {
                Severity::Medium
            } else {
                Severity::Low
            }
        }
    }
}

/// Files that decide who gets in and with what rights.
fn is_sensitive_config(path: &str) -> bool {
    const EXACT: &[&str] = &[
        "/etc/passwd",
        "/etc/shadow",
        "/etc/group",
        "/etc/gshadow",
        "/etc/sudoers",
        "/etc/ssh/sshd_config",
        "/etc/crontab",
        "/etc/ld.so.preload",
        "/etc/hosts",
    ];
    const UNDER: &[&str] = &[
        "/etc/sudoers.d/",
        "/etc/pam.d/",
        "/etc/ssh/sshd_config.d/",
        "/etc/cron.d/",
        "/etc/systemd/system/",
        "/etc/security/",
        "/var/spool/cron/",
    ];
    EXACT.contains(&path)
        || UNDER.iter().any(|u| path.starts_with(u))
        || path.ends_with("/.ssh/authorized_keys")
}

/// Executables and libraries.
fn is_code(path: &str, f: Option<&FileFacts>) -> bool {
    let dir_code = ["/bin/", "/sbin/", "/lib/", "/lib64/", "/libexec/"]
        .iter()
        .any(|d| path.contains(d));
    let executable = f.is_some_and(|f| {
        f.kind == "file" && u32::from_str_radix(&f.mode, 8).is_ok_and(|m| m & 0o111 != 0)
    });
    dir_code || path.ends_with(".so") || path.contains(".so.") || executable
}

/// Model weights: what an AI workload runs.
fn is_model_weights(path: &str) -> bool {
    [
        ".safetensors",
        ".gguf",
        ".ggml",
        ".pt",
        ".pth",
        ".onnx",
        ".ckpt",
        ".h5",
        ".tflite",
    ]
    .iter()
    .any(|e| path.ends_with(e))
}

fn login_shell(shell: &str) -> bool {
    !(shell.ends_with("/nologin") || shell.ends_with("/false") || shell.is_empty())
}

fn privileged_group(name: &str) -> bool {
    matches!(
        name,
        "root" | "sudo" | "wheel" | "admin" | "adm" | "docker" | "lxd" | "disk" | "shadow" | "kvm"
    )
}

fn sysctl_severity(name: &str, live: &str) -> Severity {
    let weaker = match name {
        "net.ipv4.ip_forward" | "net.ipv6.conf.all.forwarding" => live == "1",
        "kernel.randomize_va_space" => live != "2",
        "kernel.yama.ptrace_scope" | "kernel.kptr_restrict" | "kernel.dmesg_restrict" => {
            live == "0"
        }
        "kernel.unprivileged_bpf_disabled" => live == "0",
        "fs.protected_hardlinks" | "fs.protected_symlinks" => live == "0",
        "fs.suid_dumpable" => live != "0",
        "kernel.core_pattern" => live.starts_with('|'),
        _ => false,
    };
    if weaker {
        Severity::High
    } else {
        Severity::Medium
    }
}

/// Installed packages against their rules: a forbidden one is high, a new or missing one
/// medium, another version low.
fn packages(
    section: &'static str,
    rules: &[PackageRule],
    live: &std::collections::BTreeMap<String, String>,
    out: &mut Vec<Finding>,
) {
    keyed(
        section,
        live.iter().map(|(n, v)| (n.clone(), v)),
        rules,
        |r, k, _| r.name == *k,
        None,
        |r| r.name.clone(),
        |r| r.state,
        |r, v| match &r.version {
            Some(want) if want != v => vec![format!("version: declared {want}, live {v}")],
            _ => Vec::new(),
        },
        |change, _, _, _| match change {
            Change::Forbidden => Severity::High,
            Change::Changed => Severity::Low,
            _ => Severity::Medium,
        },
        |_| Vec::new(),
        out,
    );
}

fn hint(section: &str, change: Change) -> String {
    let what = match section {
        "files" => "file",
        "users" => "account",
        "groups" => "group",
        "packages" => "package",
        "pythonPackages" => "Python package",
        "npmPackages" => "npm package",
        "images" => "container image",
        "authorizedKeys" => "SSH key",
        "sudoers" => "sudoers rule",
        "cron" => "cron entry",
        "listeners" => "listener",
        "modules" => "kernel module",
        "units" => "systemd unit",
        "executables" => "program",
        "egress" => "destination",
        _ => "item",
    };
    match change {
        Change::Added => format!(
            "find who added this {what}; remove it, or declare it in the contract's {section} after review"
        ),
        Change::Forbidden => format!("remove this {what}: the contract forbids it"),
        Change::Changed => format!(
            "restore the declared {what} from the build (or redeploy), or re-learn the contract if the change is intended"
        ),
        Change::Missing => format!("restore the {what}, or drop it from the contract's {section}"),
    }
}
