//! `tripline`: runtime-security engine. See `tripline --help`.
//!
//! Exit codes: 0 success; 1 rules failed to load or an input could not be read; 2 usage error.

mod commands;

use std::io;
use std::process::ExitCode;

use clap::Parser;

use commands::{run, Cli, Command};

/// mimalloc: documents of 100k objects are allocated and freed as millions of small maps,
/// where glibc's allocator spends more time consolidating free chunks than the work takes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in `mimalloc.h` (the same in mimalloc 2 and 3; the bindings leave
/// it out).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Large pages where the kernel allows them (transparent huge pages): a fault per 4 KiB
    // page is most of the time spent reading a 100k-object dump on a virtual machine.
    // SAFETY: sets a process-wide allocator option; no allocation is in flight.
    unsafe { libmimalloc_sys::mi_option_set(libmimalloc_sys::mi_option_large_os_pages, 1) };
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if !matches!(cli.command, Command::Run(_) | Command::Serve(_)) {
        // A one-shot command keeps the memory it frees instead of returning it to the kernel
        // after 10 ms: giving back a huge page and faulting it in again (zeroed) cost more
        // system time than the policy evaluation of 100k objects itself. The agent and the
        // server keep mimalloc's default and give memory back.
        // SAFETY: sets a process-wide allocator option; mimalloc reads it when it purges.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("tripline: {e:#}");
            ExitCode::from(1)
        }
    }
}
