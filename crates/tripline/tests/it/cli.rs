//! The `tripline` binary as a user runs it.

use std::io::Write;
use std::process::{Command, Output};

fn tripline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .unwrap()
}

#[test]
fn replay_json_alerts_follow_falcos_schema() {
    let out = tripline(&[
        "replay",
        "--format",
        "json",
        "data/falco/tests/k8s_audit/events/create_nginx_pod_privileged.json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let alert: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(alert["rule"], "Create Privileged Pod");
    assert_eq!(alert["priority"], "Warning");
    assert_eq!(alert["source"], "k8s_audit");
    assert!(alert["time"].as_str().unwrap().ends_with('Z'));
    assert!(!alert["output_fields"].as_object().unwrap().is_empty());
    assert!(alert["output"]
        .as_str()
        .unwrap()
        .contains("Warning Pod started with privileged container"));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("Events read: 1"), "{stderr}");
}

#[test]
fn bad_input_is_skipped_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/falco/tests/k8s_audit/events/create_nginx_pod_privileged.json"
    ))
    .unwrap();
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "{{not json").unwrap();
    f.write_all(&[b'"', 0xff, 0xfe, b'"', b'\n']).unwrap();
    writeln!(f, "{}{}", "[".repeat(5000), "]".repeat(5000)).unwrap();
    write!(f, "{good}").unwrap();
    drop(f);
    let out = tripline(&["replay", "--source", "k8s_audit", path.to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("audit.jsonl:1: invalid JSON"), "{stderr}");
    assert!(stderr.contains("audit.jsonl:2: invalid JSON"), "{stderr}");
    assert!(stderr.contains("audit.jsonl:3: invalid JSON"), "{stderr}");
    assert!(stderr.contains("Events read: 1"), "{stderr}");
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("Pod started with privileged container"));
}

#[test]
fn truncated_gzip_and_empty_file_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/falco/tests/cloudtrail/events/s3_acl_and_policy.json.gz"
    ))
    .unwrap();
    let cut = dir.path().join("cut.json.gz");
    std::fs::write(&cut, &src[..src.len() / 2]).unwrap();
    let out = tripline(&[
        "replay",
        "--source",
        "aws_cloudtrail",
        cut.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("cut.json.gz: gzip stream is truncated"),
        "{stderr}"
    );

    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "").unwrap();
    let out = tripline(&["replay", "--source", "k8s_audit", empty.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("Events read: 0"));
}

#[test]
fn oversized_line_is_skipped_without_buffering() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    f.write_all(b"{\"a\":\"").unwrap();
    for _ in 0..100 {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(b"\"}\n").unwrap();
    drop(f);
    let out = tripline(&["replay", "--source", "k8s_audit", path.to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("exceeds the 16777216-byte limit"),
        "{stderr}"
    );
}

#[test]
fn usage_and_load_errors_have_their_exit_codes() {
    assert_eq!(tripline(&["replay"]).status.code(), Some(2));
    assert_eq!(
        tripline(&["replay", "--min-priority", "loud", "x"])
            .status
            .code(),
        Some(2)
    );
    let out = tripline(&[
        "rules",
        "validate",
        "data/falco/tests/syscall/rules/invalid_rule_output.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("invalid_rule_output.yaml:17: LOAD_ERR_COMPILE_OUTPUT (rule 'rule_with_invalid_output'): invalid formatting token not_a_real_field"),
        "{stderr}"
    );
}
