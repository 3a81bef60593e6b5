//! GitHub webhook deliveries at `/github`: the `X-Hub-Signature-256` HMAC is checked, and push
//! and `workflow_run` events are enriched from the GitHub REST API as the upstream plugin
//! does: the pushed commits' diffs are scanned for secrets (`github.diff.*`), a requested
//! workflow's file for crypto miners (`github.workflow.*`). The result is kept in the event
//! under [`ENRICHMENT_KEY`], where the `github` source's fields read it.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use regex::Regex;
use serde_json::{json, Value};
use sha2::Sha256;

pub use tripline_sources::github::ENRICHMENT_KEY;

/// How the webhook checks deliveries and reaches the GitHub API.
#[derive(Clone)]
pub struct GithubConfig {
    /// The webhook's secret (Settings, Webhooks, Secret).
    pub secret: Vec<u8>,
    /// REST API base, `https://api.github.com` or an Enterprise server's `/api/v3`.
    pub api_url: String,
    /// Token for private repositories and a higher rate limit.
    pub token: Option<String>,
    /// Longest wait for a rate limit to reset before giving up on enrichment.
    pub max_wait: Duration,
}

impl std::fmt::Debug for GithubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret or the token.
        f.debug_struct("GithubConfig")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// Whether `signature` (`sha256=HEX`, the `X-Hub-Signature-256` header) is the HMAC-SHA256 of
/// `body` under `secret`. Compared in constant time.
///
/// ```
/// use tripline_live::github::signed;
/// let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
/// assert!(signed(b"It's a Secret to Everybody", b"Hello, World!", sig));
/// assert!(!signed(b"another secret", b"Hello, World!", sig));
/// ```
pub fn signed(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Some(tag) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

/// The `X-Hub-Signature-256` value GitHub sends for `body` under `secret`.
///
/// ```
/// let sig = tripline_live::github::signature(b"It's a Secret to Everybody", b"Hello, World!");
/// assert!(tripline_live::github::signed(b"It's a Secret to Everybody", b"Hello, World!", &sig));
/// ```
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any size");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Kinds of secret recognised in added lines.
fn secret_patterns() -> &'static [(&'static str, Regex)] {
    static P: std::sync::OnceLock<Vec<(&'static str, Regex)>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        [
            (
                "AWS Access Key ID",
                r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b",
            ),
            (
                "AWS Secret Access Key",
                r#"(?i)aws.{0,20}(?:secret|sk).{0,20}['"=:\s]+[A-Za-z0-9/+]{40}\b"#,
            ),
            (
                "GitHub Token",
                r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})",
            ),
            (
                "Private Key",
                r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY",
            ),
            ("Slack Token", r"\bxox[abprs]-[0-9A-Za-z-]{10,}"),
            ("Google API Key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
            ("Stripe Secret Key", r"\b[rs]k_live_[0-9A-Za-z]{24,}"),
            ("Hugging Face Token", r"\bhf_[A-Za-z]{34}\b"),
        ]
        .into_iter()
        .map(|(name, re)| (name, Regex::new(re).expect("secret pattern")))
        .collect()
    })
}

/// Crypto miners named in a workflow file, by the name reported.
fn miner_patterns() -> &'static [(&'static str, Regex)] {
    static P: std::sync::OnceLock<Vec<(&'static str, Regex)>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        [
            ("xmrig", r"(?i)\bxmrig\b"),
            ("xmr-stak", r"(?i)\bxmr-stak"),
            ("ethminer", r"(?i)\bethminer\b"),
            ("cpuminer", r"(?i)\bcpuminer"),
            ("minerd", r"(?i)\bminerd\b"),
            ("cgminer", r"(?i)\bcgminer\b"),
            ("bfgminer", r"(?i)\bbfgminer\b"),
            ("nbminer", r"(?i)\bnbminer\b"),
            ("t-rex", r"(?i)\bt-rex\b"),
            ("lolminer", r"(?i)\blolminer\b"),
            ("phoenixminer", r"(?i)\bphoenixminer\b"),
            ("nanominer", r"(?i)\bnanominer\b"),
            ("teamredminer", r"(?i)\bteamredminer\b"),
            ("gminer", r"(?i)\bgminer\b"),
            ("stratum", r"(?i)stratum\+(?:tcp|ssl|tls)://"),
        ]
        .into_iter()
        .map(|(name, re)| (name, Regex::new(re).expect("miner pattern")))
        .collect()
    })
}

/// One secret in a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHit {
    /// Kind of secret.
    pub kind: &'static str,
    /// File.
    pub file: String,
    /// Line in the new file.
    pub line: u64,
}

