//! Measured quality on the Invictus Stratus run, and baselines that survive a restart.
//!
//! Protocol (also in the README): train on the CloudTrail files delivered up to 12:00Z,
//! leaving out records labelled `malicious`; test on every record delivered 12:05Z-12:15Z.
//! Positives are `malicious`; every other label is a negative. The test asserts the
//! published figures: quality may improve, never silently regress.

use std::path::PathBuf;

use tripline_anomaly::eval::{evaluate, metrics};
use tripline_anomaly::{input, Baseline, BaselineError, Scorer};

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/datasets/aws-cloudtrail-invictus-stratus-run")
}

fn split() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let dir = data().join("CloudTrail");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let stamp = |p: &PathBuf| {
        p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .split('_')
            .nth(3)
            .unwrap()
            .to_string()
    };
    let train = files
        .iter()
        .filter(|p| stamp(p).as_str() <= "20230710T1200Z")
        .cloned()
        .collect();
    let test = files
        .iter()
        .filter(|p| stamp(p).as_str() > "20230710T1200Z")
        .cloned()
        .collect();
    (train, test)
}

#[test]
fn invictus_quality_stays_at_or_above_the_published_figures() {
    let (train, test) = split();
    let e = evaluate(&train, &test, &data().join("labels.jsonl")).unwrap();
    assert_eq!(e.excluded_malicious, 91);
    assert_eq!(e.labelled.len(), 1485);
    assert_eq!(e.labelled.iter().filter(|l| l.positive()).count(), 52);

    // Published in README.md ("Anomaly detection").
    let fixed = metrics(&e.labelled, 0.6);
    assert!(fixed.recall >= 0.71, "recall {:.3}", fixed.recall);
    assert!(
        fixed.false_positive_rate <= 0.679,
        "FPR {:.3}",
        fixed.false_positive_rate
    );
    assert!(
        fixed.average_precision >= 0.44,
        "AP {:.3}",
        fixed.average_precision
    );

    let t = e
        .calibrated_threshold
        .expect("enough training events to calibrate");
    let cal = metrics(&e.labelled, t);
    assert!(cal.recall >= 0.42, "recall {:.3} at {t}", cal.recall);
    assert!(
        cal.false_positive_rate <= 0.023,
        "FPR {:.3} at {t}",
        cal.false_positive_rate
    );
    assert!(
        cal.precision >= 0.40,
        "precision {:.3} at {t}",
        cal.precision
    );
}

#[test]
fn a_saved_baseline_scores_the_same_after_a_restart() {
    let (train, test) = split();
    let mut b = Baseline::default();
    input::read(&train, &mut |_, o| {
        if let Some(o) = o {
            b.learn(o);
        }
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baseline.db");
    b.save(&path).unwrap();
    let loaded = Baseline::load(&path).unwrap();
    assert_eq!(loaded.events, b.events);
    assert_eq!(loaded.entities.len(), b.entities.len());
    for (name, e) in &b.entities {
        assert_eq!(&loaded.entities[name], e, "{name}");
    }
    let observed = input::read(&test, &mut |_, _| {}).unwrap();
    let (mut before, mut after) = (Scorer::new(&b), Scorer::new(&loaded));
    for o in &observed.observations {
        assert_eq!(before.score(o), after.score(o), "{}", o.summary);
    }
    // Saving again over the file replaces it whole.
    loaded.save(&path).unwrap();
    assert_eq!(Baseline::load(&path).unwrap().events, b.events);
}

#[test]
fn a_corrupt_baseline_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(
        &junk,
        b"this is not a database, it is a text file long enough to look like one.......",
    )
    .unwrap();
    let e = Baseline::load(&junk).unwrap_err();
    assert!(matches!(e, BaselineError::NotBaseline { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("{}: not a Tripline baseline", junk.display())),
        "{e}"
    );

    // A real baseline with its pages damaged.
    let mut b = Baseline::default();
    for i in 0..2000u64 {
        let rec = serde_json::json!({"eventSource": "s3.amazonaws.com", "eventName": format!("Op{i}"),
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::1:user/u{}", i % 50)}});
        b.learn(&tripline_anomaly::features::from_cloudtrail(&rec, i).unwrap());
    }
    let good = dir.path().join("good.db");
    b.save(&good).unwrap();
    let mut bytes = std::fs::read(&good).unwrap();
    let len = bytes.len();
    for x in &mut bytes[4096..len - 4096] {
        *x ^= 0x5a;
    }
    let bad = dir.path().join("bad.db");
    std::fs::write(&bad, &bytes).unwrap();
    let e = Baseline::load(&bad).unwrap_err();
    assert!(e.to_string().starts_with(&bad.display().to_string()), "{e}");

    // A SQLite file that is some other program's.
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let e = Baseline::load(&other).unwrap_err();
    assert!(e.to_string().contains("not a Tripline baseline"), "{e}");
    // A missing file.
    assert!(Baseline::load(&dir.path().join("none.db"))
        .unwrap_err()
        .to_string()
        .contains("no such file"));
}
