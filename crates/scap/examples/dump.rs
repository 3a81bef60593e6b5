//! Prints every block of a capture: `cargo run -p tripline-scap --example dump -- FILE`.

use tripline_scap::{Block, Reader};

fn main() {
    let path = std::env::args().nth(1).expect("usage: dump FILE");
    let mut r = Reader::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    loop {
        match r.next_block() {
            Ok(Some(Block::Event(e))) => {
                let params: Vec<String> = (0..e.len())
                    .map(|i| {
                        let p = e.param(i).unwrap_or_default();
                        let name = tripline_scap::table::info(e.code)
                            .params
                            .get(i)
                            .copied()
                            .unwrap_or("?");
                        if p.len() <= 8 && !p.is_empty() && p.iter().any(|&b| b < 32 && b != 0) {
                            format!("{name}={:?}", p)
                        } else {
                            format!("{name}={}", String::from_utf8_lossy(p))
                        }
                    })
                    .collect();
                println!(
                    "{} {} {} {} {}",
                    e.ts_ns,
                    e.tid,
                    if e.is_enter() { ">" } else { "<" },
                    e.name(),
                    params.join(" ")
                );
            }
            Ok(Some(other)) => println!("{other:?}"),
            Ok(None) => break,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(1);
            }
        }
    }
}
