//! `tripline anomaly` from the command line: train, score with reasons, evaluate with a PR
//! curve, `replay --anomaly` into the store, and a corrupt baseline.

use crate::{stderr, tripline};

use serde_json::Value;

const RUN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/datasets/aws-cloudtrail-invictus-stratus-run"
);

fn files(early: bool) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(format!("{RUN}/CloudTrail"))
        .unwrap()
        .flatten()
        .map(|e| e.path().display().to_string())
        .filter(|p| {
            let stamp = p
                .rsplit('/')
                .next()
                .unwrap()
                .split('_')
                .nth(3)
                .unwrap()
                .to_string();
            (stamp.as_str() <= "20230710T1200Z") == early
        })
        .collect();
    v.sort();
    v
}

#[test]
fn train_score_replay_and_eval() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("b.db").display().to_string();
    let mut args = vec!["anomaly", "train", "-o", &baseline];
    let early = files(true);
    for f in &early {
        args.extend(["--input", f]);
    }
    let out = tripline(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Learned 603 events of 5 entities"),
        "{}",
        stderr(&out)
    );

    let late = files(false);
    let mut args = vec![
        "anomaly",
        "score",
        "--baseline",
        &baseline,
        "--threshold",
        "0.95",
        "--format",
        "json",
    ];
    for f in &late {
        args.extend(["--input", f]);
    }
    let out = tripline(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(l["score"].as_f64().unwrap() >= 0.95);
        // Every anomaly says why, with the numbers.
        assert!(
            l["parts"][0]["why"].as_str().unwrap().contains("peers:"),
            "{l}"
        );
    }

    // replay --anomaly stores anomalies as anomaly findings.
    let store = dir.path().join("s.db").display().to_string();
    let mut args = vec![
        "replay",
        "--anomaly",
        &baseline,
        "--anomaly-threshold",
        "0.95",
        "--store",
        &store,
    ];
    for f in &late {
        args.push(f);
    }
    let out = tripline(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let gate = tripline(&[
        "gate", "--store", &store, "--kind", "anomaly", "--format", "json",
    ]);
    assert_eq!(gate.status.code(), Some(3), "{}", stderr(&gate));
    let v: Value = serde_json::from_slice(&gate.stdout).unwrap();
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["rule"] == "Anomalous behaviour"));

    // eval prints its metrics and draws the curve.
    let png = dir.path().join("pr.png").display().to_string();
    let labels = format!("{RUN}/labels.jsonl");
    let mut args = vec!["anomaly", "eval", "--labels", &labels, "--curve", &png];
    for f in &early {
        args.extend(["--train", f]);
    }
    for f in &late {
        args.extend(["--test", f]);
    }
    let out = tripline(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("threshold 0.600: precision"), "{text}");
    assert!(
        text.contains("calibrated on the training part alone"),
        "{text}"
    );
    assert!(text.contains("T1580"), "{text}");
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
}

#[test]
fn a_corrupt_baseline_stops_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("b.db");
    std::fs::write(&bad, vec![7u8; 8192]).unwrap();
    let out = tripline(&[
        "anomaly",
        "score",
        "--baseline",
        bad.to_str().unwrap(),
        "--input",
        &format!("{RUN}/CloudTrail"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("{}: not a Tripline baseline", bad.display())),
        "{}",
        stderr(&out)
    );
}
