//! Followed log files, like `tail -F`: new lines are read as they are written, across
//! rotation by rename (`logrotate`'s default) and by copy-truncate, and a restart resumes at
//! the saved position (the file's device, inode and offset) with no line read twice or lost.
//!
//! The position handed on with each batch is the offset just after its last line, or, for
//! Linux audit logs, the start of an event whose records are still arriving: what is saved
//! is always a point before which every line was evaluated.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::json;
use tripline_sources::auditd::{self, Assembler};
use tripline_sources::input::{Limits, Reader};

use crate::delivery::{AuditEvent, Counters, Delivery, Outlet, Records};
use crate::spec::Kind;

/// How a file is followed.
#[derive(Debug, Clone, Copy)]
pub struct FollowConfig {
    /// How often the file is checked for new lines and rotation.
    pub poll: Duration,
    /// Most lines per batch.
    pub max_batch_lines: usize,
    /// Longest line; longer ones are skipped and counted as rejected.
    pub max_line_bytes: usize,
}

impl Default for FollowConfig {
    fn default() -> Self {
        FollowConfig {
            poll: Duration::from_millis(200),
            max_batch_lines: 1000,
            max_line_bytes: 1 << 20,
        }
    }
}

/// Where a follower is: which file (device and inode, so a rotated file is recognised) and
/// how far into it.
///
/// ```
/// use tripline_live::follow::Position;
/// let p = Position { dev: 2049, inode: 131, offset: 4096, head_len: 1024, head_hash: 7 };
/// let text = p.to_string();
/// assert_eq!(text, r#"{"dev":2049,"head_hash":7,"head_len":1024,"inode":131,"offset":4096}"#);
/// assert_eq!(text.parse::<Position>().unwrap(), p);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Device of the file.
    pub dev: u64,
    /// Inode of the file.
    pub inode: u64,
    /// Byte offset of the first line not yet evaluated.
    pub offset: u64,
    /// How many of the file's first bytes `head_hash` covers (at most [`HEAD_BYTES`]).
    pub head_len: u64,
    /// FNV-1a hash of the file's first `head_len` bytes: a file truncated and written again
    /// (copy-truncate) keeps its inode and may regrow past the offset, but not its head.
    pub head_hash: u64,
}

/// Bytes at the start of a file that identify its content.
pub const HEAD_BYTES: usize = 1024;

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = json!({
            "dev": self.dev,
            "inode": self.inode,
            "offset": self.offset,
            "head_len": self.head_len,
            "head_hash": self.head_hash,
        });
        write!(f, "{v}")
    }
}

impl std::str::FromStr for Position {
    type Err = String;

    fn from_str(s: &str) -> Result<Position, String> {
        let v: serde_json::Value =
            serde_json::from_str(s).map_err(|e| format!("checkpoint '{s}': {e}"))?;
        let get = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| format!("checkpoint '{s}': expected an integer '{k}'"))
        };
        Ok(Position {
            dev: get("dev")?,
            inode: get("inode")?,
            offset: get("offset")?,
            head_len: get("head_len").unwrap_or(0),
            head_hash: get("head_hash").unwrap_or(0),
        })
    }
}

/// The open file and what was read of it.
struct Open {
    file: File,
    dev: u64,
    inode: u64,
    /// End of the last complete line handed on (or held in an audit event).
    offset: u64,
    /// Bytes read past `offset`: the start of a line not yet terminated.
    pending: Vec<u8>,
    /// The pending line is too long: drop bytes until its end.
    discarding: bool,
    /// The file's first bytes as read (up to [`HEAD_BYTES`]).
    head: Vec<u8>,
}

