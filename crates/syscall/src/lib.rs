//! Syscall events with Falco's field names.
//!
//! Producers (the live eBPF sensor, capture readers) feed [`State`] with process lifecycle
//! inputs ([`Exec`], [`Fork`], exits) and [`Syscall`] exits. `State` keeps the process table
//! (ancestry for `proc.aname[N]`), per-process fd tables (`fd.name` of the file or socket an
//! event touches), user names and container identity, and hands each input to the rules as a
//! [`SyscallEvent`], which implements [`tripline_event::Event`] for the `syscall` source.
//!
//! ```
//! use tripline_syscall::{Kind, State, Syscall};
//!
//! let mut state = State::new(0);
//! let me = std::process::id();
//! let rec = Syscall {
//!     tid: me,
//!     pid: me,
//!     kind: Some(Kind::Openat),
//!     ret: 7,
//!     args: [(-100i64) as u64, 0, 0, 0, 0, 0],
//!     strings: [b"/etc/hostname", b"", b""],
//!     ..Syscall::default()
//! };
//! let name = state.syscall(&rec, |ev| ev.fd().map(|(_, fd)| fd.name.clone()));
//! assert_eq!(name, Some(Some("/etc/hostname".to_string())));
//! ```
#![warn(missing_docs)]

pub mod container;
pub mod event;
pub mod fd;
pub mod input;
pub mod names;
pub mod overlay;
pub mod proc_net;
pub mod process;
pub mod runtime;
pub mod state;
pub mod users;

pub use event::SyscallEvent;
pub use input::{Exec, Fork, Kind, Syscall};
pub use state::{Observed, State};
