//! Any bytes as a rules file: loading never panics, and a load that succeeds is repeatable.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tripline_rules::falco::{load, RulesFile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = RulesFile { name: "fuzz.yaml".into(), content: text.into() };
    let sources = tripline_sources::schemas();
    let (a, ra) = load(std::slice::from_ref(&file), &sources);
    let (b, rb) = load(&[file], &sources);
    assert_eq!(ra.errors.len(), rb.errors.len());
    assert_eq!(a.rules().len(), b.rules().len());
});