impl Open {
    /// Opens `path` at `offset`, or at its start when it is not the file `expect` describes
    /// any more (shorter than the offset, or another head: truncated and rewritten).
    fn at(path: &Path, offset: u64, expect: Option<&Position>) -> std::io::Result<Open> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let mut open = Open {
            file,
            dev: meta.dev(),
            inode: meta.ino(),
            offset: 0,
            pending: Vec::new(),
            discarding: false,
            head: Vec::new(),
        };
        let head_len = expect.map_or(0, |p| p.head_len as usize).min(HEAD_BYTES);
        let head = open.read_head(head_len)?;
        let same = meta.len() >= offset
            && expect.is_none_or(|p| head.len() == head_len && fnv1a(&head) == p.head_hash);
        if same {
            open.offset = offset;
            open.head = open.read_head(HEAD_BYTES.min(offset as usize))?;
        }
        Ok(open)
    }

    fn read_head(&self, len: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let mut got = 0;
        while got < len {
            match self.file.read_at(&mut buf[got..], got as u64)? {
                0 => break,
                n => got += n,
            }
        }
        buf.truncate(got);
        Ok(buf)
    }

    /// Whether the file no longer starts with the bytes read from it (truncated, rewritten).
    fn head_changed(&self) -> bool {
        self.read_head(self.head.len())
            .map_or(true, |now| now != self.head)
    }

    /// Keeps the first bytes of what was read at `at`.
    fn note_head(&mut self, at: u64, bytes: &[u8]) {
        let have = self.head.len() as u64;
        if have < HEAD_BYTES as u64 && at <= have && at + bytes.len() as u64 > have {
            let from = (have - at) as usize;
            let upto = (HEAD_BYTES as u64 - at).min(bytes.len() as u64) as usize;
            self.head.extend_from_slice(&bytes[from..upto]);
        }
    }

    fn position(&self, offset: u64) -> Position {
        Position {
            dev: self.dev,
            inode: self.inode,
            offset,
            head_len: self.head.len() as u64,
            head_hash: fnv1a(&self.head),
        }
    }

    fn read_from(&self) -> u64 {
        self.offset + self.pending.len() as u64
    }
}

/// Decodes lines into records of the source's kind.
enum Decoder {
    Json(Reader),
    Audit {
        assembler: Assembler,
        /// Where the event still being assembled starts.
        held_from: Option<u64>,
    },
}

/// One follower: reads new lines, decodes them, and hands them on in batches.
struct Follower {
    path: PathBuf,
    name: String,
    open: Option<Open>,
    decoder: Decoder,
    cfg: FollowConfig,
    outlet: Outlet,
    json: Vec<tripline_sources::JsonEvent>,
    audit: Vec<AuditEvent>,
    lines: usize,
}

/// Starts following `path` on a thread of its own, from `start` (a saved position) or from
/// the beginning of the file. The thread ends when `stop` is set or the agent goes away.
pub fn spawn(
    path: PathBuf,
    kind: Kind,
    start: Option<Position>,
    cfg: FollowConfig,
    outlet: Outlet,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    let decoder = match kind {
        Kind::Json(k) => Decoder::Json(Reader::new(
            k,
            Limits {
                max_event_bytes: cfg.max_line_bytes,
                ..Limits::default()
            },
        )),
        Kind::Auditd => Decoder::Audit {
            assembler: Assembler::default(),
            held_from: None,
        },
    };
    let mut f = Follower {
        name: path.display().to_string(),
        path,
        open: None,
        decoder,
        cfg,
        outlet,
        json: Vec::new(),
        audit: Vec::new(),
        lines: 0,
    };
    std::thread::Builder::new()
        .name("tripline-follow".into())
        .spawn(move || {
            f.resume(start);
            while !stop.load(Ordering::Relaxed) {
                if !f.poll() {
                    return;
                }
                std::thread::sleep(f.cfg.poll);
            }
            // Stopping: an audit event still held is complete as far as anyone will know.
            f.flush_held();
            f.deliver();
        })
}

