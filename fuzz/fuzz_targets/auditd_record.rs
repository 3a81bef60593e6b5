//! Any bytes as an audit log line: decoding never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(r) = tripline_sources::auditd::parse_line(&text) {
        let _ = tripline_sources::auditd::serial(&r);
        let _ = tripline_sources::auditd::time_ns(&r);
    }
});
