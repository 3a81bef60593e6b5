//! Anomaly scoring throughput on the CloudTrail benchmark files, with every feature on,
//! against serde_json parsing the same files alone, one core each; and memory per 10,000
//! entities of a baseline.
//!
//!   anomaly-bench CLOUDTRAIL_DIR   (bench/out/cloudtrail, written by `bash bench/run.sh`)

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;
use tripline_anomaly::features::from_cloudtrail;
use tripline_anomaly::{Baseline, Scorer};
use tripline_sources::input::{Limits, Reader};
use tripline_sources::SourceKind;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("CloudTrail dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Reads every record through the CloudTrail reader, calling `f` with it.
fn each(files: &[PathBuf], f: &mut dyn FnMut(&Value, u64)) -> u64 {
    let mut reader = Reader::new(SourceKind::CloudTrail, Limits::default());
    let mut n = 0;
    for p in files {
        reader
            .read_path(
                &p.display().to_string(),
                &mut |ev| {
                    n += 1;
                    f(&ev.json, ev.time_ns);
                },
                &mut |_| {},
            )
            .expect("readable");
    }
    n
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "bench/out/cloudtrail".into()),
    );
    let files = files(&dir);

    let t = Instant::now();
    let mut parsed = 0u64;
    for f in &files {
        let v: Value = serde_json::from_slice(&std::fs::read(f).expect("readable")).expect("JSON");
        parsed += v["Records"].as_array().map_or(0, |a| a.len() as u64);
    }
    let parse_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut b = Baseline::default();
    let half = files.len() / 2;
    let learned = each(&files[..half], &mut |json, time| {
        if let Some(o) = from_cloudtrail(json, time) {
            b.learn(&o);
        }
    });
    let learn_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut scorer = Scorer::new(&b);
    let mut over = 0u64;
    let scored = each(&files[half..], &mut |json, time| {
        if let Some(o) = from_cloudtrail(json, time) {
            over += (scorer.score(&o).total >= 0.6) as u64;
        }
    });
    let score_s = t.elapsed().as_secs_f64();
    assert_eq!(learned + scored, parsed);

    // Memory: 10,000 entities, each with 40 APIs, 3 networks, 2 user agents, 2 regions.
    let before = rss_mib();
    let mut big = Baseline::default();
    for e in 0..10_000u64 {
        for i in 0..60u64 {
            let rec = serde_json::json!({"eventSource": format!("svc{}.amazonaws.com", i % 8),
                "eventName": format!("Action{}", (e + i) % 40), "awsRegion": format!("us-east-{}", i % 2 + 1),
                "sourceIPAddress": format!("10.{}.{}.7", e % 200, i % 3), "userAgent": format!("tool{}/1.0", i % 2),
                "userIdentity": {"type": "AssumedRole", "arn": "x",
                    "sessionContext": {"sessionIssuer": {"arn": format!("arn:aws:iam::1:role/r{e}")}}}});
            big.learn(
                &from_cloudtrail(&rec, 1_700_000_000_000_000_000 + i * 60_000_000_000).unwrap(),
            );
        }
    }
    let per_10k = rss_mib() - before;

    let rate = |n: u64, s: f64| n as f64 / s;
    println!(
        "anomaly scoring on {parsed} CloudTrail records ({} files), one core:",
        files.len()
    );
    println!(
        "  parse-only (serde_json)     {:>9.0} records/s",
        rate(parsed, parse_s)
    );
    println!(
        "  learn the first half (read + features)  {:>9.0} records/s",
        rate(learned, learn_s)
    );
    println!(
        "  score the second half (read + features + all scores)  {:>9.0} records/s  = {:.2} of parse-only (target >= 0.30); {over} at >= 0.6",
        rate(scored, score_s),
        rate(scored, score_s) / rate(parsed, parse_s)
    );
    println!(
        "  baseline of {} entities: {} events learned",
        b.entities.len(),
        b.events
    );
    println!("  memory: {per_10k:.0} MiB per 10,000 entities (60 events, ~50 feature values each)");
}
