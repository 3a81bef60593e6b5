//! Any text as a runtime contract: an error with a location, or a contract that survives a
//! YAML round trip; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tripline_drift::Contract;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = Contract::from_yaml("fuzz.yaml", text) {
        let again = Contract::from_yaml("again.yaml", &c.to_yaml()).expect("own output parses");
        assert_eq!(c, again);
    }
});
