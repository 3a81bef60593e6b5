//! What AWS identities actually did, from CloudTrail: per principal, the IAM actions called
//! (successfully or denied), when, and with which access keys.
//!
//! A CloudTrail `eventSource`/`eventName` pair is mapped to the IAM action that authorizes it
//! (`lambda` API versions are dropped, S3's renamed operations are mapped); a call the catalog
//! does not know is kept as `service:EventName`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::borrow::Cow;
use std::io::{BufRead, Read};

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};
use tripline_sources::input::{InputError, Limits};

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

/// The fields of a CloudTrail record usage needs, borrowed from the input: decoding skips
/// everything else, which makes reading ten million records a matter of seconds.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(rename = "eventTime", borrow)]
    event_time: Option<Cow<'a, str>>,
    #[serde(rename = "eventType", borrow)]
    event_type: Option<Cow<'a, str>>,
    #[serde(rename = "eventSource", borrow, default)]
    event_source: Cow<'a, str>,
    #[serde(rename = "eventName", borrow, default)]
    event_name: Cow<'a, str>,
    #[serde(rename = "errorCode", borrow)]
    error_code: Option<Cow<'a, str>>,
    #[serde(rename = "userIdentity", borrow)]
    user_identity: Option<UserIdentity<'a>>,
}

#[derive(Deserialize)]
struct UserIdentity<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    arn: Option<Cow<'a, str>>,
    #[serde(rename = "accessKeyId", borrow)]
    access_key_id: Option<Cow<'a, str>>,
    #[serde(rename = "userName", borrow)]
    user_name: Option<Cow<'a, str>>,
    #[serde(rename = "sessionContext", borrow)]
    session_context: Option<SessionContext<'a>>,
}

#[derive(Deserialize)]
struct SessionContext<'a> {
    #[serde(rename = "sessionIssuer", borrow)]
    session_issuer: Option<Issuer<'a>>,
}

#[derive(Deserialize)]
struct Issuer<'a> {
    #[serde(borrow)]
    arn: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RecordsFile<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<Record<'a>>,
}

/// The principal a record is charged to, with the identity type. Role sessions are charged
/// to their role (`arn:aws:iam::ACCOUNT:role/PATH/NAME`); AWS services acting on their own
/// and anonymous calls have none.
fn principal_of<'r>(ui: &'r UserIdentity<'_>) -> Option<Cow<'r, str>> {
    let nonempty = |c: &'r Option<Cow<'_, str>>| c.as_deref().filter(|s| !s.is_empty());
    match ui.kind.as_ref() {
        "AssumedRole" | "FederatedUser" => {
            let issuer = ui
                .session_context
                .as_ref()
                .and_then(|c| c.session_issuer.as_ref())
                .and_then(|i| nonempty(&i.arn));
            match issuer {
                Some(a) => Some(Cow::Borrowed(a)),
                None => nonempty(&ui.arn)
                    .and_then(role_from_session_arn)
                    .map(Cow::Owned),
            }
        }
        "IAMUser" | "Root" => nonempty(&ui.arn).map(Cow::Borrowed),
        "IdentityCenterUser" | "SAMLUser" | "WebIdentityUser" => nonempty(&ui.arn)
            .or_else(|| nonempty(&ui.user_name))
            .map(Cow::Borrowed),
        _ => None,
    }
}

/// `arn:aws:sts::1:assumed-role/NAME/SESSION` → `arn:aws:iam::1:role/NAME`.
fn role_from_session_arn(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:aws:sts::")?;
    let (account, res) = rest.split_once(':')?;
    let role = res.strip_prefix("assumed-role/")?.split('/').next()?;
    Some(format!("arn:aws:iam::{account}:role/{role}"))
}

fn is_denied(code: &str) -> bool {
    code.contains("AccessDenied") || code.contains("UnauthorizedOperation")
}

/// Per-principal counts while reading, keyed by raw event source and name so that a record
/// already seen costs no allocation.
#[derive(Default)]
struct Acc {
    principals: HashMap<String, PrincipalAcc>,
    keys: HashMap<String, KeyUse>,
    window: Option<(u64, u64)>,
    records: u64,
    unattributed: u64,
    skipped: Vec<String>,
    skipped_count: u64,
}

#[derive(Default)]
struct PrincipalAcc {
    kind: String,
    calls: HashMap<String, HashMap<String, ActionUse>>,
    first_ns: u64,
    last_ns: u64,
}

fn entry<'m, V: Default>(m: &'m mut HashMap<String, V>, k: &str) -> &'m mut V {
    if !m.contains_key(k) {
        m.insert(k.to_string(), V::default());
    }
    m.get_mut(k).expect("just inserted")
}

impl Acc {
    fn skip(&mut self, file: &str, line: usize, reason: &str) {
        self.skipped_count += 1;
        if self.skipped.len() < 100 {
            self.skipped.push(format!("{file}:{line}: {reason}"));
        }
    }

