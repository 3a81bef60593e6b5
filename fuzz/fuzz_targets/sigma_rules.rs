//! Any bytes as a Sigma rules file: loading never panics, and a rule that loads can be
//! evaluated on a JSON event without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tripline_sigma::{load, LoadOptions, LogSource, SigmaRuleset};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let docs = load(&[("fuzz.yml".into(), text.into())], LoadOptions { include_deprecated: true });
    let mut set = SigmaRuleset::new(docs);
    let ev = serde_json::json!({"a": "x", "b": [1, "y", {"c": null}], "CommandLine": "sh -c id"});
    let stream = LogSource::new(Some("process_creation"), Some("linux"), None);
    set.findings(&ev, &stream, 1, "fuzz", "host");
});
