//! Any bytes as a k8s_audit input: decoding never panics, and every event's fields extract.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tripline_event::{Event, FieldArg};
use tripline_sources::input::{Limits, Reader};
use tripline_sources::SourceKind;

fuzz_target!(|data: &[u8]| {
    let kind = SourceKind::K8sAudit;
    let mut reader = Reader::new(kind, Limits { max_event_bytes: 1 << 16, max_file_bytes: 1 << 20 });
    let fields = &kind.source().schema.fields;
    let _ = reader.read_stream("fuzz", Box::new(data), &mut |ev| {
        for def in fields.defs() {
            if let Ok(f) = fields.bind(&def.name, FieldArg::None) {
                let _ = ev.extract(&f);
            }
        }
    }, &mut |_| {});
});
