//! The runtime contract: what a host or workload is declared to be (`tripline.dev/v1`,
//! `kind: RuntimeContract`).
//!
//! Each section is optional: a section that is absent is not checked, one that is present
//! (even empty) is, and anything live that no entry covers is drift. Entries are `required`
//! (default: must exist, and match the facts given), `allowed` (may exist) or `forbidden`
//! (must not exist).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The API version this crate reads and writes.
pub const API_VERSION: &str = "tripline.dev/v1";
/// The kind.
pub const KIND: &str = "RuntimeContract";

/// A runtime contract document.
///
/// ```
/// let c = tripline_drift::Contract::from_yaml("c.yaml", r#"
/// apiVersion: tripline.dev/v1
/// kind: RuntimeContract
/// metadata: {name: web-1}
/// spec:
///   users:
///     - {name: root, uid: 0}
///   authorizedKeys: []
/// "#).unwrap();
/// assert_eq!(c.spec.users.unwrap()[0].uid, Some(0));
/// assert!(c.spec.authorized_keys.unwrap().is_empty()); // declared: no key may be added
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Contract {
    /// `tripline.dev/v1`.
    pub api_version: String,
    /// `RuntimeContract`.
    pub kind: String,
    /// Name and labels.
    pub metadata: Metadata,
    /// The declarations.
    pub spec: Spec,
}

/// Name and labels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Host or workload name.
    pub name: String,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Whether an entry must, may or must not exist.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Must exist (and match the facts given).
    #[default]
    Required,
    /// May exist.
    Allowed,
    /// Must not exist.
    Forbidden,
}

impl State {
    fn is_default(&self) -> bool {
        *self == State::Required
    }
}

/// The declarations, one optional list per kind of thing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Spec {
    /// File globs this contract covers: files under them that no `files` entry covers are drift.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<String>,
    /// Files and directories (exact paths or globs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileRule>>,
    /// Accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<UserRule>>,
    /// Groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupRule>>,
    /// dpkg packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<Vec<PackageRule>>,
    /// Python distributions installed in the system's and `/opt` site trees (names
    /// normalised as pip does: `pyyaml`, `typing-extensions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_packages: Option<Vec<PackageRule>>,
    /// npm packages installed globally or in `/opt/*`, `/srv/*` applications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub npm_packages: Option<Vec<PackageRule>>,
    /// SSH keys in `authorized_keys`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_keys: Option<Vec<KeyRule>>,
    /// sudoers rules (normalised lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudoers: Option<Vec<LineRule>>,
    /// Listening sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listeners: Option<Vec<ListenerRule>>,
    /// Kernel parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysctls: Option<Vec<SysctlRule>>,
    /// Kernel modules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modules: Option<Vec<NameRule>>,
    /// Enabled systemd units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<Vec<NameRule>>,
    /// Cron entries (`file: line`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<Vec<LineRule>>,
    /// Programs seen running (observed with the live sensor: `learn --watch`, `drift --watch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executables: Option<Vec<PathRule>>,
    /// Outbound connections seen (observed with the live sensor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<EgressRule>>,
    /// Container images running on the host (from the container runtimes' state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<ImageRule>>,
}

/// A program path or glob.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathRule {
    /// Absolute path or glob (`/usr/bin/*`).
    pub path: String,
    /// required, allowed or forbidden (observed entries are learned as allowed).
    #[serde(default, skip_serializing_if = "State::is_default")]
    pub state: State,
}

/// An outbound destination.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EgressRule {
    /// Address or CIDR (`10.0.0.0/8`, `203.0.113.7`).
    pub destination: String,
    /// Port; absent = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// required, allowed or forbidden (observed entries are learned as allowed).
    #[serde(default, skip_serializing_if = "State::is_default")]
    pub state: State,
}

/// A file, directory or glob of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRule {
    /// Absolute path or glob (`/opt/models/**/*.gguf`).
    pub path: String,
    /// `file`, `dir`, `symlink`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// SHA-256 of the content, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Octal mode with setuid/setgid/sticky (`0644`, `4755`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Owner name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Symlink target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Where the pristine copy is kept (absolute, or relative to the contract file), for the
    /// `restore` action. Checked against `sha256` before it is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// required, allowed or forbidden.
    #[serde(default, skip_serializing_if = "State::is_default")]
    pub state: State,
}

/// An account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRule {
    /// Login name.
    pub name: String,
    /// User id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Login shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// required, allowed or forbidden.
    #[serde(default, skip_serializing_if = "State::is_default")]
    pub state: State,
}

/// A group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRule {
    /// Group name.
    pub name: String,
    /// Group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Supplementary members, sorted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    /// required, allowed or forbidden.
    #[serde(default, skip_serializing_if = "State::is_default")]
    pub state: State,
}

/// A package.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageRule {
    /// Package name (`name:arch` for a second architecture).
    pub name: String,
    /// Exact version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// required, allowed or forbidden.
    #[serde(default, skip_serializing_if = "State::is_default")]
    pub state: State,
}

