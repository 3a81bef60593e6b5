//! The block reader: section header, metadata blocks and event blocks, plain or gzip.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::event::{le_uint, Event};
use crate::metadata::{self, FdInfo, Interface, MachineInfo, ThreadInfo, UserList};
use crate::table;

/// Section header block type (also the pcapng one).
pub const SHB: u32 = 0x0A0D_0D0A;
/// Byte-order magic of a little-endian section.
pub const SHB_MAGIC: u32 = 0x1A2B_3C4D;
/// Machine info block.
pub const MI: u32 = 0x201;
/// Process list, version 9.
pub const PL_V9: u32 = 0x215;
/// Fd list, version 2.
pub const FDL_V2: u32 = 0x218;
/// Event block with `nparams` in the header.
pub const EV_V2: u32 = 0x216;
/// User list, version 2.
pub const UL_V2: u32 = 0x220;

const FDL: u32 = 0x203;
const FDL_INT: u32 = 0x8001_ABCD;
const EV: u32 = 0x204;
const EV_INT: u32 = 0x8010_ABCD;
const EVF: u32 = 0x208;
const EVF_V2: u32 = 0x217;
const EV_V2_LARGE: u32 = 0x221;
const EVF_V2_LARGE: u32 = 0x222;
const UL: u32 = 0x206;
const UL_INT: u32 = 0x8012_ABCD;
const MI_INT: u32 = 0x8002_ABCD;
const IL: u32 = 0x205;
const IL_INT: u32 = 0x8011_ABCD;
const IL_V2: u32 = 0x219;

/// Largest block accepted; bigger lengths mean a corrupt file (and would exhaust memory).
const MAX_BLOCK: u32 = 256 << 20;

/// A capture that cannot be read: where (byte offset in the decompressed stream, block type)
/// and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ScapError {
    /// The data is not what the format says.
    #[error("byte {offset}{}: {what}", block_label(*.block))]
    Corrupt {
        /// Offset of the block (or of the failing read).
        offset: u64,
        /// Block type, when known.
        block: Option<u32>,
        /// What was wrong.
        what: String,
    },
    /// Reading failed.
    #[error("byte {offset}: {source}")]
    Io {
        /// Offset of the failing read.
        offset: u64,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn block_label(block: Option<u32>) -> String {
    block
        .map(|b| format!(" (block type 0x{b:x})"))
        .unwrap_or_default()
}

/// One block of a capture.
#[derive(Debug)]
pub enum Block<'a> {
    /// A section header (every capture starts with one; merged captures have more).
    Section {
        /// Format major version.
        major: u16,
        /// Format minor version.
        minor: u16,
    },
    /// The recording machine.
    Machine(MachineInfo),
    /// Threads alive when the capture started.
    Threads(Vec<ThreadInfo>),
    /// Open fds of one thread when the capture started.
    Fds {
        /// The thread.
        tid: i64,
        /// Its fds.
        fds: Vec<FdInfo>,
    },
    /// Users and groups.
    Users(UserList),
    /// Network interface addresses.
    Interfaces(Vec<Interface>),
    /// An event.
    Event(Event<'a>),
    /// A block type Tripline does not know (a newer producer); skipped.
    Other(u32),
}

/// Reads the blocks of a capture in order.
///
/// ```no_run
/// let mut r = tripline_scap::Reader::open("capture.scap.gz").unwrap();
/// while let Some(block) = r.next_block().unwrap() {
///     if let tripline_scap::Block::Event(e) = block {
///         println!("{} {} {}", e.ts_ns, e.tid, e.name());
///     }
/// }
/// ```
pub struct Reader {
    src: Box<dyn Read>,
    /// Bytes read from `src`; `buf[pos..end]` is not consumed yet. Blocks are parsed in place.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Stream offset of `buf[pos]`.
    offset: u64,
    ranges: Vec<(u32, u32)>,
    started: bool,
    /// Events whose type code is beyond [`table::EVENT_MAX`] (a newer producer), skipped.
    pub unknown_events: u64,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("offset", &self.offset)
            .finish()
    }
}

impl Reader {
    /// Opens a capture file, plain or gzip.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<Reader> {
        let file = File::open(path)?;
        Reader::new(file).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Reads a capture from any byte stream, plain or gzip.
    pub fn new(r: impl Read + 'static) -> Result<Reader, ScapError> {
        let mut buffered = BufReader::with_capacity(1 << 16, r);
        let head = buffered
            .fill_buf()
            .map_err(|source| ScapError::Io { offset: 0, source })?;
        let src: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
            Box::new(MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        Ok(Reader {
            src,
            buf: vec![0; 1 << 20],
            pos: 0,
            end: 0,
            offset: 0,
            ranges: Vec::with_capacity(32),
            started: false,
            unknown_events: 0,
        })
    }

    /// Bytes of (decompressed) capture consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn corrupt(&self, offset: u64, block: u32, what: impl Into<String>) -> ScapError {
        ScapError::Corrupt {
            offset,
            block: Some(block),
            what: what.into(),
        }
    }