    fn add(&mut self, r: &Record<'_>, file: &str, line: usize) {
        let Some(time_ns) = r
            .event_time
            .as_deref()
            .and_then(tripline_sources::parse_time)
        else {
            self.skip(file, line, "record has no valid eventTime");
            return;
        };
        match r.event_type.as_deref() {
            None => return self.skip(file, line, "record has no eventType"),
            Some("AwsCloudTrailInsight") => {
                return self.skip(file, line, "CloudTrail Insight record skipped")
            }
            Some(_) => {}
        }
        self.records += 1;
        self.window = Some(match self.window {
            None => (time_ns, time_ns),
            Some((a, b)) => (a.min(time_ns), b.max(time_ns)),
        });
        let Some(ui) = &r.user_identity else {
            self.unattributed += 1;
            return;
        };
        let Some(principal) = principal_of(ui) else {
            self.unattributed += 1;
            return;
        };
        if let Some(key) = ui.access_key_id.as_deref().filter(|k| !k.is_empty()) {
            let k = entry(&mut self.keys, key);
            if k.principal != principal {
                k.principal = principal.to_string();
            }
            k.calls += 1;
            k.last_ns = k.last_ns.max(time_ns);
        }
        let p = entry(&mut self.principals, &principal);
        if p.kind.is_empty() {
            p.kind = ui.kind.to_string();
        }
        p.first_ns = if p.first_ns == 0 {
            time_ns
        } else {
            p.first_ns.min(time_ns)
        };
        p.last_ns = p.last_ns.max(time_ns);
        let a = entry(entry(&mut p.calls, &r.event_source), &r.event_name);
        match r.error_code.as_deref() {
            Some(code) if is_denied(code) => a.denied += 1,
            // Other errors (NoSuchEntity, throttling) still show the permission was used.
            _ => {
                a.calls += 1;
                a.last_ns = a.last_ns.max(time_ns);
            }
        }
    }

    /// Reads one file: a `{"Records": [...]}` file, a JSON array, or JSON lines; plain or gzip.
    fn read_file(&mut self, path: &Path, limits: &Limits) -> Result<(), InputError> {
        let name = path.display().to_string();
        let io_err = |e: std::io::Error| InputError::Io {
            path: name.clone(),
            source: e,
        };
        let file = std::fs::File::open(path).map_err(io_err)?;
        let mut raw = std::io::BufReader::with_capacity(1 << 16, file);
        let gzip = raw.fill_buf().map_err(io_err)?.starts_with(&[0x1f, 0x8b]);
        let mut reader: Box<dyn BufRead> = if gzip {
            Box::new(std::io::BufReader::with_capacity(
                1 << 16,
                flate2::read::MultiGzDecoder::new(raw),
            ))
        } else {
            Box::new(raw)
        };
        let head = reader.fill_buf().map_err(io_err)?;
        let text_start = head
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(head.len());
        let rest = &head[text_start..];
        let whole_file = rest.starts_with(b"[")
            || (rest.starts_with(b"{")
                && rest[1..]
                    .iter()
                    .find(|b| !b.is_ascii_whitespace())
                    .is_some_and(|b| *b == b'"')
                && rest.windows(9).take(64).any(|w| w == b"\"Records\""));
        let array = rest.starts_with(b"[");
        if whole_file {
            let mut buf = Vec::new();
            (&mut reader)
                .take(limits.max_file_bytes + 1)
                .read_to_end(&mut buf)
                .map_err(io_err)?;
            if buf.len() as u64 > limits.max_file_bytes {
                return Err(InputError::TooLarge {
                    path: name,
                    limit: limits.max_file_bytes,
                });
            }
            let parsed = if array {
                serde_json::from_slice::<Vec<Record<'_>>>(&buf)
            } else {
                serde_json::from_slice::<RecordsFile<'_>>(&buf).map(|f| f.records)
            };
            match parsed {
                Ok(records) => {
                    for r in &records {
                        self.add(r, &name, 1);
                    }
                }
                Err(e) => self.skip(&name, e.line(), &format!("not a CloudTrail file: {e}")),
            }
            return Ok(());
        }
        let mut line = Vec::new();
        let mut n = 0usize;
        loop {
            line.clear();
            let read = (&mut reader)
                .take(limits.max_event_bytes as u64 + 1)
                .read_until(b'\n', &mut line)
                .map_err(io_err)?;
            if read == 0 {
                return Ok(());
            }
            n += 1;
            if line.len() > limits.max_event_bytes && !line.ends_with(b"\n") {
                self.skip(
                    &name,
                    n,
                    &format!("record exceeds the {}-byte limit", limits.max_event_bytes),
                );
                // Drop the rest of the long line without holding it.
                loop {
                    line.clear();
                    let got = (&mut reader)
                        .take(1 << 20)
                        .read_until(b'\n', &mut line)
                        .map_err(io_err)?;
                    if got == 0 || line.ends_with(b"\n") {
                        break;
                    }
                }
                continue;
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Record<'_>>(&line) {
                Ok(r) => self.add(&r, &name, n),
                Err(e) => self.skip(&name, n, &format!("not a CloudTrail record: {e}")),
            }
        }
    }

