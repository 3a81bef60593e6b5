//! Reading inputs: files, directory trees and stdin; plain or gzip; framed per source.
//!
//! Bad records never stop a run: each is reported as a [`Skip`] with file, line and reason.
//! Memory is bounded: a record larger than [`Limits::max_event_bytes`] is skipped without being
//! held in memory, and whole-file formats (CloudTrail `Records` files) are capped.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use serde_json::Value as Json;

use crate::json_event::{parse_time, JsonEvent, JsonSource};
use crate::{cloudtrail, k8s_audit, okta, SourceKind};

/// Size limits for decoding.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest single record (one JSON value), in bytes.
    pub max_event_bytes: usize,
    /// Largest file read whole (CloudTrail `Records` files), after decompression.
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_bytes: 16 << 20,
            max_file_bytes: 1 << 30,
        }
    }
}

/// A record that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// Input name.
    pub file: String,
    /// 1-based line where the record starts.
    pub line: usize,
    /// Reason.
    pub reason: String,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// An input that could not be read further (events before the error were delivered).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file or directory could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// Input.
        path: String,
        /// Cause.
        source: io::Error,
    },
    /// A gzip stream ended early or is corrupt.
    #[error(
        "{path}: gzip stream is truncated or corrupt after {offset} decompressed bytes: {source}"
    )]
    Gzip {
        /// Input.
        path: String,
        /// Decompressed bytes read before the error.
        offset: u64,
        /// Cause.
        source: io::Error,
    },
    /// A whole-file input is larger than the limit.
    #[error("{path}: file is larger than the {limit}-byte limit for CloudTrail files")]
    TooLarge {
        /// Input.
        path: String,
        /// The limit.
        limit: u64,
    },
}

/// Decodes inputs of one source into events.
pub struct Reader {
    kind: SourceKind,
    limits: Limits,
    num: u64,
    /// Okta MFA windows (`okta.mfa.*.countlast`), kept across inputs of one replay.
    mfa: okta::MfaWindows,
}

/// Byte counter over a reader, to report where a gzip stream broke.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

impl Reader {
    /// A reader for `kind`.
    pub fn new(kind: SourceKind, limits: Limits) -> Reader {
        Reader {
            kind,
            limits,
            num: 0,
            mfa: okta::MfaWindows::default(),
        }
    }

    /// Reads a file, a directory tree (sorted, `*.json`, `*.json.gz`, `*.jsonl`, `*.log`, `*.gz`)
    /// or stdin (`-`).
    pub fn read_path(
        &mut self,
        path: &str,
        on_event: &mut dyn FnMut(JsonEvent),
        on_skip: &mut dyn FnMut(Skip),
    ) -> Result<(), InputError> {
        if path == "-" {
            let stdin = io::stdin();
            return self.read_stream("<stdin>", Box::new(stdin.lock()), on_event, on_skip);
        }
        let p = Path::new(path);
        if p.is_dir() {
            let mut files = Vec::new();
            walk(p, &mut files).map_err(|e| InputError::Io {
                path: path.to_string(),
                source: e,
            })?;
            files.sort();
            for f in files {
                let name = f.display().to_string();
                let file = File::open(&f).map_err(|e| InputError::Io {
                    path: name.clone(),
                    source: e,
                })?;
                self.read_stream(&name, Box::new(file), on_event, on_skip)?;
            }
            return Ok(());
        }
        let file = File::open(p).map_err(|e| InputError::Io {
            path: path.to_string(),
            source: e,
        })?;
        self.read_stream(path, Box::new(file), on_event, on_skip)
    }

