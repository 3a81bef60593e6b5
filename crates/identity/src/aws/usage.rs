//! What AWS identities actually did, from CloudTrail: per principal, the IAM actions called
//! (successfully or denied), when, and with which access keys.
//!
//! A CloudTrail `eventSource`/`eventName` pair is mapped to the IAM action that authorizes it
//! (`lambda` API versions are dropped, S3's renamed operations are mapped); a call the catalog
//! does not know is kept as `service:EventName`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;
use tripline_sources::input::{InputError, Limits, Reader, Skip};
use tripline_sources::SourceKind;

use super::catalog::Catalog;

/// Calls of one action by one principal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActionUse {
    /// Successful calls.
    pub calls: u64,
    /// Calls refused with an access-denied error.
    pub denied: u64,
    /// Last successful call, ns since the epoch (0: none).
    pub last_ns: u64,
}

/// What one principal did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PrincipalUse {
    /// CloudTrail `userIdentity.type` (`IAMUser`, `AssumedRole`, `Root`, ...).
    pub kind: String,
    /// Actions by IAM action name.
    pub actions: BTreeMap<String, ActionUse>,
    /// First and last event, ns since the epoch.
    pub first_ns: u64,
    /// Last event.
    pub last_ns: u64,
}

/// One access key's use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeyUse {
    /// The principal that used it.
    pub principal: String,
    /// Calls signed with it.
    pub calls: u64,
    /// Last use, ns since the epoch.
    pub last_ns: u64,
}

/// Usage over a set of CloudTrail logs.
///
/// ```no_run
/// use tripline_identity::aws::usage::AwsUsage;
/// let u = AwsUsage::read(&["cloudtrail/".into()]).unwrap();
/// for (arn, p) in &u.principals {
///     println!("{arn}: {} actions used", p.actions.values().filter(|a| a.calls > 0).count());
/// }
/// ```
#[derive(Debug, Clone, Default, Serialize)]
pub struct AwsUsage {
    /// Principal ARN (users; roles as `arn:aws:iam::ACCOUNT:role/NAME`) → use.
    pub principals: BTreeMap<String, PrincipalUse>,
    /// Access key id → use.
    pub access_keys: BTreeMap<String, KeyUse>,
    /// Earliest and latest event seen, ns since the epoch.
    pub window: Option<(u64, u64)>,
    /// Records read.
    pub records: u64,
    /// Records without a principal (AWS services acting on their own, anonymous calls).
    pub unattributed: u64,
    /// Records skipped as unreadable (with reasons, first 100).
    pub skipped: Vec<String>,
    /// Count of skipped records.
    pub skipped_count: u64,
}

/// CloudTrail event-source prefixes whose IAM service prefix differs.
fn service_prefix(source: &str) -> &str {
    let s = source.strip_suffix(".amazonaws.com").unwrap_or(source);
    match s {
        "monitoring" => "cloudwatch",
        "email" => "ses",
        "api.ecr" => "ecr",
        "elasticfilesystem" => "elasticfilesystem",
        "tagging" => "tag",
        "kinesisanalytics" => "kinesisanalytics",
        "sso-directory" => "sso-directory",
        other => other,
    }
}

/// S3 operations whose IAM action has another name.
fn s3_action(name: &str) -> &str {
    match name {
        "ListBuckets" => "ListAllMyBuckets",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "ListBucket",
        "ListObjectVersions" => "ListBucketVersions",
        "HeadObject" => "GetObject",
        "GetBucketEncryption" => "GetEncryptionConfiguration",
        "PutBucketEncryption" | "DeleteBucketEncryption" => "PutEncryptionConfiguration",
        "GetBucketLifecycle" | "GetBucketLifecycleConfiguration" => "GetLifecycleConfiguration",
        "PutBucketLifecycle" | "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => {
            "PutLifecycleConfiguration"
        }
        "GetBucketCors" => "GetBucketCORS",
        "PutBucketCors" | "DeleteBucketCors" => "PutBucketCORS",
        "GetBucketReplication" => "GetReplicationConfiguration",
        "PutBucketReplication" | "DeleteBucketReplication" => "PutReplicationConfiguration",
        "DeleteBucketTagging" => "PutBucketTagging",
        "DeleteBucketWebsite" => "DeleteBucketWebsite",
        "CopyObject" | "UploadPart" | "CreateMultipartUpload" | "CompleteMultipartUpload" => {
            "PutObject"
        }
        "DeleteObjects" => "DeleteObject",
        "DeleteBucketPublicAccessBlock" => "PutBucketPublicAccessBlock",
        "DeleteBucketOwnershipControls" => "PutBucketOwnershipControls",
        other => other,
    }
}

