//! Output settings: the `outputs:` list of the config file, or `--output TYPE=TARGET` flags.

use serde::Deserialize;
use tripline_event::Priority;
use tripline_store::outbox::Route;

/// The body an output writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Falco's JSON alert.
    #[default]
    Falco,
    /// OCSF Detection Finding (class 2004).
    Ocsf,
    /// Tripline's stored finding (id, kind, entity, count, first/last seen).
    Tripline,
    /// Falco's text line.
    Text,
}

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Target {
    /// Standard output.
    Stdout {
        /// Body format.
        #[serde(default = "text_format")]
        format: Format,
    },
    /// JSON lines appended to a file, rotated by size.
    File {
        /// File path.
        path: String,
        /// Body format.
        #[serde(default)]
        format: Format,
        /// Rotate past this size (bytes); 0 never rotates.
        #[serde(default = "default_max_bytes")]
        max_bytes: u64,
        /// Rotated files kept (`FILE.1` newest ... `FILE.N`).
        #[serde(default = "default_keep")]
        keep: u32,
    },
    /// HTTP POST of one JSON body per finding.
    Webhook {
        /// URL.
        url: String,
        /// Body format.
        #[serde(default = "tripline_format")]
        format: Format,
        /// Extra headers (`Authorization: Bearer ...`); values are never logged.
        #[serde(default)]
        headers: std::collections::BTreeMap<String, String>,
    },
    /// Falcosidekick: HTTP POST of Falco's JSON alert to its root URL.
    Falcosidekick {
        /// URL (`http://falcosidekick:2801/`).
        url: String,
    },
    /// Slack incoming webhook.
    Slack {
        /// Webhook URL.
        url: String,
    },
    /// Alertmanager API v2 (`POST /api/v2/alerts`).
    Alertmanager {
        /// Alertmanager base URL (`http://alertmanager:9093`).
        url: String,
    },
    /// Syslog, RFC 5424: `udp://HOST:PORT` or `unix:///dev/log`.
    Syslog {
        /// Address.
        address: String,
        /// Facility number (default 4, security/authorization).
        #[serde(default = "default_facility")]
        facility: u8,
    },
}

fn text_format() -> Format {
    Format::Text
}

fn tripline_format() -> Format {
    Format::Tripline
}

fn default_max_bytes() -> u64 {
    100 << 20
}

fn default_keep() -> u32 {
    5
}

fn default_facility() -> u8 {
    4
}

/// One output: a name, where it goes, and which findings it wants.
///
/// ```
/// use tripline_respond::config::OutputConfig;
/// let o = OutputConfig::from_flag("slack=https://hooks.example/T0/B0").unwrap();
/// assert_eq!(o.name, "slack");
/// let o: Vec<OutputConfig> = serde_yaml::from_str("
/// - name: siem
///   type: webhook
///   url: http://siem:8080/ingest
///   format: ocsf
///   min_priority: error
///   rules: ['Terminal*']
/// ").unwrap();
/// assert_eq!(o[0].route().rules, ["Terminal*"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OutputConfig {
    /// Unique name (the outbox key: renaming an output starts its queue afresh).
    pub name: String,
    /// Where it goes.
    #[serde(flatten)]
    pub target: Target,
    /// At least this severe (default: every priority).
    #[serde(default)]
    pub min_priority: Option<String>,
    /// Only these rules (names or `*` wildcards).
    #[serde(default)]
    pub rules: Vec<String>,
}

impl OutputConfig {
    /// Parses `TYPE=TARGET`: `stdout`, `file=PATH`, `ocsf=PATH` (a file of OCSF findings),
    /// `webhook=URL`, `falcosidekick=URL`, `slack=URL`, `alertmanager=URL`, `syslog=ADDRESS`.
    pub fn from_flag(flag: &str) -> Result<OutputConfig, String> {
        let (kind, arg) = flag.split_once('=').unwrap_or((flag, ""));
        let need = |what: &str| -> Result<String, String> {
            if arg.is_empty() {
                Err(format!("--output {kind}=... needs {what}"))
            } else {
                Ok(arg.to_string())
            }
        };
        let target = match kind {
            "stdout" => Target::Stdout {
                format: if arg == "json" {
                    Format::Falco
                } else {
                    Format::Text
                },
            },
            "file" | "ocsf" => Target::File {
                path: need("a file path")?,
                format: if kind == "ocsf" {
                    Format::Ocsf
                } else {
                    Format::Falco
                },
                max_bytes: default_max_bytes(),
                keep: default_keep(),
            },
            "webhook" => Target::Webhook {
                url: need("a URL")?,
                format: Format::Tripline,
                headers: Default::default(),
            },
            "falcosidekick" => Target::Falcosidekick {
                url: need("a URL")?,
            },
            "slack" => Target::Slack {
                url: need("a URL")?,
            },
            "alertmanager" => Target::Alertmanager {
                url: need("a URL")?,
            },
            "syslog" => Target::Syslog {
                address: if arg.is_empty() {
                    "unix:///dev/log".into()
                } else {
                    arg.into()
                },
                facility: default_facility(),
            },
            other => {
                return Err(format!(
                "unknown output type '{other}' (expected stdout, file, ocsf, webhook, falcosidekick, slack, alertmanager or syslog)"
            ))
            }
        };
        Ok(OutputConfig {
            name: kind.to_string(),
            target,
            min_priority: None,
            rules: Vec::new(),
        })
    }

    /// The store route that queues findings for this output.
    pub fn route(&self) -> Route {
        Route {
            output: self.name.clone(),
            min_priority: self
                .min_priority
                .as_deref()
                .and_then(|p| p.parse::<Priority>().ok())
                .unwrap_or(Priority::Debug),
            rules: self.rules.clone(),
        }
    }

    /// Checks what parsing cannot: a known priority, a usable URL or address.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(p) = &self.min_priority {
            p.parse::<Priority>()
                .map_err(|e| format!("output '{}': {e}", self.name))?;
        }
        let url = match &self.target {
            Target::Webhook { url, .. }
            | Target::Falcosidekick { url }
            | Target::Slack { url }
            | Target::Alertmanager { url } => Some(url),
            _ => None,
        };
        if let Some(url) = url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "output '{}': URL '{url}' must start with http:// or https://",
                    self.name
                ));
            }
        }
        if let Target::Syslog { address, .. } = &self.target {
            if !(address.starts_with("udp://") || address.starts_with("unix://")) {
                return Err(format!(
                    "output '{}': syslog address '{address}' must be udp://HOST:PORT or unix:///PATH",
                    self.name
                ));
            }
        }
        Ok(())
    }
}