impl Follower {
    /// Opens the file at the saved position. When the file there now is another one (it was
    /// rotated while the agent was down), the rotated file is looked up beside it by its
    /// inode and read to its end first.
    fn resume(&mut self, start: Option<Position>) {
        let Some(p) = start else {
            self.open = Open::at(&self.path, 0, None).ok();
            return;
        };
        let same =
            std::fs::metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == (p.dev, p.inode));
        if same {
            self.open = Open::at(&self.path, p.offset, Some(&p)).ok();
            return;
        }
        match rotated_copy(&self.path, p.dev, p.inode) {
            Some(old) => self.open = Open::at(&old, p.offset, Some(&p)).ok(),
            None => {
                self.outlet.counters.error(format!(
                    "{}: the file read before the restart (inode {}) is gone; reading the current file from its start",
                    self.name, p.inode
                ));
                self.open = Open::at(&self.path, 0, None).ok();
            }
        }
    }

    /// Reads what is new, follows rotation; `false` once the agent is gone.
    fn poll(&mut self) -> bool {
        loop {
            if self.open.is_none() {
                match Open::at(&self.path, 0, None) {
                    Ok(o) => self.open = Some(o),
                    // Not there (yet, or between rename and create): try at the next poll.
                    Err(_) => return true,
                }
            }
            let read = match self.read_available() {
                Ok(r) => r,
                Err(e) => {
                    self.outlet
                        .counters
                        .error(format!("{}: read: {e}", self.name));
                    0
                }
            };
            if !self.deliver() {
                return false;
            }
            if read > 0 {
                continue;
            }
            // At the end of the open file: has it been rotated or truncated?
            let Some(open) = &self.open else {
                return true;
            };
            match std::fs::metadata(&self.path) {
                Ok(m) if (m.dev(), m.ino()) != (open.dev, open.inode) => {
                    // Renamed away and replaced: the old file was read to its end just now;
                    // a last line without a newline still counts.
                    self.take_unterminated();
                    self.flush_held();
                    if !self.deliver() {
                        return false;
                    }
                    self.open = None;
                    continue;
                }
                Ok(m) if m.len() < open.read_from() || open.head_changed() => {
                    // Copy-truncate: the same file starts over.
                    self.flush_held();
                    if !self.deliver() {
                        return false;
                    }
                    if let Some(o) = &mut self.open {
                        o.offset = 0;
                        o.pending.clear();
                        o.discarding = false;
                        o.head.clear();
                    }
                    continue;
                }
                _ => {
                    // Idle: an audit event whose records stopped arriving is complete.
                    if self.flush_held() && !self.deliver() {
                        return false;
                    }
                    return true;
                }
            }
        }
    }

    /// Reads up to a batch of lines from the open file; returns the bytes read.
    fn read_available(&mut self) -> std::io::Result<usize> {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0;
        while self.lines < self.cfg.max_batch_lines {
            let Some(open) = self.open.as_mut() else {
                break;
            };
            let at = open.read_from();
            let n = open.file.read_at(&mut buf, at)?;
            if n == 0 {
                break;
            }
            open.note_head(at, &buf[..n]);
            total += n;
            let mut chunk = &buf[..n];
            while let Some(nl) = memchr(chunk) {
                let open = self.open.as_mut().expect("open");
                let start = open.offset;
                let end = open.read_from() + nl as u64 + 1;
                let mut line = std::mem::take(&mut open.pending);
                let discarded = std::mem::replace(&mut open.discarding, false);
                line.extend_from_slice(&chunk[..nl]);
                open.offset = end;
                chunk = &chunk[nl + 1..];
                if discarded || line.len() > self.cfg.max_line_bytes {
                    Counters::bump(&self.outlet.counters.rejected);
                    self.outlet.counters.error(format!(
                        "{} at byte {start}: line longer than {} bytes, skipped",
                        self.name, self.cfg.max_line_bytes
                    ));
                } else {
                    self.line(&line, start);
                }
            }
            let open = self.open.as_mut().expect("open");
            if open.discarding {
                open.offset += chunk.len() as u64;
            } else {
                open.pending.extend_from_slice(chunk);
                if open.pending.len() > self.cfg.max_line_bytes {
                    // Keep the position, forget the bytes: the line is skipped at its end.
                    open.offset += open.pending.len() as u64;
                    open.pending.clear();
                    open.discarding = true;
                }
            }
        }
        Ok(total)
    }

    /// A last line without a newline, in a file that will not grow any more.
    fn take_unterminated(&mut self) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        if open.pending.is_empty() || open.discarding {
            return;
        }
        let line = std::mem::take(&mut open.pending);
        let start = open.offset;
        open.offset += line.len() as u64;
        self.line(&line, start);
    }

    /// Decodes one line that starts at byte `start` of the file.
    fn line(&mut self, line: &[u8], start: u64) {
        self.lines += 1;
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let name = &self.name;
        let counters = &self.outlet.counters;
        match &mut self.decoder {
            Decoder::Json(reader) => {
                let value = match serde_json::from_str(text) {
                    Ok(v) => v,
                    Err(e) => {
                        Counters::bump(&counters.rejected);
                        counters.error(format!("{name} at byte {start}: invalid JSON: {e}"));
                        return;
                    }
                };
                let json = &mut self.json;
                reader.dispatch(value, name, 0, &mut |ev| json.push(ev), &mut |skip| {
                    Counters::bump(&counters.rejected);
                    counters.error(format!("{name} at byte {start}: {}", skip.reason));
                });
            }
            Decoder::Audit {
                assembler,
                held_from,
            } => {
                let Some(record) = auditd::parse_line(text) else {
                    Counters::bump(&counters.rejected);
                    counters.error(format!(
                        "{name} at byte {start}: not an audit record (expected 'type=T msg=audit(...)')"
                    ));
                    return;
                };
                let was_empty = assembler.is_empty();
                let done = assembler.push(record);
                let started_new = done.is_some() || was_empty;
                if let Some(ev) = done {
                    self.audit.push(ev);
                }
                *held_from = match (assembler.is_empty(), started_new) {
                    (true, _) => None,
                    (false, true) => Some(start),
                    (false, false) => *held_from,
                };
            }
        }
    }

    /// Hands an audit event still being assembled on; whether there was one.
    fn flush_held(&mut self) -> bool {
        if let Decoder::Audit {
            assembler,
            held_from,
        } = &mut self.decoder
        {
            *held_from = None;
            if let Some(ev) = assembler.finish() {
                self.audit.push(ev);
                return true;
            }
        }
        false
    }

    /// Hands the decoded records on with the position after them; `false` once the agent is
    /// gone.
    fn deliver(&mut self) -> bool {
        let Some(open) = &self.open else {
            return true;
        };
        let held = match &self.decoder {
            Decoder::Audit { held_from, .. } => *held_from,
            Decoder::Json(_) => None,
        };
        let position = open.position(held.unwrap_or(open.offset));
        let records = match &self.decoder {
            Decoder::Json(_) => Records::Json(std::mem::take(&mut self.json)),
            Decoder::Audit { .. } => Records::Audit(std::mem::take(&mut self.audit)),
        };
        if self.lines == 0 && records.is_empty() {
            return true;
        }
        self.lines = 0;
        self.outlet.deliver(Delivery {
            records,
            checkpoint: Some(position.to_string()),
            marks: Vec::new(),
            done: None,
            received_ns: crate::now_ns(),
        })
    }
}

