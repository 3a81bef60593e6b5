//! Writing reports to stdout without dying on a closed pipe.
//!
//! `tripline drift ... | head -1` closes stdout early. `println!` would panic there; these
//! writes instead note that stdout is gone and return, so the command still stores what it
//! found and ends quietly with status 0, as ripgrep does.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `args` to stdout; a closed stdout is remembered, not an error.
pub fn write(args: std::fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CLOSED.store(true, Ordering::Relaxed);
        } else {
            eprintln!("tripline: writing to stdout: {e}");
        }
    }
}

/// Whether a reader closed stdout before the program finished writing.
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// `print!` that survives a closed stdout (see the module).
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::stdout::write(format_args!($($t)*)) };
}

/// `println!` that survives a closed stdout (see the module).
#[macro_export]
macro_rules! outln {
    () => { $crate::stdout::write(format_args!("\n")) };
    ($($t:tt)*) => { $crate::stdout::write(format_args!("{}\n", format_args!($($t)*))) };
}
