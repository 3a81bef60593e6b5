//! Conditions: parse → print → parse gives the same tree.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tripline_rules::condition::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(expr) = parse(text) {
        let printed = expr.to_string();
        assert_eq!(parse(&printed).expect("printed condition parses"), expr, "{printed}");
    }
});
