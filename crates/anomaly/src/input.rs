//! Observations from log files: CloudTrail and Kubernetes audit, detected per file, sorted by
//! time (CloudTrail delivers files by arrival, with events up to minutes older).

use std::path::{Path, PathBuf};

use serde_json::Value;
use tripline_sources::input::{InputError, Limits, Reader};
use tripline_sources::{JsonEvent, SourceKind};

use crate::features::{from_cloudtrail, from_k8s_audit, Observation};

/// Observations of some inputs, with what was skipped.
#[derive(Debug, Default)]
pub struct Observed {
    /// Observations, sorted by time.
    pub observations: Vec<Observation>,
    /// Records read.
    pub records: u64,
    /// Records with no entity (AWS services acting on their own, anonymous calls, other
    /// audit stages).
    pub without_entity: u64,
    /// Skipped records (first 100 reasons) and their count.
    pub skipped: Vec<String>,
    /// Count of skipped records.
    pub skipped_count: u64,
}

/// The observation of one decoded event of a source.
pub fn observe(kind: SourceKind, json: &Value, time_ns: u64) -> Option<Observation> {
    match kind {
        SourceKind::CloudTrail => from_cloudtrail(json, time_ns),
        SourceKind::K8sAudit => from_k8s_audit(json, time_ns),
        _ => None,
    }
}

/// Reads files and directories (the log files below them; `labels*` files are not inputs).
/// Each file's source is detected from its first bytes; `on_record` sees every decoded record.
pub fn read(
    paths: &[PathBuf],
    on_record: &mut dyn FnMut(&JsonEvent, Option<&Observation>),
) -> Result<Observed, InputError> {
    let mut files = Vec::new();
    for p in paths {
        let found = tripline_sources::input::input_files(p).map_err(|e| InputError::Io {
            path: p.display().to_string(),
            source: e,
        })?;
        // Label files sit beside the logs they label.
        files.extend(found.into_iter().filter(|f| {
            !f.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("labels"))
        }));
    }
    let mut out = Observed::default();
    for f in files {
        let name = f.display().to_string();
        let head = head_of(&f).map_err(|e| InputError::Io {
            path: name.clone(),
            source: e,
        })?;
        let Some(kind) = SourceKind::detect(&head)
            .filter(|k| matches!(k, SourceKind::CloudTrail | SourceKind::K8sAudit))
        else {
            out.skipped_count += 1;
            if out.skipped.len() < 100 {
                out.skipped.push(format!(
                    "{name}: not CloudTrail or Kubernetes audit; skipped"
                ));
            }
            continue;
        };
        let mut reader = Reader::new(kind, Limits::default());
        let mut skipped = Vec::new();
        reader.read_path(
            &name,
            &mut |ev| {
                out.records += 1;
                let o = observe(kind, &ev.json, ev.time_ns);
                on_record(&ev, o.as_ref());
                match o {
                    Some(o) => out.observations.push(o),
                    None => out.without_entity += 1,
                }
            },
            &mut |s| skipped.push(s.to_string()),
        )?;
        out.skipped_count += skipped.len() as u64;
        for s in skipped {
            if out.skipped.len() < 100 {
                out.skipped.push(s);
            }
        }
    }
    out.observations.sort_by_key(|o| o.time_ns);
    Ok(out)
}

/// The first bytes of a file, decompressed when gzip.
fn head_of(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut raw = Vec::new();
    std::fs::File::open(path)?
        .take(64 << 10)
        .read_to_end(&mut raw)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let _ = flate2_head(&raw, &mut out);
        return Ok(out);
    }
    Ok(raw)
}

fn flate2_head(raw: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::Read;
    let mut d = flate2::read::MultiGzDecoder::new(raw).take(16 << 10);
    // A truncated stream still yields its first bytes.
    let mut buf = [0u8; 4096];
    loop {
        match d.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) if !out.is_empty() => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
