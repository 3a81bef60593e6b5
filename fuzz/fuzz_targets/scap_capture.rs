//! Any bytes as a capture: the reader and the state rebuild must return errors, never panic
//! or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tripline_scap::replay::Replayer;
use tripline_scap::Reader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = Reader::new(std::io::Cursor::new(data.to_vec())) else {
        return;
    };
    let mut replay = Replayer::new(true);
    while let Ok(Some(block)) = reader.next_block() {
        replay.block(block, &mut |ev| {
            let _ = ev.process();
        });
    }
});