/// The IAM action that authorizes a CloudTrail event (`lambda.amazonaws.com`,
/// `UpdateFunctionCode20150331v2` → `lambda:UpdateFunctionCode`).
///
/// ```
/// use tripline_identity::aws::usage::action_of;
/// assert_eq!(action_of("s3.amazonaws.com", "ListBuckets"), "s3:ListAllMyBuckets");
/// assert_eq!(action_of("lambda.amazonaws.com", "AddPermission20150331v2"), "lambda:AddPermission");
/// assert_eq!(action_of("iam.amazonaws.com", "CreateUser"), "iam:CreateUser");
/// ```
pub fn action_of(source: &str, name: &str) -> String {
    let prefix = service_prefix(source);
    let mut name = name;
    if prefix == "lambda" {
        name = strip_api_version(name);
    }
    if prefix == "s3" {
        name = s3_action(name);
    }
    let written = format!("{prefix}:{name}");
    match Catalog::get().lookup(&written) {
        Some(id) => Catalog::get().action(id).name.clone(),
        None => written,
    }
}

/// Drops Lambda's API version: `CreateFunction20150331`, `UpdateFunctionCode20150331v2`.
fn strip_api_version(name: &str) -> &str {
    let b = name.as_bytes();
    let digits_before = |end: usize| {
        let mut i = end;
        while i > 0 && b[i - 1].is_ascii_digit() {
            i -= 1;
        }
        i
    };
    let mut end = b.len();
    let i = digits_before(end);
    if i < end && i > 0 && b[i - 1] == b'v' {
        end = i - 1;
    }
    let j = digits_before(end);
    if end - j == 8 && j > 0 {
        &name[..j]
    } else {
        name
    }
}