/// Secrets on the added lines of a unified diff `patch` of `file` (GitHub's `files[].patch`).
///
/// ```
/// let patch = "@@ -1,2 +1,3 @@\n line one\n+aws_key = AKIAIOSFODNN7EXAMPLE\n line two";
/// let hits = tripline_live::github::secrets_in_patch("config.py", patch);
/// assert_eq!(hits.len(), 1);
/// assert_eq!((hits[0].kind, hits[0].line), ("AWS Access Key ID", 2));
/// ```
pub fn secrets_in_patch(file: &str, patch: &str) -> Vec<SecretHit> {
    let mut hits = Vec::new();
    let mut new_line = 0u64;
    for l in patch.lines() {
        if let Some(rest) = l.strip_prefix("@@") {
            // "@@ -a,b +c,d @@": the next line is line c of the new file.
            new_line = rest
                .split_whitespace()
                .find_map(|p| p.strip_prefix('+'))
                .and_then(|p| p.split(',').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            continue;
        }
        if l.starts_with('-') {
            continue;
        }
        if let Some(added) = l.strip_prefix('+') {
            for (kind, re) in secret_patterns() {
                if re.is_match(added) {
                    hits.push(SecretHit {
                        kind,
                        file: file.to_string(),
                        line: new_line,
                    });
                }
            }
        }
        new_line += 1;
    }
    hits
}

/// The first crypto miner a workflow file names.
///
/// ```
/// let wf = "jobs:\n  build:\n    steps:\n      - run: ./xmrig -o stratum+tcp://pool:3333";
/// assert_eq!(tripline_live::github::miner_in_workflow(wf), Some("xmrig"));
/// assert_eq!(tripline_live::github::miner_in_workflow("run: cargo test"), None);
/// ```
pub fn miner_in_workflow(text: &str) -> Option<&'static str> {
    miner_patterns()
        .iter()
        .find(|(_, re)| re.is_match(text))
        .map(|(name, _)| *name)
}

/// GET one API resource, honouring rate limits: with `X-RateLimit-Remaining: 0` or a 403/429,
/// wait for `Retry-After` or `X-RateLimit-Reset` (up to `max_wait`) and try again, three
/// times at most.
fn api_get(
    cfg: &GithubConfig,
    agent: &ureq::Agent,
    path: &str,
    accept: &str,
) -> Result<String, String> {
    let url = format!("{}{path}", cfg.api_url.trim_end_matches('/'));
    for attempt in 0..3 {
        let mut req = agent
            .get(&url)
            .header("Accept", accept)
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("User-Agent", "tripline");
        if let Some(t) = &cfg.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let mut resp = req.call().map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let limited = status == 429
            || (status == 403 && header("x-ratelimit-remaining").as_deref() == Some("0"))
            || (status == 403 && header("retry-after").is_some());
        if limited && attempt < 2 {
            let wait = header("retry-after")
                .and_then(|s| s.parse::<u64>().ok())
                .or_else(|| {
                    let reset = header("x-ratelimit-reset")?.parse::<u64>().ok()?;
                    Some(reset.saturating_sub(crate::now_ns() / 1_000_000_000))
                })
                .map_or(Duration::from_secs(1 << attempt), Duration::from_secs);
            if wait > cfg.max_wait {
                return Err(format!("GET {url}: rate limited for {}s", wait.as_secs()));
            }
            std::thread::sleep(wait);
            continue;
        }
        if status != 200 {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        return resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("GET {url}: {e}"));
    }
    Err(format!("GET {url}: rate limited"))
}

/// Adds what the API says to a delivery of event `kind`: the secrets in a push's diffs, the
/// miner in a requested workflow. Errors are returned for counting; the event is evaluated
/// with what could be learned.
pub fn enrich(cfg: &GithubConfig, kind: &str, payload: &mut Value) -> Result<(), String> {
    let Some(repo) = payload
        .pointer("/repository/full_name")
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    let repo = repo.to_string();
    let html = payload
        .pointer("/repository/html_url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    match kind {
        "push" => {
            let shas: Vec<String> = payload
                .get("commits")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("id").and_then(Value::as_str).map(str::to_string))
                .collect();
            let mut hits = Vec::new();
            let mut links = Vec::new();
            for sha in &shas {
                let body = api_get(
                    cfg,
                    &agent,
                    &format!("/repos/{repo}/commits/{sha}"),
                    "application/vnd.github+json",
                )?;
                let commit: Value =
                    serde_json::from_str(&body).map_err(|e| format!("commit {sha}: {e}"))?;
                for f in commit
                    .get("files")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let (Some(name), Some(patch)) = (
                        f.get("filename").and_then(Value::as_str),
                        f.get("patch").and_then(Value::as_str),
                    ) else {
                        continue;
                    };
                    for h in secrets_in_patch(name, patch) {
                        links.push(format!("{html}/blob/{sha}/{}#L{}", h.file, h.line));
                        hits.push(h);
                    }
                }
            }
            let join = |v: Vec<String>| v.join(",");
            payload[ENRICHMENT_KEY]["diff"] = json!({
                "has_secrets": !hits.is_empty(),
                "desc": join(hits.iter().map(|h| h.kind.to_string()).collect()),
                "files": join(hits.iter().map(|h| h.file.clone()).collect()),
                "lines": join(hits.iter().map(|h| h.line.to_string()).collect()),
                "links": join(links),
            });
        }
        "workflow_run" => {
            let path = payload
                .pointer("/workflow_run/path")
                .and_then(Value::as_str);
            let sha = payload
                .pointer("/workflow_run/head_sha")
                .and_then(Value::as_str);
            let (Some(path), Some(sha)) = (path, sha) else {
                return Ok(());
            };
            let (path, sha) = (path.to_string(), sha.to_string());
            let text = api_get(
                cfg,
                &agent,
                &format!("/repos/{repo}/contents/{path}?ref={sha}"),
                "application/vnd.github.raw+json",
            )?;
            let miner = miner_in_workflow(&text);
            payload[ENRICHMENT_KEY]["workflow"] = json!({
                "has_miners": miner.is_some(),
                "miner_type": miner.unwrap_or_default(),
                "filename": path,
            });
        }
        _ => {}
    }
    Ok(())
}
