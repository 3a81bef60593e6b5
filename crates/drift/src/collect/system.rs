//! Kernel parameters, kernel modules, enabled systemd units and cron entries.

use std::path::Path;

use super::{Options, Snapshot};

/// Kernel parameters whose values matter for security (all of /proc/sys would churn).
pub const WATCHED_SYSCTLS: &[&str] = &[
    "net.ipv4.ip_forward",
    "net.ipv6.conf.all.forwarding",
    "net.ipv4.conf.all.accept_redirects",
    "net.ipv4.conf.all.send_redirects",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.tcp_syncookies",
    "kernel.randomize_va_space",
    "kernel.kptr_restrict",
    "kernel.dmesg_restrict",
    "kernel.yama.ptrace_scope",
    "kernel.unprivileged_bpf_disabled",
    "kernel.kexec_load_disabled",
    "kernel.modules_disabled",
    "kernel.core_pattern",
    "fs.protected_hardlinks",
    "fs.protected_symlinks",
    "fs.suid_dumpable",
    "user.max_user_namespaces",
];

pub(super) fn collect(opts: &Options, snap: &mut Snapshot) {
    sysctls(opts, snap);
    modules(opts, snap);
    units(opts, snap);
    cron(opts, snap);
}

fn sysctls(opts: &Options, snap: &mut Snapshot) {
    if opts.is_live() {
        for name in WATCHED_SYSCTLS {
            let path = format!("/proc/sys/{}", name.replace('.', "/"));
            if let Ok(v) = std::fs::read_to_string(&path) {
                snap.sysctls.insert(name.to_string(), v.trim().to_string());
            }
        }
        return;
    }
    // An image: what it would set at boot.
    let mut files = vec![opts.path("/etc/sysctl.conf")];
    for dir in ["/etc/sysctl.d", "/usr/lib/sysctl.d"] {
        if let Ok(d) = std::fs::read_dir(opts.path(dir)) {
            let mut more: Vec<_> = d.filter_map(|e| e.ok().map(|e| e.path())).collect();
            more.sort();
            files.extend(more);
        }
    }
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                let k = k.trim().trim_start_matches('-').replace('/', ".");
                snap.sysctls.insert(k, v.trim().to_string());
            }
        }
    }
}

fn modules(opts: &Options, snap: &mut Snapshot) {
    if opts.is_live() {
        match std::fs::read_to_string("/proc/modules") {
            Ok(text) => {
                for line in text.lines() {
                    if let Some(name) = line.split_whitespace().next() {
                        snap.modules.insert(name.to_string());
                    }
                }
            }
            Err(e) => snap.errors.push(format!("/proc/modules: {e}")),
        }
        return;
    }
    let mut files = vec![opts.path("/etc/modules")];
    if let Ok(d) = std::fs::read_dir(opts.path("/etc/modules-load.d")) {
        files.extend(d.filter_map(|e| e.ok().map(|e| e.path())));
    }
    for f in files {
        if let Ok(text) = std::fs::read_to_string(&f) {
            for line in text.lines().map(str::trim) {
                if !line.is_empty() && !line.starts_with('#') && !line.starts_with(';') {
                    snap.modules.insert(line.to_string());
                }
            }
        }
    }
}

/// Units enabled by a symlink in a `*.wants` or `*.requires` directory.
fn units(opts: &Options, snap: &mut Snapshot) {
    for base in [
        "/etc/systemd/system",
        "/lib/systemd/system",
        "/usr/lib/systemd/system",
    ] {
        let Ok(dir) = std::fs::read_dir(opts.path(base)) else {
            continue;
        };
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !(name.ends_with(".wants") || name.ends_with(".requires")) {
                continue;
            }
            if let Ok(wants) = std::fs::read_dir(e.path()) {
                for u in wants.flatten() {
                    snap.units
                        .insert(u.file_name().to_string_lossy().into_owned());
                }
            }
        }
    }
}

fn cron(opts: &Options, snap: &mut Snapshot) {
    let mut files = vec![("/etc/crontab".to_string(), opts.path("/etc/crontab"))];
    for dir in ["/etc/cron.d", "/var/spool/cron/crontabs", "/var/spool/cron"] {
        if let Ok(d) = std::fs::read_dir(opts.path(dir)) {
            let mut more: Vec<_> = d
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (format!("{dir}/{name}"), e.path())
                })
                .collect();
            more.sort();
            files.extend(more);
        }
    }
    for (shown, path) in files {
        let Ok(text) = std::fs::read_to_string(Path::new(&path)) else {
            continue;
        };
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // Variable assignments (SHELL=, PATH=) are not jobs.
            let first = line.split_whitespace().next().unwrap_or_default();
            if first.contains('=') {
                continue;
            }
            let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
            snap.cron.insert(format!("{shown}: {line}"));
        }
    }
}
