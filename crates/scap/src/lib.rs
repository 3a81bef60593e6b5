//! Falco/sysdig capture files (`.scap`), plain or gzip.
//!
//! A capture is a sequence of pcapng-style blocks: a section header, then metadata blocks
//! (machine info, process list, fd lists, interfaces, users) and event blocks. This crate reads
//! them into plain Rust values ([`Block`]) and writes captures that sysdig and Falco read
//! ([`Writer`]). What the events *mean* (process and fd state) is `tripline-syscall`'s job.
//!
//! ```
//! use tripline_scap::{Block, Reader};
//! let mut buf = Vec::new();
//! let mut w = tripline_scap::Writer::new(&mut buf, "demo-host").unwrap();
//! w.event(1, 7, 7, 234, &[&1u64.to_le_bytes(), &2u64.to_le_bytes()]).unwrap();
//! w.finish().unwrap();
//! let mut r = Reader::new(std::io::Cursor::new(buf)).unwrap();
//! let mut events = 0;
//! while let Some(block) = r.next_block().unwrap() {
//!     if let Block::Event(e) = block {
//!         assert_eq!(e.name(), "procinfo");
//!         events += 1;
//!     }
//! }
//! assert_eq!(events, 1);
//! ```

#![warn(missing_docs)]

pub mod block;
pub mod event;
pub mod metadata;
pub mod record;
pub mod replay;
pub mod table;
pub mod writer;

pub use block::{Block, Reader, ScapError};
pub use event::Event;
pub use metadata::{FdInfo, FdKind, FdTarget, Interface, MachineInfo, ThreadInfo, UserList};
pub use writer::Writer;