    fn merge(&mut self, other: Acc) {
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
            for (source, names) in p.calls {
                let m = mine.calls.entry(source).or_default();
                for (name, u) in names {
                    let x = m.entry(name).or_default();
                    x.calls += u.calls;
                    x.denied += u.denied;
                    x.last_ns = x.last_ns.max(u.last_ns);
                }
            }
        }
        for (key, k) in other.keys {
            let m = self.keys.entry(key).or_default();
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

    /// Maps raw event names to IAM actions.
    fn finish(self) -> AwsUsage {
        let mut names: HashMap<(String, String), String> = HashMap::default();
        let mut principals = BTreeMap::new();
        for (arn, p) in self.principals {
            let mut actions: BTreeMap<String, ActionUse> = BTreeMap::new();
            for (source, by_name) in p.calls {
                for (name, u) in by_name {
                    let action = names
                        .entry((source.clone(), name.clone()))
                        .or_insert_with(|| action_of(&source, &name))
                        .clone();
                    let a = actions.entry(action).or_default();
                    a.calls += u.calls;
                    a.denied += u.denied;
                    a.last_ns = a.last_ns.max(u.last_ns);
                }
            }
            principals.insert(
                arn,
                PrincipalUse {
                    kind: p.kind,
                    actions,
                    first_ns: p.first_ns,
                    last_ns: p.last_ns,
                },
            );
        }
        AwsUsage {
            principals,
            access_keys: self.keys.into_iter().collect(),
            window: self.window,
            records: self.records,
            unattributed: self.unattributed,
            skipped: self.skipped,
            skipped_count: self.skipped_count,
        }
    }
}

impl AwsUsage {
    /// Reads CloudTrail files and directories (plain or gzip, `{"Records": [...]}` files, JSON
    /// arrays, or JSON lines), files in parallel. Unreadable records are skipped and counted
    /// with file and line; an unreadable file stops the read with an error naming it.
    pub fn read(paths: &[PathBuf]) -> Result<AwsUsage, InputError> {
        let mut files = Vec::new();
        for p in paths {
            files.extend(
                tripline_sources::input::input_files(p).map_err(|e| InputError::Io {
                    path: p.display().to_string(),
                    source: e,
                })?,
            );
        }
        let limits = Limits::default();
        let total = files
            .par_iter()
            .map(|f| {
                let mut acc = Acc::default();
                acc.read_file(f, &limits)?;
                Ok(acc)
            })
            .try_reduce(Acc::default, |mut a, b| {
                a.merge(b);
                Ok(a)
            })?;
        Ok(total.finish())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const GOOD: &str = r#"{"eventTime":"2026-01-01T00:00:00Z","eventType":"AwsApiCall","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a","accessKeyId":"AKIA1"}}"#;

    #[test]
    fn json_lines_plain_and_gzip_with_bad_lines_skipped_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{GOOD}\n{{\"eventTime\": 3\n\n{}\n",
            GOOD.replace("ListBuckets", "HeadObject")
        );
        std::fs::write(dir.path().join("a.jsonl"), &text).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        std::fs::write(dir.path().join("b.json.gz"), gz.finish().unwrap()).unwrap();
        let u = AwsUsage::read(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(u.records, 4);
        assert_eq!(u.skipped_count, 2);
        assert!(
            u.skipped[0].contains("a.jsonl:2: not a CloudTrail record: invalid type"),
            "{:?}",
            u.skipped
        );
        let a = &u.principals["arn:aws:iam::1:user/a"];
        assert_eq!(a.actions["s3:ListAllMyBuckets"].calls, 2);
        assert_eq!(a.actions["s3:GetObject"].calls, 2);
        assert_eq!(u.access_keys["AKIA1"].calls, 4);
    }

    #[test]
    fn a_broken_records_file_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("x.json"),
            format!("{{\"Records\": [{GOOD}, {{\"eventTime\": ]}}"),
        )
        .unwrap();
        let u = AwsUsage::read(&[dir.path().join("x.json")]).unwrap();
        assert_eq!(u.records, 0);
        assert_eq!(u.skipped_count, 1);
        assert!(
            u.skipped[0].contains("x.json:1: not a CloudTrail file"),
            "{:?}",
            u.skipped
        );
        let missing = AwsUsage::read(&[dir.path().join("nope.json")]).unwrap_err();
        assert!(missing.to_string().contains("nope.json"), "{missing}");
    }
}