    /// Makes `n` unconsumed bytes available in `buf[pos..]`; `false` if the stream ends first.
    /// The buffer grows only as data arrives, so a corrupt length cannot make it allocate the
    /// whole claimed size.
    fn fill(&mut self, n: usize) -> Result<bool, ScapError> {
        if self.end - self.pos >= n {
            return Ok(true);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.end < n {
            if self.end == self.buf.len() {
                let grown = (self.buf.len() * 2).min(n.max(1 << 16));
                self.buf.resize(grown, 0);
            }
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(k) => self.end += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(ScapError::Io {
                        offset: self.offset + self.end as u64,
                        source,
                    })
                }
            }
        }
        Ok(true)
    }

    /// The next block, or `None` at the end of the capture.
    pub fn next_block(&mut self) -> Result<Option<Block<'_>>, ScapError> {
        loop {
            let Some((kind, at, total, start)) = self.next_raw()? else {
                return Ok(None);
            };
            if is_event_block(kind) {
                // Skip event types newer than the table, as libscap does.
                let code_at = at + 8 + 2 + if has_flags(kind) { 4 } else { 0 } + 20;
                if let Some(c) = self.buf.get(code_at..code_at + 2) {
                    if u16::from_le_bytes([c[0], c[1]]) >= table::EVENT_MAX {
                        self.unknown_events += 1;
                        continue;
                    }
                }
            }
            return self.decode(kind, at, total, start).map(Some);
        }
    }

    /// Reads and checks the framing of the next block: type, position in `buf`, length and
    /// stream offset.
    fn next_raw(&mut self) -> Result<Option<(u32, usize, usize, u64)>, ScapError> {
        {
            let start = self.offset;
            if !self.fill(8)? {
                let got = self.end - self.pos;
                if got == 0 {
                    if !self.started {
                        return Err(ScapError::Corrupt {
                            offset: 0,
                            block: None,
                            what: "empty file (expected a scap section header)".into(),
                        });
                    }
                    return Ok(None);
                }
                return Err(ScapError::Corrupt {
                    offset: start,
                    block: None,
                    what: format!("truncated block header ({got} of 8 bytes)"),
                });
            }
            let head = &self.buf[self.pos..self.pos + 8];
            let kind = u32::from_le_bytes(head[..4].try_into().expect("4"));
            let total = u32::from_le_bytes(head[4..].try_into().expect("4"));
            if !self.started && kind != SHB {
                return Err(ScapError::Corrupt {
                    offset: 0,
                    block: Some(kind),
                    what: "not a scap capture (expected section header block 0x0a0d0d0a)".into(),
                });
            }
            if !(12..=MAX_BLOCK).contains(&total) {
                return Err(self.corrupt(
                    start,
                    kind,
                    format!("block length {total} outside 12..={MAX_BLOCK}"),
                ));
            }
            let total = total as usize;
            if !self.fill(total)? {
                let got = self.end - self.pos - 8;
                return Err(self.corrupt(
                    start,
                    kind,
                    format!(
                        "truncated block: {got} of {} bytes after the header",
                        total - 8
                    ),
                ));
            }
            let at = self.pos;
            self.pos += total;
            self.offset += total as u64;
            let block = &self.buf[at..at + total];
            let trailer = u32::from_le_bytes(block[total - 4..].try_into().expect("4"));
            if trailer as usize != total {
                return Err(self.corrupt(
                    start,
                    kind,
                    format!("block trailer says {trailer} bytes, header says {total}"),
                ));
            }
            self.started = true;
            Ok(Some((kind, at, total, start)))
        }
    }

    /// Decodes a framed block.
    fn decode(
        &mut self,
        kind: u32,
        at: usize,
        total: usize,
        start: u64,
    ) -> Result<Block<'_>, ScapError> {
        {
            let fail = |what: String| ScapError::Corrupt {
                offset: start,
                block: Some(kind),
                what,
            };
            let body = &self.buf[at + 8..at + total - 4];
            Ok(match kind {
                SHB => {
                    let mut c = metadata::Cursor::new(body);
                    let magic = c.u32("byte-order magic").map_err(fail)?;
                    if magic == SHB_MAGIC.swap_bytes() {
                        return Err(fail("big-endian captures are not supported".into()));
                    }
                    if magic != SHB_MAGIC {
                        return Err(fail(format!(
                            "byte-order magic 0x{magic:08x}, expected 0x1a2b3c4d"
                        )));
                    }
                    let major = c.u16("major version").map_err(fail)?;
                    let minor = c.u16("minor version").map_err(fail)?;
                    if major > 1 {
                        return Err(fail(format!(
                            "format version {major}.{minor}; this reader knows 1.x"
                        )));
                    }
                    Block::Section { major, minor }
                }
                MI | MI_INT => Block::Machine(metadata::machine_info(body).map_err(fail)?),
                FDL | FDL_INT | FDL_V2 => {
                    let (tid, fds) = metadata::fdlist(body, kind == FDL_V2).map_err(fail)?;
                    Block::Fds { tid, fds }
                }
                IL | IL_INT | IL_V2 => {
                    Block::Interfaces(metadata::interfaces(body, kind == IL_V2).map_err(fail)?)
                }
                UL | UL_INT | UL_V2 => {
                    Block::Users(metadata::userlist(body, kind == UL_V2).map_err(fail)?)
                }
                EV | EV_INT | EV_V2 | EVF | EVF_V2 | EV_V2_LARGE | EVF_V2_LARGE => {
                    match parse_event(body, kind, &mut self.ranges).map_err(fail)? {
                        Some((cpu, flags, ts_ns, tid, code)) => Block::Event(Event {
                            cpu,
                            flags,
                            ts_ns,
                            tid,
                            code,
                            data: body,
                            ranges: &self.ranges,
                        }),
                        // Filtered out by `next_block`; kept for a block too short to peek.
                        None => Block::Other(kind),
                    }
                }
                _ => match metadata::proclist_version(kind) {
                    Some(v) => Block::Threads(metadata::proclist(body, v).map_err(fail)?),
                    None => Block::Other(kind),
                },
            })
        }
    }
}