/// An authorized SSH key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRule {
    /// The account it lets in.
    pub user: String,
    /// OpenSSH fingerprint (`SHA256:...`).
    pub fingerprint: String,
    /// Comment (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// required, allowed or forbidden.
    #[serde(default, skip_serializing_if = "State::is_default")]
    pub state: State,
}

impl FileRule {
    /// Whether `path` is a glob: it has `*`, `?` or `{` (then `[...]` classes work too). Other
    /// paths are literal, so files named `/usr/bin/[` need no escaping.
    pub fn is_glob(&self) -> bool {
        self.path.contains(['*', '?', '{'])
    }

    /// The compiled glob, for glob paths.
    pub fn glob(&self) -> Option<Result<globset::Glob, globset::Error>> {
        self.is_glob().then(|| {
            globset::GlobBuilder::new(&self.path)
                .literal_separator(true)
                .build()
        })
    }
}

/// A line-valued entry (sudoers rule, cron entry).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRule {
    /// The line, whitespace-normalised.
    pub line: String,
    /// required, allowed or forbidden.
    #[serde(default, skip_serializing_if = "State::is_default")]
    pub state: State,
}

/// A listening socket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListenerRule {
    /// `tcp` or `udp`.
    pub protocol: String,
    /// Port.
    pub port: u16,
    /// Bound address; absent = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Process name; absent = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// required, allowed or forbidden.
    #[serde(default, skip_serializing_if = "State::is_default")]
    pub state: State,
}

/// A container image, by reference and digest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageRule {
    /// Reference as containers are started from it (`nginx:1.25.3`,
    /// `ghcr.io/acme/api@sha256:...`).
    pub image: String,
    /// Image digest or id (`sha256:...`): a different image behind the same reference is drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// required, allowed or forbidden.
    #[serde(default, skip_serializing_if = "State::is_default")]
    pub state: State,
}

/// A kernel parameter and its value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SysctlRule {
    /// Dotted name (`net.ipv4.ip_forward`).
    pub name: String,
    /// Expected value.
    pub value: String,
}

/// A named entry (module, unit).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameRule {
    /// The name.
    pub name: String,
    /// required, allowed or forbidden.
    #[serde(default, skip_serializing_if = "State::is_default")]
    pub state: State,
}

/// A contract that could not be read: file, line and the path of the offending value.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {path}: {message}")]
pub struct ContractError {
    /// The file.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// Where in the document (`spec.files[2].mode`), as in the JSON Schema.
    pub path: String,
    /// What was expected.
    pub message: String,
}

impl Contract {
    /// Parses a contract; errors name the file, line and path.
    pub fn from_yaml(file: &str, text: &str) -> Result<Contract, ContractError> {
        let err = |line: usize, path: String, message: String| ContractError {
            file: file.to_string(),
            line,
            path,
            message,
        };
        let de = serde_yaml::Deserializer::from_str(text);
        let c: Contract = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let line = inner.location().map_or(0, |l| l.line());
            // serde_yaml's text repeats the path and location; keep only what was expected.
            let mut message = inner.to_string();
            if let Some(i) = message.find(" at line ") {
                message.truncate(i);
            }
            if let Some((head, rest)) = message.split_once(": ") {
                if !head.contains(' ') {
                    message = rest.to_string();
                }
            }
            err(
                line,
                if path == "." { String::new() } else { path },
                message,
            )
        })?;
        if c.api_version != API_VERSION {
            return Err(err(
                line_of(text, "apiVersion"),
                "apiVersion".into(),
                format!("expected {API_VERSION}, found {}", c.api_version),
            ));
        }
        if c.kind != KIND {
            return Err(err(
                line_of(text, "kind"),
                "kind".into(),
                format!("expected {KIND}, found {}", c.kind),
            ));
        }
        for (i, f) in c.spec.files.iter().flatten().enumerate() {
            if !f.path.starts_with('/') {
                return Err(err(
                    line_of(text, &f.path),
                    format!("spec.files[{i}].path"),
                    "expected an absolute path or glob".into(),
                ));
            }
            if let Some(Err(e)) = f.glob() {
                return Err(err(
                    line_of(text, &f.path),
                    format!("spec.files[{i}].path"),
                    e.to_string(),
                ));
            }
            if let Some(m) = &f.mode {
                if u32::from_str_radix(m, 8).is_err() {
                    return Err(err(
                        line_of(text, m),
                        format!("spec.files[{i}].mode"),
                        format!("expected an octal mode like 0644, found {m}"),
                    ));
                }
            }
        }
        Ok(c)
    }

    /// Reads a contract file.
    pub fn load(path: &Path) -> Result<Contract, ContractError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ContractError {
            file: name.clone(),
            line: 0,
            path: String::new(),
            message: e.to_string(),
        })?;
        Contract::from_yaml(&name, &text)
    }

    /// The YAML form (stable order, so it diffs well in Git).
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).expect("contracts serialise")
    }
}

/// The published JSON Schema of the contract format (`schema/runtime-contract.v1.json`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Contract)).expect("schema")
}

/// First line mentioning `needle` (for errors found after parsing).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(0, |i| i + 1)
}
