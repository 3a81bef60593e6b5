//! The IAM credential report (`aws iam generate-credential-report` / `get-credential-report`):
//! per user, password and access-key age and last use.

use std::path::Path;

/// One access key slot of a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AccessKey {
    /// 1 or 2.
    pub slot: u8,
    /// Active.
    pub active: bool,
    /// Last rotation (creation) time, seconds since the epoch.
    pub last_rotated: Option<i64>,
    /// Last use, seconds since the epoch.
    pub last_used: Option<i64>,
}

/// One user's row.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UserCredentials {
    /// User name (`<root_account>` for the root user).
    pub user: String,
    /// ARN.
    pub arn: String,
    /// Creation time, seconds since the epoch.
    pub created: Option<i64>,
    /// Console password enabled.
    pub password_enabled: bool,
    /// Last console login, seconds since the epoch.
    pub password_last_used: Option<i64>,
    /// MFA device active.
    pub mfa_active: bool,
    /// The two access key slots.
    pub keys: Vec<AccessKey>,
}

/// A parsed credential report.
///
/// ```
/// let csv = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n\
/// ci,arn:aws:iam::1:user/ci,2020-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2020-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n";
/// let r = tripline_identity::aws::credentials::CredentialReport::parse(csv.as_bytes(), "report.csv").unwrap();
/// assert!(r.users[0].keys[0].active && r.users[0].keys[0].last_used.is_none());
/// ```
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CredentialReport {
    /// Rows.
    pub users: Vec<UserCredentials>,
}

/// A report that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ReportError {
    /// File.
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// What was expected.
    pub message: String,
}

/// `2019-06-14T16:44:41+00:00` → seconds; `N/A`, `no_information`, `not_supported` → None.
fn time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp())
}

impl CredentialReport {
    /// Reads a report file (the CSV, or the base64 `Content` AWS returns decoded to CSV).
    pub fn load(path: &Path) -> Result<CredentialReport, ReportError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ReportError {
            file: file.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        CredentialReport::parse(&bytes, &file)
    }

    /// Parses CSV text.
    pub fn parse(bytes: &[u8], file: &str) -> Result<CredentialReport, ReportError> {
        let mut rdr = csv::Reader::from_reader(bytes);
        let headers = rdr
            .headers()
            .map_err(|e| ReportError {
                file: file.to_string(),
                line: 1,
                message: e.to_string(),
            })?
            .clone();
        let col = |name: &str| headers.iter().position(|h| h == name);
        let need = |name: &str| {
            col(name).ok_or_else(|| ReportError {
                file: file.to_string(),
                line: 1,
                message: format!("expected a credential report header with column '{name}'"),
            })
        };
        let (user, arn) = (need("user")?, need("arn")?);
        let mut out = CredentialReport::default();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| ReportError {
                file: file.to_string(),
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            })?;
            let get = |name: &str| col(name).and_then(|i| rec.get(i)).unwrap_or("");
            let keys = (1..=2)
                .map(|slot| AccessKey {
                    slot,
                    active: get(&format!("access_key_{slot}_active")) == "true",
                    last_rotated: time(get(&format!("access_key_{slot}_last_rotated"))),
                    last_used: time(get(&format!("access_key_{slot}_last_used_date"))),
                })
                .collect();
            out.users.push(UserCredentials {
                user: rec.get(user).unwrap_or("").to_string(),
                arn: rec.get(arn).unwrap_or("").to_string(),
                created: time(get("user_creation_time")),
                password_enabled: get("password_enabled") == "true",
                password_last_used: time(get("password_last_used")),
                mfa_active: get("mfa_active") == "true",
                keys,
            });
        }
        Ok(out)
    }

    /// A user's row by ARN.
    pub fn user(&self, arn: &str) -> Option<&UserCredentials> {
        self.users.iter().find(|u| u.arn == arn)
    }
}

impl UserCredentials {
    /// The latest password or key use, seconds since the epoch.
    pub fn last_used(&self) -> Option<i64> {
        self.keys
            .iter()
            .filter_map(|k| k.last_used)
            .chain(self.password_last_used)
            .max()
    }
}