    /// Reads one stream (gzip is detected by its magic bytes).
    pub fn read_stream(
        &mut self,
        name: &str,
        raw: Box<dyn Read + '_>,
        on_event: &mut dyn FnMut(JsonEvent),
        on_skip: &mut dyn FnMut(Skip),
    ) -> Result<(), InputError> {
        let mut buffered = BufReader::with_capacity(1 << 16, raw);
        let head = buffered.fill_buf().map_err(|e| InputError::Io {
            path: name.to_string(),
            source: e,
        })?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let mut counted;
        let reader: Box<dyn BufRead + '_> = if gzip {
            counted = Counted {
                inner: MultiGzDecoder::new(buffered),
                count: 0,
            };
            Box::new(BufReader::with_capacity(1 << 16, &mut counted))
        } else {
            Box::new(buffered)
        };
        let result = match self.kind {
            SourceKind::CloudTrail => self.read_cloudtrail(name, reader, on_event, on_skip),
            _ => self.read_values(name, reader, on_event, on_skip),
        };
        result.map_err(|e| {
            if gzip {
                InputError::Gzip {
                    path: name.to_string(),
                    offset: 0,
                    source: e,
                }
            } else {
                InputError::Io {
                    path: name.to_string(),
                    source: e,
                }
            }
        })
    }

    fn source(&self) -> &'static JsonSource {
        self.kind.source()
    }

    fn emit(&mut self, json: Json, time: u64, on_event: &mut dyn FnMut(JsonEvent)) {
        self.num += 1;
        let window = match self.kind {
            SourceKind::Okta => self.mfa.observe(&json, time),
            _ => None,
        };
        let mut ev = JsonEvent::new(self.source(), json, time, self.num);
        ev.window = window;
        on_event(ev);
    }

    /// Turns one parsed JSON value into events (or skips): one line of a followed file, one
    /// webhook body. `file` and `line` only name the place in skips.
    pub fn dispatch(
        &mut self,
        value: Json,
        file: &str,
        line: usize,
        on_event: &mut dyn FnMut(JsonEvent),
        on_skip: &mut dyn FnMut(Skip),
    ) {
        let skip = |reason: String| Skip {
            file: file.to_string(),
            line,
            reason,
        };
        match self.kind {
            SourceKind::K8sAudit => {
                let mut parts = Vec::new();
                k8s_audit::split(value, &mut parts);
                for p in parts {
                    match p {
                        Ok((json, t)) => self.emit(json, t, on_event),
                        Err(r) => on_skip(skip(r.to_string())),
                    }
                }
            }
            SourceKind::CloudTrail => {
                let records = match value {
                    Json::Array(items) => items,
                    Json::Object(mut map) if map.contains_key("Records") => {
                        match map.remove("Records") {
                            Some(Json::Array(items)) => items,
                            _ => {
                                on_skip(skip("'Records' is not an array".into()));
                                return;
                            }
                        }
                    }
                    other => vec![other],
                };
                for r in records {
                    match cloudtrail::accept(&r) {
                        Ok(t) => self.emit(r, t, on_event),
                        Err(e) => on_skip(skip(e.to_string())),
                    }
                }
            }
            kind => {
                let items = match value {
                    Json::Array(items) => items,
                    other => vec![other],
                };
                let time_key = match kind {
                    SourceKind::Okta => "published",
                    SourceKind::GcpAudit => "timestamp",
                    _ => "time",
                };
                for item in items {
                    if !item.is_object() {
                        on_skip(skip(format!(
                            "data not recognized as a {} event",
                            self.source().schema.name
                        )));
                        continue;
                    }
                    let time = item
                        .get(time_key)
                        .and_then(Json::as_str)
                        .and_then(parse_time);
                    let time = match (time, kind) {
                        (Some(t), _) => t,
                        // Webhook payloads carry no time of their own: use the reading time.
                        (None, SourceKind::Github) => now_ns(),
                        (None, _) => {
                            on_skip(skip(format!("can't read {time_key}")));
                            continue;
                        }
                    };
                    self.emit(item, time, on_event);
                }
            }
        }
    }

    /// JSON values, one per line, or pretty-printed across lines.
    fn read_values(
        &mut self,
        name: &str,
        mut reader: Box<dyn BufRead + '_>,
        on_event: &mut dyn FnMut(JsonEvent),
        on_skip: &mut dyn FnMut(Skip),
    ) -> io::Result<()> {
        let mut line_no = 0usize;
        let mut pending: Vec<u8> = Vec::new();
        let mut pending_start = 0usize;
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = read_line_capped(&mut reader, &mut line, self.limits.max_event_bytes)?;
            let eof = matches!(read, Line::Eof);
            if let Line::TooLong(n) = read {
                line_no += 1;
                on_skip(Skip {
                    file: name.to_string(),
                    line: line_no,
                    reason: format!(
                        "record of {n} bytes exceeds the {}-byte limit",
                        self.limits.max_event_bytes
                    ),
                });
                pending.clear();
                continue;
            }
            if !eof {
                line_no += 1;
            }
            if pending.is_empty() {
                let trimmed = trim(&line);
                if trimmed.is_empty() {
                    if eof {
                        return Ok(());
                    }
                    continue;
                }
                match serde_json::from_slice::<Json>(trimmed) {
                    Ok(v) => {
                        self.dispatch(v, name, line_no, on_event, on_skip);
                    }
                    Err(e) if e.is_eof() && !eof => {
                        // A value spread over several lines: gather until it parses.
                        pending_start = line_no;
                        pending.extend_from_slice(&line);
                    }
                    Err(e) => on_skip(Skip {
                        file: name.to_string(),
                        line: line_no,
                        reason: format!("invalid JSON: {e}"),
                    }),
                }
            } else {
                pending.extend_from_slice(&line);
                match serde_json::from_slice::<Json>(trim(&pending)) {
                    Ok(v) => {
                        pending.clear();
                        self.dispatch(v, name, pending_start, on_event, on_skip);
                    }
                    Err(e)
                        if e.is_eof() && !eof && pending.len() <= self.limits.max_event_bytes => {}
                    Err(e) => {
                        pending.clear();
                        on_skip(Skip {
                            file: name.to_string(),
                            line: pending_start,
                            reason: format!("invalid JSON: {e}"),
                        });
                    }
                }
            }
            if eof {
                return Ok(());
            }
        }
    }

    /// A CloudTrail log file: `{"Records":[...]}` split record by record (a bad record is
    /// skipped, the rest of the file still counts), or JSON values per line.
    fn read_cloudtrail(
        &mut self,
        name: &str,
        reader: Box<dyn BufRead + '_>,
        on_event: &mut dyn FnMut(JsonEvent),
        on_skip: &mut dyn FnMut(Skip),
    ) -> io::Result<()> {
        let mut data = Vec::new();
        let mut limited = reader.take(self.limits.max_file_bytes + 1);
        limited.read_to_end(&mut data)?;
        if data.len() as u64 > self.limits.max_file_bytes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "file is larger than the {}-byte limit",
                    self.limits.max_file_bytes
                ),
            ));
        }
        let Some(records_at) = records_array(&data) else {
            let cursor = io::Cursor::new(data);
            return self.read_values(name, Box::new(cursor), on_event, on_skip);
        };
        let mut line = 1 + data[..records_at].iter().filter(|&&b| b == b'\n').count();
        let mut counted_to = records_at;
        for (start, end) in split_objects(&data[records_at..]) {
            let (start, end) = (records_at + start, records_at + end);
            line += data[counted_to..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            counted_to = start;
            match serde_json::from_slice::<Json>(&data[start..end]) {
                Ok(r) => match cloudtrail::accept(&r) {
                    Ok(t) => self.emit(r, t, on_event),
                    Err(e) => on_skip(Skip {
                        file: name.to_string(),
                        line,
                        reason: e.to_string(),
                    }),
                },
                Err(e) => on_skip(Skip {
                    file: name.to_string(),
                    line,
                    reason: format!("invalid JSON: {e}"),
                }),
            }
        }
        Ok(())
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

enum Line {
    Data,
    Eof,
    TooLong(usize),
}

/// Reads through the next `\n`, keeping at most `cap` bytes; longer lines are consumed and
/// reported by length only.
fn read_line_capped(r: &mut dyn BufRead, out: &mut Vec<u8>, cap: usize) -> io::Result<Line> {
    let mut total = 0usize;
    let mut too_long = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(if too_long {
                Line::TooLong(total)
            } else if total == 0 {
                Line::Eof
            } else {
                Line::Data
            });
        }
        let (chunk, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let n = chunk.len();
        total += n;
        if !too_long {
            if out.len() + n > cap {
                too_long = true;
                out.clear();
            } else {
                out.extend_from_slice(chunk);
            }
        }
        r.consume(n);
        if done {
            return Ok(if too_long {
                Line::TooLong(total)
            } else {
                Line::Data
            });
        }
    }
}