fn is_event_block(kind: u32) -> bool {
    matches!(
        kind,
        EV | EV_INT | EV_V2 | EVF | EVF_V2 | EV_V2_LARGE | EVF_V2_LARGE
    )
}

fn has_flags(kind: u32) -> bool {
    matches!(kind, EVF | EVF_V2 | EVF_V2_LARGE)
}

/// cpu, flags, time, tid and type code of an event; its parameter ranges (offsets in the block
/// body) go to `ranges`. `None` for event types newer than the table.
type EventHead = (u16, u32, u64, u64, u16);

fn parse_event(
    body: &[u8],
    kind: u32,
    ranges: &mut Vec<(u32, u32)>,
) -> Result<Option<EventHead>, String> {
    let mut c = metadata::Cursor::new(body);
    let cpu = c.u16("cpu id")?;
    let flags = if matches!(kind, EVF | EVF_V2 | EVF_V2_LARGE) {
        c.u32("event flags")?
    } else {
        0
    };
    let hdr = c.pos;
    let ts_ns = c.u64("event time")?;
    let tid = c.u64("thread id")?;
    let len = c.u32("event length")? as usize;
    let code = c.u16("event type")?;
    let has_nparams = matches!(kind, EV_V2 | EVF_V2 | EV_V2_LARGE | EVF_V2_LARGE);
    let large = matches!(kind, EV_V2_LARGE | EVF_V2_LARGE);
    let lens_at = hdr + if has_nparams { 26 } else { 22 };
    if len < lens_at - hdr || hdr + len > body.len() {
        return Err(format!(
            "event length {len} does not fit its block ({} bytes of event data)",
            body.len() - hdr
        ));
    }
    if code >= table::EVENT_MAX {
        return Ok(None);
    }
    let end = hdr + len;
    let width = if large { 4 } else { 2 };
    let nparams = if has_nparams {
        c.u32("parameter count")? as usize
    } else {
        infer_nparams(&body[lens_at..end], width, table::info(code).params.len()).ok_or_else(
            || format!("event type {code}: parameter lengths do not add up to {len} bytes"),
        )?
    };
    let lens = body
        .get(lens_at..lens_at + nparams * width)
        .filter(|_| lens_at + nparams * width <= end)
        .ok_or_else(|| format!("event type {code}: {nparams} parameter lengths overflow it"))?;
    let data_start = lens_at + nparams * width;
    ranges.clear();
    let mut at = 0usize;
    for l in lens.chunks_exact(width) {
        let l = le_uint(l).expect("2 or 4 bytes") as usize;
        if data_start + at + l > end {
            return Err(format!(
                "event type {code}: parameter {} ({l} bytes) runs past the event",
                ranges.len()
            ));
        }
        ranges.push((at as u32, (at + l) as u32));
        at += l;
    }
    // Ranges are relative to the data start; rebase them on the block body.
    for r in ranges.iter_mut() {
        r.0 += data_start as u32;
        r.1 += data_start as u32;
    }
    Ok(Some((cpu, flags, ts_ns, tid, code)))
}

/// Old event blocks lack `nparams`: it is the largest count (up to today's, or 32 for types
/// this table does not describe) whose lengths exactly fill the event, as libscap does.
fn infer_nparams(rest: &[u8], width: usize, known: usize) -> Option<usize> {
    let fits = |top: usize| {
        (0..=top).rev().find(|&n| {
            if n * width > rest.len() {
                return false;
            }
            let sum: usize = rest[..n * width]
                .chunks_exact(width)
                .map(|l| le_uint(l).unwrap_or(0) as usize)
                .sum();
            n * width + sum == rest.len()
        })
    };
    // A table shorter than the producer's (a type this table does not describe fully) falls
    // back to the widest search.
    fits(known).or_else(|| fits(32))
}