fn memchr(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// A file beside `path` with this device and inode: where logrotate renamed it to.
fn rotated_copy(path: &Path, dev: u64, inode: u64) -> Option<PathBuf> {
    let dir = path.parent()?;
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| std::fs::symlink_metadata(p).is_ok_and(|m| (m.dev(), m.ino()) == (dev, inode)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUDIT: &str = "type=SYSCALL msg=audit(1700000000.100:7): arch=c000003e syscall=59 success=yes exe=\"/usr/bin/id\" comm=\"id\" uid=0 auid=1000\ntype=EXECVE msg=audit(1700000000.100:7): argc=1 a0=\"id\"\ntype=EOE msg=audit(1700000000.100:7):\ntype=SYSCALL msg=audit(1700000001.200:8): arch=c000003e syscall=2 success=yes exe=\"/usr/bin/cat\" comm=\"cat\" uid=0 auid=1000\n";

    fn follow(path: &Path, start: Option<Position>) -> (Vec<Delivery>, Arc<AtomicBool>) {
        let (outlet, rx) = Outlet::bounded(16);
        let stop = Arc::new(AtomicBool::new(false));
        let cfg = FollowConfig {
            poll: Duration::from_millis(10),
            ..FollowConfig::default()
        };
        let h = spawn(path.into(), Kind::Auditd, start, cfg, outlet, stop.clone()).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        stop.store(true, Ordering::Relaxed);
        h.join().unwrap();
        (rx.try_iter().collect(), stop)
    }

    #[test]
    fn audit_events_are_assembled_and_the_position_resumes_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::fs::write(&path, AUDIT).unwrap();
        let (got, _) = follow(&path, None);
        let events: Vec<&AuditEvent> = got
            .iter()
            .flat_map(|d| match &d.records {
                Records::Audit(evs) => evs.iter().collect::<Vec<_>>(),
                Records::Json(_) => Vec::new(),
            })
            .collect();
        // EOE closes the first event; the lone record is an event once the file is idle.
        assert_eq!(events.iter().map(|e| e.len()).collect::<Vec<_>>(), [2, 1]);
        let last: Position = got
            .last()
            .unwrap()
            .checkpoint
            .as_ref()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(last.offset, AUDIT.len() as u64);
        // Resuming there reads only what is appended afterwards.
        let more = "type=SYSCALL msg=audit(1700000002.300:9): arch=c000003e syscall=2 success=yes exe=\"/usr/bin/ls\" comm=\"ls\" uid=0 auid=1000\n";
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut f, more.as_bytes()).unwrap();
        let (got, _) = follow(&path, Some(last));
        let n: usize = got.iter().map(|d| d.records.len()).sum();
        assert_eq!(n, 1);
        // A saved position whose head no longer matches (rewritten file) starts over.
        let wrong = Position {
            head_hash: last.head_hash ^ 1,
            ..last
        };
        let (got, _) = follow(&path, Some(wrong));
        let n: usize = got.iter().map(|d| d.records.len()).sum();
        assert_eq!(n, 4, "every record again but EOE");
    }
}
