//! The outputs themselves: each takes stored findings and says whether it accepted them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tripline_store::StoredFinding;

use crate::config::{Format, OutputConfig, Target};
use crate::render;

/// An output. `deliver` returns only when the findings are accepted (written and flushed, or
/// answered with a 2xx); an error leaves them in the outbox for a retry.
pub trait Sink: Send {
    /// Delivers findings in order.
    fn deliver(&mut self, findings: &[StoredFinding]) -> Result<(), String>;

    /// Whether a whole batch is accepted at once (local files, stdout). Network sinks take one
    /// finding per call, so each is marked delivered as soon as it is: a crash repeats at most
    /// the one in flight.
    fn batched(&self) -> bool {
        false
    }
}

fn body(format: Format, f: &StoredFinding) -> String {
    match format {
        Format::Falco => render::falco(f).to_string(),
        Format::Ocsf => render::ocsf(f).to_string(),
        Format::Tripline => render::tripline(f).to_string(),
        Format::Text => render::text(f),
    }
}

/// Builds the sink for an output.
pub fn build(cfg: &OutputConfig) -> Result<Box<dyn Sink>, String> {
    cfg.validate()?;
    Ok(match &cfg.target {
        Target::Stdout { format } => Box::new(Stdout { format: *format }),
        Target::File {
            path,
            format,
            max_bytes,
            keep,
        } => Box::new(RotatingFile::new(path.into(), *format, *max_bytes, *keep)),
        Target::Webhook {
            url,
            format,
            headers,
        } => {
            let format = *format;
            Box::new(Http::new(
                url.clone(),
                headers.clone().into_iter().collect(),
                move |f| body(format, f),
            ))
        }
        Target::Falcosidekick { url } => Box::new(Http::new(url.clone(), Vec::new(), |f| {
            render::falco(f).to_string()
        })),
        Target::Slack { url } => Box::new(Http::new(url.clone(), Vec::new(), |f| {
            render::slack(f).to_string()
        })),
        Target::Alertmanager { url } => {
            let endpoint = format!("{}/api/v2/alerts", url.trim_end_matches('/'));
            Box::new(Http::new(endpoint, Vec::new(), |f| {
                Value::Array(vec![render::alertmanager(f)]).to_string()
            }))
        }
        Target::Syslog { address, facility } => Box::new(Syslog::new(address, *facility)?),
    })
}

struct Stdout {
    format: Format,
}

impl Sink for Stdout {
    fn batched(&self) -> bool {
        true
    }

    fn deliver(&mut self, findings: &[StoredFinding]) -> Result<(), String> {
        let mut out = std::io::stdout().lock();
        for f in findings {
            writeln!(out, "{}", body(self.format, f)).map_err(|e| e.to_string())?;
        }
        out.flush().map_err(|e| e.to_string())
    }
}

/// JSON lines, fsynced per batch, rotated to `PATH.1` ... `PATH.keep` past `max_bytes`.
pub struct RotatingFile {
    path: PathBuf,
    format: Format,
    max_bytes: u64,
    keep: u32,
    file: Option<(File, u64)>,
}

impl RotatingFile {
    /// A file output (opened at the first delivery).
    pub fn new(path: PathBuf, format: Format, max_bytes: u64, keep: u32) -> RotatingFile {
        RotatingFile {
            path,
            format,
            max_bytes,
            keep,
            file: None,
        }
    }

    fn open(&mut self) -> std::io::Result<&mut (File, u64)> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            let len = f.metadata()?.len();
            self.file = Some((f, len));
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.file = None;
        let name = |i: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{i}"));
            PathBuf::from(p)
        };
        if self.keep == 0 {
            return std::fs::remove_file(&self.path);
        }
        for i in (1..self.keep).rev() {
            if name(i).exists() {
                std::fs::rename(name(i), name(i + 1))?;
            }
        }
        std::fs::rename(&self.path, name(1))
    }
}

impl Sink for RotatingFile {
    fn batched(&self) -> bool {
        true
    }