/// The principal ARN a record is charged to, with the identity type.
/// Role sessions are charged to their role (`arn:aws:iam::ACCOUNT:role/PATH/NAME`).
pub fn principal_of(record: &Value) -> Option<(String, String)> {
    let ui = record.get("userIdentity")?;
    let kind = ui.get("type").and_then(Value::as_str).unwrap_or("");
    let issuer = ui
        .pointer("/sessionContext/sessionIssuer/arn")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let arn = ui
        .get("arn")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let principal = match kind {
        "AssumedRole" | "FederatedUser" => issuer
            .map(str::to_string)
            .or_else(|| arn.and_then(role_from_session_arn)),
        "IAMUser" | "Root" => arn.map(str::to_string),
        "IdentityCenterUser" | "SAMLUser" | "WebIdentityUser" => {
            arn.map(str::to_string).or_else(|| {
                ui.get("userName")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
        }
        _ => None,
    }?;
    Some((principal, kind.to_string()))
}

/// `arn:aws:sts::1:assumed-role/NAME/SESSION` → `arn:aws:iam::1:role/NAME`.
fn role_from_session_arn(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:aws:sts::")?;
    let (account, res) = rest.split_once(':')?;
    let role = res.strip_prefix("assumed-role/")?.split('/').next()?;
    Some(format!("arn:aws:iam::{account}:role/{role}"))
}

fn is_denied(record: &Value) -> bool {
    record
        .get("errorCode")
        .and_then(Value::as_str)
        .is_some_and(|c| {
            c.contains("AccessDenied")
                || c.contains("UnauthorizedOperation")
                || c == "Client.UnauthorizedOperation"
        })
}

impl AwsUsage {
    /// Adds one record.
    pub fn add(&mut self, record: &Value, time_ns: u64) {
        self.records += 1;
        self.window = Some(match self.window {
            None => (time_ns, time_ns),
            Some((a, b)) => (a.min(time_ns), b.max(time_ns)),
        });
        let Some((principal, kind)) = principal_of(record) else {
            self.unattributed += 1;
            return;
        };
        let source = record
            .get("eventSource")
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = record
            .get("eventName")
            .and_then(Value::as_str)
            .unwrap_or("");
        let action = action_of(source, name);
        let denied = is_denied(record);
        let failed = record.get("errorCode").is_some();
        if let Some(key) = record
            .pointer("/userIdentity/accessKeyId")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
        {
            let k = self.access_keys.entry(key.to_string()).or_default();
            k.principal.clone_from(&principal);
            k.calls += 1;
            k.last_ns = k.last_ns.max(time_ns);
        }
        let p = self.principals.entry(principal).or_default();
        if p.kind.is_empty() {
            p.kind = kind;
        }
        p.first_ns = if p.first_ns == 0 {
            time_ns
        } else {
            p.first_ns.min(time_ns)
        };
        p.last_ns = p.last_ns.max(time_ns);
        let a = p.actions.entry(action).or_default();
        if denied {
            a.denied += 1;
        } else if !failed
            || !record["errorCode"]
                .as_str()
                .unwrap_or("")
                .contains("Denied")
        {
            // Other errors (NoSuchEntity, throttling) still show the permission was used.
            a.calls += 1;
            a.last_ns = a.last_ns.max(time_ns);
        }
    }

    /// Merges another usage into this one.
    pub fn merge(&mut self, other: AwsUsage) {
        for (arn, p) in other.principals {
            let mine = self.principals.entry(arn).or_default();
            if mine.kind.is_empty() {
                mine.kind = p.kind;
            }
            mine.first_ns = match (mine.first_ns, p.first_ns) {
                (0, b) => b,
                (a, 0) => a,
                (a, b) => a.min(b),
            };
            mine.last_ns = mine.last_ns.max(p.last_ns);
            for (action, u) in p.actions {
                let m = mine.actions.entry(action).or_default();
                m.calls += u.calls;
                m.denied += u.denied;
                m.last_ns = m.last_ns.max(u.last_ns);
            }
        }
        for (key, k) in other.access_keys {
            let m = self.access_keys.entry(key).or_default();
            if m.principal.is_empty() {
                m.principal = k.principal;
            }
            m.calls += k.calls;
            m.last_ns = m.last_ns.max(k.last_ns);
        }
        self.window = match (self.window, other.window) {
            (None, w) | (w, None) => w,
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
        };
        self.records += other.records;
        self.unattributed += other.unattributed;
        self.skipped_count += other.skipped_count;
        for s in other.skipped {
            if self.skipped.len() < 100 {
                self.skipped.push(s);
            }
        }
    }

    /// Reads CloudTrail files and directories (plain or gzip, `{"Records": [...]}` files or
    /// JSON lines), files in parallel.
    pub fn read(paths: &[PathBuf]) -> Result<AwsUsage, InputError> {
        let mut files = Vec::new();
        for p in paths {
            collect(p, &mut files).map_err(|e| InputError::Io {
                path: p.display().to_string(),
                source: e,
            })?;
        }
        files.sort();
        let parts: Vec<Result<AwsUsage, InputError>> = files
            .par_iter()
            .map(|f| {
                let mut u = AwsUsage::default();
                let mut skipped = Vec::new();
                let mut reader = Reader::new(SourceKind::CloudTrail, Limits::default());
                reader.read_path(
                    &f.display().to_string(),
                    &mut |ev| u.add(&ev.json, ev.time_ns),
                    &mut |s: Skip| skipped.push(s.to_string()),
                )?;
                u.skipped_count = skipped.len() as u64;
                skipped.truncate(100);
                u.skipped = skipped;
                Ok(u)
            })
            .collect();
        let mut total = AwsUsage::default();
        for p in parts {
            total.merge(p?);
        }
        Ok(total)
    }

    /// The use of a principal, matching roles by name when the log lacks their path.
    pub fn of(&self, arn: &str) -> Option<&PrincipalUse> {
        if let Some(p) = self.principals.get(arn) {
            return Some(p);
        }
        let (account, res) = arn.strip_prefix("arn:aws:iam::")?.split_once(':')?;
        let name = res.strip_prefix("role/")?.rsplit('/').next()?;
        self.principals
            .get(&format!("arn:aws:iam::{account}:role/{name}"))
    }
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if p.is_dir() {
        for e in std::fs::read_dir(p)? {
            collect(&e?.path(), out)?;
        }
    } else {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_file() && !name.starts_with('.') && !name.ends_with(".md") && name != "LICENSE" {
            out.push(p.to_path_buf());
        }
    }
    Ok(())
}
