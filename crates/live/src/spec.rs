//! `--source KIND=WHERE`: which records, from where.

use std::path::PathBuf;
use std::str::FromStr;

use tripline_sources::SourceKind;

/// What a live source delivers, which decides its decoder and rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// JSON log records of a log source (Kubernetes audit, CloudTrail, Okta, GitHub, GCP).
    Json(SourceKind),
    /// Linux audit records (`/var/log/audit/audit.log`), evaluated by Sigma `auditd` rules.
    Auditd,
}

impl Kind {
    /// The Falco source name its rules are written for (`k8s_audit`, `aws_cloudtrail`, ...;
    /// `auditd` has no Falco rules).
    pub fn rules_source(self) -> &'static str {
        match self {
            Kind::Json(k) => k.name(),
            Kind::Auditd => "auditd",
        }
    }
}

/// Where a live source reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    /// Records are POSTed to the agent's webhook listener (`/k8s-audit`, `/github`).
    Webhook,
    /// A log file followed like `tail -F`.
    File(PathBuf),
    /// CloudTrail log files below an S3 prefix, listed for new keys.
    S3 {
        /// Bucket.
        bucket: String,
        /// Key prefix (may be empty).
        prefix: String,
    },
    /// An SQS queue of S3 event notifications for new CloudTrail log files.
    Sqs {
        /// Queue name or URL.
        queue: String,
    },
    /// An Okta org's System Log API, polled.
    Okta {
        /// The org's host, e.g. `dev-123456.okta.com`.
        org: String,
    },
}

/// One `--source KIND=WHERE` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The argument as given: the key its checkpoint is saved under.
    pub id: String,
    /// What it delivers.
    pub kind: Kind,
    /// Where from.
    pub at: At,
}

/// Why a `--source` argument was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    /// No `=`.
    #[error("--source '{0}': expected KIND=WHERE, e.g. k8s-audit=webhook or auditd=file:///var/log/audit/audit.log")]
    Shape(String),
    /// Unknown kind.
    #[error("--source '{0}': unknown kind '{1}' (expected k8s-audit, cloudtrail, gcp-audit, okta, github or auditd)")]
    Kind(String, String),
    /// Unknown or unsupported location.
    #[error("--source '{0}': {1}")]
    At(String, String),
}

impl FromStr for Spec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Spec, SpecError> {
        let (kind, at) = s
            .split_once('=')
            .ok_or_else(|| SpecError::Shape(s.into()))?;
        let kind = match kind.to_ascii_lowercase().replace('-', "_").as_str() {
            "auditd" => Kind::Auditd,
            "k8s_audit" | "k8saudit" => Kind::Json(SourceKind::K8sAudit),
            "cloudtrail" | "aws_cloudtrail" => Kind::Json(SourceKind::CloudTrail),
            "okta" => Kind::Json(SourceKind::Okta),
            "github" => Kind::Json(SourceKind::Github),
            "gcp_audit" | "gcp_auditlog" => Kind::Json(SourceKind::GcpAudit),
            other => {
                return Err(SpecError::Kind(s.into(), other.into()));
            }
        };
        let at = if at == "webhook" {
            match kind {
                Kind::Json(SourceKind::K8sAudit | SourceKind::Github) => At::Webhook,
                _ => {
                    return Err(SpecError::At(
                        s.into(),
                        "only k8s-audit and github are received by webhook".into(),
                    ))
                }
            }
        } else if let Some(rest) = at.strip_prefix("s3://") {
            only_cloudtrail(s, kind)?;
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(SpecError::At(
                    s.into(),
                    "expected s3://BUCKET/PREFIX/".into(),
                ));
            }
            At::S3 {
                bucket: bucket.into(),
                prefix: prefix.into(),
            }
        } else if let Some(queue) = at.strip_prefix("sqs://") {
            only_cloudtrail(s, kind)?;
            if queue.is_empty() {
                return Err(SpecError::At(
                    s.into(),
                    "expected sqs://QUEUE (a name or URL)".into(),
                ));
            }
            At::Sqs {
                queue: queue.into(),
            }
        } else if let Some(org) = at.strip_prefix("okta://") {
            if kind != Kind::Json(SourceKind::Okta) {
                return Err(SpecError::At(
                    s.into(),
                    "okta:// is read only by okta".into(),
                ));
            }
            let org = org.trim_end_matches('/');
            if org.is_empty() || org.contains('/') {
                return Err(SpecError::At(
                    s.into(),
                    "expected okta://ORG, e.g. okta://dev-123456.okta.com".into(),
                ));
            }
            At::Okta { org: org.into() }
        } else if let Some(path) = at.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(SpecError::At(
                    s.into(),
                    "a file:// path must be absolute (file:///var/log/...)".into(),
                ));
            }
            At::File(PathBuf::from(path))
        } else {
            return Err(SpecError::At(
                s.into(),
                format!("unknown location '{at}' (expected webhook, file:///PATH, s3://BUCKET/PREFIX/, sqs://QUEUE or okta://ORG)"),
            ));
        };
        Ok(Spec {
            id: s.to_string(),
            kind,
            at,
        })
    }
}

fn only_cloudtrail(s: &str, kind: Kind) -> Result<(), SpecError> {
    match kind {
        Kind::Json(SourceKind::CloudTrail) => Ok(()),
        _ => Err(SpecError::At(
            s.into(),
            "only cloudtrail is read from S3 or SQS".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_or_say_what_was_expected() {
        let s: Spec = "auditd=file:///var/log/audit/audit.log".parse().unwrap();
        assert_eq!(s.kind, Kind::Auditd);
        assert_eq!(s.at, At::File("/var/log/audit/audit.log".into()));
        let s: Spec = "K8S_AUDIT=file:///k.log".parse().unwrap();
        assert_eq!(s.kind, Kind::Json(SourceKind::K8sAudit));
        let s: Spec = "cloudtrail=s3://trail/AWSLogs/1/".parse().unwrap();
        assert_eq!(
            s.at,
            At::S3 {
                bucket: "trail".into(),
                prefix: "AWSLogs/1/".into()
            }
        );
        let s: Spec = "cloudtrail=sqs://trail-events".parse().unwrap();
        assert_eq!(
            s.at,
            At::Sqs {
                queue: "trail-events".into()
            }
        );
        for (bad, says) in [
            ("k8s-audit", "expected KIND=WHERE"),
            ("nope=webhook", "unknown kind 'nope'"),
            ("okta=webhook", "only k8s-audit and github"),
            ("k8s-audit=file://rel.log", "must be absolute"),
            ("k8s-audit=ftp://x", "unknown location"),
            ("okta=sqs://q", "only cloudtrail"),
            ("cloudtrail=s3://", "expected s3://BUCKET"),
        ] {
            let e = bad.parse::<Spec>().unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