/// Offset just inside the `[` of a top-level `"Records"` array, if the data is such a file.
fn records_array(data: &[u8]) -> Option<usize> {
    let t = trim(data);
    if !t.starts_with(b"{") {
        return None;
    }
    let at = memchr::memmem::find(&data[..data.len().min(4096)], b"\"Records\"")?;
    let after = at + 9;
    let colon = after + data[after..].iter().position(|&b| b == b':')?;
    let open = colon
        + 1
        + data[colon + 1..]
            .iter()
            .position(|b| !b.is_ascii_whitespace())?;
    (data[open] == b'[').then_some(open + 1)
}

/// Byte ranges of the objects at depth 1 of an array body (strings and escapes respected).
fn split_objects(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut esc, mut start) = (0usize, false, false, 0usize);
    for (i, &b) in data.iter().enumerate() {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                if depth == 0 && b == b'{' {
                    start = i;
                }
                depth += 1;
            }
            b'}' | b']' => {
                if depth == 0 {
                    break; // end of the Records array
                }
                depth -= 1;
                if depth == 0 && b == b'}' {
                    out.push((start, i + 1));
                }
            }
            _ => {}
        }
    }
    out
}

/// The files an input path names: the file itself, or the log files below a directory
/// (`*.json`, `*.json.gz`, `*.jsonl`, `*.log`, `*.gz`), sorted. A missing path is an error.
pub fn input_files(path: &Path) -> io::Result<Vec<PathBuf>> {
    if path.is_dir() {
        let mut out = Vec::new();
        walk(path, &mut out)?;
        out.sort();
        Ok(out)
    } else if path.exists() {
        Ok(vec![path.to_path_buf()])
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no such file or directory",
        ))
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if [".json", ".json.gz", ".jsonl", ".log", ".gz"]
                .iter()
                .any(|ext| name.ends_with(ext))
            {
                out.push(path);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_records_respecting_strings() {
        let data = br#"{"Records": [{"a": "}{"}, {"b": [1, {"c": 2}]}]}"#;
        let at = records_array(data).unwrap();
        let objs = split_objects(&data[at..]);
        assert_eq!(objs.len(), 2);
        let (s, e) = objs[0];
        assert_eq!(&data[at + s..at + e], br#"{"a": "}{"}"#);
    }

    #[test]
    fn long_lines_are_consumed_not_kept() {
        let text = format!("{}\nnext\n", "x".repeat(100));
        let mut r = io::Cursor::new(text.into_bytes());
        let mut out = Vec::new();
        assert!(matches!(
            read_line_capped(&mut r, &mut out, 10).unwrap(),
            Line::TooLong(101)
        ));
        out.clear();
        assert!(matches!(
            read_line_capped(&mut r, &mut out, 10).unwrap(),
            Line::Data
        ));
        assert_eq!(out, b"next\n");
    }
}
