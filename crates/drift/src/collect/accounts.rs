//! Users, groups, sudoers rules and SSH authorized keys.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{AuthorizedKey, Group, Options, Snapshot, User};

pub(super) fn collect(opts: &Options, snap: &mut Snapshot) {
    match std::fs::read_to_string(opts.path("/etc/passwd")) {
        Ok(text) => {
            for line in text.lines() {
                let f: Vec<&str> = line.split(':').collect();
                if let [name, _, uid, gid, _, home, shell, ..] = f[..] {
                    if let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse()) {
                        snap.users.insert(
                            name.to_string(),
                            User {
                                uid,
                                gid,
                                home: home.to_string(),
                                shell: shell.to_string(),
                            },
                        );
                    }
                }
            }
        }
        Err(e) => snap.errors.push(format!("/etc/passwd: {e}")),
    }
    if let Ok(text) = std::fs::read_to_string(opts.path("/etc/group")) {
        for line in text.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if let [name, _, gid, members, ..] = f[..] {
                if let Ok(gid) = gid.parse() {
                    let mut members: Vec<String> = members
                        .split(',')
                        .filter(|m| !m.is_empty())
                        .map(str::to_string)
                        .collect();
                    members.sort();
                    snap.groups.insert(name.to_string(), Group { gid, members });
                }
            }
        }
    }
    sudoers(opts, snap);
    authorized_keys(opts, snap);
    sshd(opts, snap);
}

/// sshd_config keywords; `sshd_config.d/*.conf` come first when included (Debian's default).
fn sshd(opts: &Options, snap: &mut Snapshot) {
    let main = opts.path("/etc/ssh/sshd_config");
    let Ok(text) = std::fs::read_to_string(&main) else {
        return;
    };
    let mut files = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(pattern) = line
            .strip_prefix("Include ")
            .or(line.strip_prefix("include "))
        {
            let dir = pattern.trim().trim_end_matches("/*.conf");
            if let Ok(d) = std::fs::read_dir(opts.path(dir)) {
                let mut more: Vec<_> = d
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "conf"))
                    .collect();
                more.sort();
                for f in more {
                    files.push(std::fs::read_to_string(f).unwrap_or_default());
                }
            }
        }
        files.push(line.to_string());
    }
    for text in files {
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // `Match` blocks apply to some connections only; stop at the first.
            if line.to_ascii_lowercase().starts_with("match ") {
                return;
            }
            if let Some((k, v)) = line.split_once(|c: char| c.is_whitespace() || c == '=') {
                snap.sshd
                    .entry(k.to_ascii_lowercase())
                    .or_insert_with(|| v.trim().trim_start_matches('=').trim().to_string());
            }
        }
    }
}

/// Effective lines of the sudoers files (comments, blank lines and `Defaults` dropped;
/// `#include` lines kept: they change what is allowed).
fn sudoers(opts: &Options, snap: &mut Snapshot) {
    let mut files = vec![opts.path("/etc/sudoers")];
    if let Ok(dir) = std::fs::read_dir(opts.path("/etc/sudoers.d")) {
        let mut more: Vec<_> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let mut joined = String::new();
        for line in text.lines() {
            let line = line.trim();
            // Continuation lines end in a backslash.
            if let Some(head) = line.strip_suffix('\\') {
                joined.push_str(head);
                joined.push(' ');
                continue;
            }
            joined.push_str(line);
            let rule = std::mem::take(&mut joined);
            let rule = rule.split_whitespace().collect::<Vec<_>>().join(" ");
            let include = rule.starts_with("#include") || rule.starts_with("@include");
            if rule.is_empty()
                || (rule.starts_with('#') && !include)
                || rule.starts_with("Defaults")
            {
                continue;
            }
            snap.sudoers.insert(rule);
        }
    }
}

/// The keys of every account's `~/.ssh/authorized_keys` (and `authorized_keys2`).
fn authorized_keys(opts: &Options, snap: &mut Snapshot) {
    let homes: Vec<(String, String)> = snap
        .users
        .iter()
        .map(|(n, u)| (n.clone(), u.home.clone()))
        .collect();
    for (user, home) in homes {
        if home.is_empty() || home == "/nonexistent" {
            continue;
        }
        for name in ["authorized_keys", "authorized_keys2"] {
            let path = opts.path(&format!("{}/.ssh/{name}", home.trim_end_matches('/')));
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let shown = format!("{}/.ssh/{name}", home.trim_end_matches('/'));
            for (n, line) in text.lines().enumerate() {
                if let Some(k) = parse_key(&user, line) {
                    snap.authorized_keys.insert(k);
                } else if !line.trim().is_empty() && !line.trim_start().starts_with('#') {
                    snap.unparseable_keys.insert(
                        format!("{user} {shown}:{}", n + 1),
                        line.trim().chars().take(80).collect(),
                    );
                }
            }
        }
    }
}

/// One `authorized_keys` line: `[options] type base64 [comment]`.
pub(crate) fn parse_key(user: &str, line: &str) -> Option<AuthorizedKey> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    // The key type is the first word that looks like one; options come before it.
    let at = words
        .iter()
        .position(|w| w.starts_with("ssh-") || w.starts_with("ecdsa-") || w.starts_with("sk-"))?;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(words.get(at + 1)?)
        .ok()?;
    let digest = Sha256::digest(&blob);
    let fingerprint = format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    );
    Some(AuthorizedKey {
        user: user.to_string(),
        fingerprint,
        key_type: words[at].to_string(),
        comment: words[at + 2..].join(" "),
    })
}