    fn deliver(&mut self, findings: &[StoredFinding]) -> Result<(), String> {
        let path = self.path.display().to_string();
        let err = |e: std::io::Error| format!("{path}: {e}");
        for f in findings {
            let mut line = body(self.format, f);
            line.push('\n');
            let len = self.open().map_err(err)?.1;
            if self.max_bytes > 0 && len > 0 && len + line.len() as u64 > self.max_bytes {
                self.rotate().map_err(err)?;
            }
            let (file, len) = self.open().map_err(err)?;
            file.write_all(line.as_bytes()).map_err(err)?;
            *len += line.len() as u64;
        }
        if let Some((file, _)) = self.file.as_mut() {
            file.sync_data().map_err(err)?;
        }
        Ok(())
    }
}

type Render = Box<dyn Fn(&StoredFinding) -> String + Send>;

/// One JSON POST per finding; any 2xx is accepted, anything else is retried.
struct Http {
    url: String,
    headers: Vec<(String, String)>,
    render: Render,
    agent: ureq::Agent,
}

impl Http {
    fn new(
        url: String,
        headers: Vec<(String, String)>,
        render: impl Fn(&StoredFinding) -> String + Send + 'static,
    ) -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .user_agent(concat!("tripline/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Http {
            url,
            headers,
            render: Box::new(render),
            agent,
        }
    }
}

impl Sink for Http {
    fn deliver(&mut self, findings: &[StoredFinding]) -> Result<(), String> {
        for f in findings {
            let mut req = self
                .agent
                .post(&self.url)
                .header("Content-Type", "application/json");
            for (k, v) in &self.headers {
                req = req.header(k, v);
            }
            // Errors name the URL only up to its path: webhook URLs (Slack's) are secrets.
            let shown = redact_url(&self.url);
            let resp = req
                .send((self.render)(f))
                .map_err(|e| format!("POST {shown}: {e}"))?;
            let status = resp.status().as_u16();
            if !(200..300).contains(&status) {
                return Err(format!("POST {shown}: HTTP {status}"));
            }
        }
        Ok(())
    }
}

/// `https://hooks.slack.com/services/T0/B0/XYZ` → `https://hooks.slack.com/...`.
pub fn redact_url(url: &str) -> String {
    match url.find("://") {
        Some(s) => {
            let rest = &url[s + 3..];
            let host_end = rest.find('/').unwrap_or(rest.len());
            let host = &rest[..host_end];
            let host = host.rsplit('@').next().unwrap_or(host);
            if host_end < rest.len() {
                format!("{}{host}/...", &url[..s + 3])
            } else {
                format!("{}{host}", &url[..s + 3])
            }
        }
        None => "...".into(),
    }
}

enum SyslogSocket {
    Udp(std::net::UdpSocket, String),
    Unix(std::os::unix::net::UnixDatagram, PathBuf),
}

struct Syslog {
    socket: SyslogSocket,
    facility: u8,
}

impl Syslog {
    fn new(address: &str, facility: u8) -> Result<Syslog, String> {
        let socket = if let Some(hostport) = address.strip_prefix("udp://") {
            let s = std::net::UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
            SyslogSocket::Udp(s, hostport.to_string())
        } else if let Some(path) = address.strip_prefix("unix://") {
            let s = std::os::unix::net::UnixDatagram::unbound().map_err(|e| e.to_string())?;
            SyslogSocket::Unix(s, PathBuf::from(path))
        } else {
            return Err(format!(
                "syslog address '{address}': expected udp:// or unix://"
            ));
        };
        Ok(Syslog {
            socket,
            facility: facility.min(23),
        })
    }
}

impl Sink for Syslog {
    fn deliver(&mut self, findings: &[StoredFinding]) -> Result<(), String> {
        for f in findings {
            let line = render::syslog(f, self.facility);
            match &self.socket {
                SyslogSocket::Udp(s, to) => s.send_to(line.as_bytes(), to.as_str()).map(|_| ()),
                SyslogSocket::Unix(s, path) => s.send_to(line.as_bytes(), path).map(|_| ()),
            }
            .map_err(|e| format!("syslog: {e}"))?;
        }
        Ok(())
    }
}
