//! Time spent per rule on a capture: `cargo run --release --example rule_cost -- RULES CAPTURE`.
use std::time::Instant;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let files = tripline::rules_files::read(&[a[1].clone()]).unwrap();
    let (rules, _) = tripline_rules::falco::load(&files, &tripline_sources::schemas());
    let mut cost = vec![(0u128, 0u64); rules.rules().len()];
    let mut reader = tripline_scap::Reader::open(&a[2]).unwrap();
    let mut replay = tripline_scap::replay::Replayer::new(false);
    let mut n = 0;
    while let Some(b) = reader.next_block().unwrap() {
        replay.block(b, &mut |ev| {
            n += 1;
            if n > 400_000 {
                return;
            }
            for (i, r) in rules.rules().iter().enumerate() {
                if r.source != "syscall" {
                    continue;
                }
                let t = Instant::now();
                let m = r.matches(ev);
                cost[i].0 += t.elapsed().as_nanos();
                cost[i].1 += m as u64;
            }
        });
    }
    let mut idx: Vec<usize> = (0..cost.len()).collect();
    idx.sort_by_key(|&i| std::cmp::Reverse(cost[i].0));
    for &i in idx.iter().take(12) {
        println!(
            "{:>8} ms {:>6} matches  {}",
            cost[i].0 / 1_000_000,
            cost[i].1,
            rules.rules()[i].name
        );
    }
}
