//! Hostile and careless input (issue 19): nested YAML aliases, a reader that closes stdout
//! early, usage errors. Each runs the real binary.

use std::process::Command;
use std::time::{Duration, Instant};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Runs `tripline ARGS` and returns its exit status, wall time and peak RSS (KiB).
///
/// A small Python parent starts it and reads `RUSAGE_CHILDREN`: a child forked straight from
/// this (large, multi-threaded) test process would count the test's own pages, which it
/// shares until exec, in its peak RSS.
fn measured(args: &[&str]) -> (Option<i32>, Duration, i64, String) {
    let start = Instant::now();
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import resource, subprocess, sys\n\
             r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n\
             sys.stderr.buffer.write(r.stderr)\n\
             print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
        )
        .arg(env!("CARGO_BIN_EXE_tripline"))
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap();
    let took = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut fields = stdout.split_whitespace().map(|n| n.parse::<i64>().unwrap());
    let code = fields.next().map(|c| c as i32);
    let rss_kib = fields.next().unwrap();
    (code, took, rss_kib, crate::stderr(&out))
}

/// A document whose aliases nest ten levels deep, ten wide: 10^10 nodes if expanded.
fn laughs(indent: &str) -> String {
    let mut s = format!("{indent}a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        s.push_str(&format!(
            "{indent}a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    s
}

#[test]
fn nested_yaml_aliases_are_refused_fast_and_small() {
    let dir = tempfile::tempdir().unwrap();
    let falco = dir.path().join("bomb_rules.yaml");
    std::fs::write(
        &falco,
        format!(
            "- list: bomb\n  items: [x]\n- macro: m\n  condition: evt.num > 0\n  x:\n{}",
            laughs("    ")
        ),
    )
    .unwrap();
    let sigma = dir.path().join("bomb.yml");
    std::fs::write(
        &sigma,
        format!(
            "title: t\nid: 0f0e0d0c-0b0a-4908-8706-050403020100\nlogsource:\n  product: linux\ndetection:\n  sel:\n    Image: x\n  condition: sel\nextra:\n{}",
            laughs("  ")
        ),
    )
    .unwrap();
    let contract = dir.path().join("bomb-contract.yaml");
    std::fs::write(
        &contract,
        format!(
            "apiVersion: tripline.dev/v1\nkind: RuntimeContract\nmetadata:\n  name: x\n  extra:\n{}spec: {{}}\n",
            laughs("    ")
        ),
    )
    .unwrap();
    for (args, what) in [
        (vec!["rules", "validate", falco.to_str().unwrap()], "falco"),
        (vec!["rules", "validate", sigma.to_str().unwrap()], "sigma"),
        (
            vec!["drift", "--contract", contract.to_str().unwrap()],
            "contract",
        ),
    ] {
        let (code, took, rss_kib, stderr) = measured(&args);
        assert_eq!(code, Some(1), "{what}: {stderr}");
        // Contracts are strictly typed, so serde refuses the aliased value before expanding
        // it (and serde_yaml caps alias repetition); the rule loaders count expanded nodes.
        if what != "contract" {
            assert!(stderr.contains("aliases expand"), "{what}: {stderr}");
        }
        assert!(
            stderr.contains("bomb"),
            "{what}: the file is named: {stderr}"
        );
        assert!(took < Duration::from_secs(1), "{what}: {took:?}");
        assert!(rss_kib < 100 * 1024, "{what}: {rss_kib} KiB");
    }
}

/// `tripline ... | head -1`: the reader goes away after one byte; the command ends quietly
/// (status 0 or 141, nothing about a panic) and still stores what it found.
#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store_arg = store.to_str().unwrap();
    // A tree whose contract then loses 300 files: drift has 300 findings to print.
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc/app")).unwrap();
    for i in 0..300 {
        std::fs::write(root.join(format!("etc/app/{i}.conf")), "x").unwrap();
    }
    let contract = dir.path().join("c.yaml");
    let (root_arg, contract_arg) = (root.to_str().unwrap(), contract.to_str().unwrap());
    let learn = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args([
            "contract",
            "learn",
            "--root",
            root_arg,
            "--include",
            "/etc/**",
            "-o",
            contract_arg,
        ])
        .output()
        .unwrap();
    assert!(
        learn.status.success(),
        "{}",
        String::from_utf8_lossy(&learn.stderr)
    );
    std::fs::remove_dir_all(root.join("etc/app")).unwrap();
    let drift_store = dir.path().join("drift.db");
    let drift_store_arg = drift_store.to_str().unwrap();
    for args in [
        vec![
            "replay",
            "--store",
            store_arg,
            "data/falco/tests/k8s_audit/events",
        ],
        vec![
            "drift",
            "--contract",
            contract_arg,
            "--root",
            root_arg,
            "--store",
            drift_store_arg,
        ],
        vec![
            "drift",
            "--contract",
            contract_arg,
            "--root",
            root_arg,
            "--format",
            "sarif",
        ],
        vec!["contract", "schema"],
        vec![
            "identity",
            "analyze",
            "--aws-auth",
            "data/datasets/aws-iam-authorization-details/account-authorization-details.json",
        ],
    ] {
        let line = args.join(" ");
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "'{}' {} | head -c 1 > /dev/null; exit ${{PIPESTATUS[0]}}",
                env!("CARGO_BIN_EXE_tripline"),
                quoted.join(" ")
            ))
            .current_dir(ROOT)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 3 | 141)),
            "{line}: {:?} {stderr}",
            out.status
        );
        assert!(!stderr.contains("panicked"), "{line}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{line}: {stderr}");
    }
    // Both stored every finding although their reader left after one byte.
    for (db, at_least) in [(store_arg, 10), (drift_store_arg, 300)] {
        let mut s = tripline_store::Store::open(db).unwrap();
        let (rows, _) = s.count(&tripline_store::Query::default()).unwrap();
        assert!(rows >= at_least, "{db}: {rows} findings stored");
    }
}

/// Every usage error exits 2 with clap's message: an unknown flag on each command, and values
/// that do not parse or would overflow.
#[test]
fn usage_errors_exit_2_for_every_command() {
    let commands: &[&[&str]] = &[
        &["replay"],
        &["run"],
        &["rules", "validate"],
        &["rules", "list"],
        &["contract", "learn"],
        &["contract", "schema"],
        &["contract", "snapshot"],
        &["policy", "eval"],
        &["drift"],
        &["gate"],
        &["serve"],
        &["identity", "analyze"],
        &["identity", "paths"],
        &["identity", "propose"],
        &["anomaly", "train"],
        &["anomaly", "score"],
        &["anomaly", "eval"],
        &["anomaly", "export"],
        &["token", "create"],
        &["token", "revoke"],
    ];
    for cmd in commands {
        let mut args = cmd.to_vec();
        args.push("--no-such-flag");
        let out = crate::tripline(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            crate::stderr(&out)
        );
        assert!(crate::stderr(&out).contains("--no-such-flag"), "{args:?}");
    }
    for (args, says) in [
        (&["gate", "--since", "99999999999999d"][..], "too large"),
        (&["gate", "--since", "5 parsecs"], "expected a duration"),
        (
            &["replay", "--retain", "12x", "x.json"],
            "expected a duration",
        ),
        (
            &["replay", "--retain", "999999999999w", "x.json"],
            "too large",
        ),
        (&["run", "--ring-mib", "4096"], "4096"),
        (&["run", "--ring-mib", "0"], "0"),
        (&["replay", "--min-priority", "loud", "x.json"], "loud"),
    ] {
        let out = crate::tripline(args);
        let err = crate::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
