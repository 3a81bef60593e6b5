//! CloudTrail from S3 and SQS against a real S3/SQS-compatible server (moto's standalone
//! server, `TRIPLINE_TEST_MOTO=/path/to/moto_server`; `.ci/run` installs it): findings equal
//! replay's on the same files, and a `kill -9` mid-run loses and repeats nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::live::{stored, wait_stored, Agent};

const DATASET: &str = "../../data/datasets/aws-cloudtrail-invictus-stratus-run/CloudTrail";
const SIGMA: &str = "../../data/sigma/rules/cloud/aws/cloudtrail";

/// Creates a bucket and a queue receiving its object-created notifications, then uploads the
/// dataset's CloudTrail files gzipped under a CloudTrail key layout.
const SETUP: &str = r#"
import boto3, gzip, os, sys
ep, src, bucket, queue = sys.argv[1:5]
kw = dict(endpoint_url=ep, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
s3 = boto3.client("s3", **kw); sqs = boto3.client("sqs", **kw)
s3.create_bucket(Bucket=bucket)
q = sqs.create_queue(QueueName=queue, Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
    "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
for f in sorted(os.listdir(src)):
    body = gzip.compress(open(os.path.join(src, f), "rb").read())
    s3.put_object(Bucket=bucket, Key="AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10/" + f + ".gz", Body=body)
"#;

/// Messages still in the queue, visible or not.
const QUEUE_DEPTH: &str = r#"
import boto3, sys
ep, queue = sys.argv[1:3]
sqs = boto3.client("sqs", endpoint_url=ep, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
q = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
a = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["All"])["Attributes"]
print(int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"]))
"#;

struct Moto {
    child: Child,
    endpoint: String,
    python: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto's server on a free loopback port, or says why the test is skipped.
    fn start() -> Option<Moto> {
        let Some(server) = std::env::var_os("TRIPLINE_TEST_MOTO") else {
            assert!(
                std::env::var_os("TRIPLINE_REQUIRE_AWS_TESTS").is_none(),
                "TRIPLINE_REQUIRE_AWS_TESTS is set but TRIPLINE_TEST_MOTO (moto_server) is not"
            );
            eprintln!("skipped: set TRIPLINE_TEST_MOTO to a moto_server binary (pip install 'moto[server]')");
            return None;
        };
        let server = PathBuf::from(server);
        let python = server.with_file_name("python3");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            python,
        })
    }

    fn python(&self, script: &str, args: &[&str]) -> String {
        let out = Command::new(&self.python)
            .arg("-c")
            .arg(script)
            .arg(&self.endpoint)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

fn dataset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(DATASET)
}

/// Alerts per rule `tripline replay` gives on the dataset: the upstream rules, and (replay
/// runs only Sigma when given only --sigma) SigmaHQ's.
fn replay_by_rule() -> BTreeMap<String, i64> {
    let sigma = Path::new(env!("CARGO_MANIFEST_DIR")).join(SIGMA);
    let mut by_rule = BTreeMap::new();
    for extra in [vec![], vec!["--sigma", sigma.to_str().unwrap()]] {
        let mut args = vec!["replay", "--no-store"];
        args.extend(extra);
        args.push(DATASET_ARG.get_or_init(|| dataset().display().to_string()));
        let err = super::stderr(&super::tripline(&args));
        let mut in_alerts = false;
        for line in err.lines() {
            if line.starts_with("Alerts:") {
                in_alerts = true;
            } else if in_alerts {
                match line.strip_prefix("  ").and_then(|l| l.rsplit_once(": ")) {
                    Some((rule, n)) => {
                        *by_rule.entry(rule.to_string()).or_default() += n.parse::<i64>().unwrap();
                    }
                    None => in_alerts = false,
                }
            }
        }
    }
    by_rule
}

static DATASET_ARG: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Occurrences per rule in a store.
fn store_by_rule(store: &Path) -> BTreeMap<String, i64> {
    let mut s = tripline_store::Store::open(store.to_str().unwrap()).unwrap();
    let q = tripline_store::Query {
        limit: 10_000,
        ..Default::default()
    };
    let mut by_rule = BTreeMap::new();
    for f in s.query(&q).unwrap() {
        *by_rule.entry(f.rule).or_default() += f.count;
    }
    by_rule
}

fn agent_args<'a>(source: &'a str, moto: &'a Moto, store: &'a str, sigma: &'a str) -> Vec<&'a str> {
    vec![
        "--no-sensor",
        "--no-ui",
        "--source",
        source,
        "--aws-endpoint-url",
        &moto.endpoint,
        "--store",
        store,
        "--sigma",
        sigma,
        "--rate-limit",
        "0",
    ]
}

const AWS_ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
];

#[test]
fn cloudtrail_from_s3_notifications_in_sqs_equals_replay_across_kill_9() {
    let Some(moto) = Moto::start() else {
        return;
    };
    moto.python(
        SETUP,
        &[dataset().to_str().unwrap(), "trail", "trail-events"],
    );
    let expected = replay_by_rule();
    let want: i64 = expected.values().sum();
    assert!(expected.len() >= 3, "replay alerts: {expected:?}");

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let sigma = Path::new(env!("CARGO_MANIFEST_DIR")).join(SIGMA);
    let args = agent_args(
        "cloudtrail=sqs://trail-events",
        &moto,
        store.to_str().unwrap(),
        sigma.to_str().unwrap(),
    );
    // Killed as soon as the first findings are stored, then started again.
    let agent = Agent::start_with(&args, &AWS_ENV);
    wait_stored(&agent, &store, 1);
    agent.kill9();
    let agent = Agent::start_with(&args, &AWS_ENV);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let occurrences = stored(&store).1;
        let depth: i64 = moto.python(QUEUE_DEPTH, &["trail-events"]).parse().unwrap();
        if occurrences >= want && depth == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stored {occurrences} of {want}, {depth} messages left: {:?}",
            agent.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Longer than the visibility timeout: a message read but not deleted would be back.
    std::thread::sleep(Duration::from_secs(3));
    let err = agent.stop();
    assert!(
        err.contains("Source cloudtrail=sqs://trail-events"),
        "{err}"
    );
    assert_eq!(store_by_rule(&store), expected, "{err}");
    assert_eq!(moto.python(QUEUE_DEPTH, &["trail-events"]), "0");
}

#[test]
fn cloudtrail_from_an_s3_prefix_equals_replay_and_resumes_after_the_last_key() {
    let Some(moto) = Moto::start() else {
        return;
    };
    moto.python(
        SETUP,
        &[dataset().to_str().unwrap(), "trail-list", "unused-queue"],
    );
    let expected = replay_by_rule();
    let want: i64 = expected.values().sum();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let sigma = Path::new(env!("CARGO_MANIFEST_DIR")).join(SIGMA);
    let args = agent_args(
        "cloudtrail=s3://trail-list/AWSLogs/",
        &moto,
        store.to_str().unwrap(),
        sigma.to_str().unwrap(),
    );
    let agent = Agent::start_with(&args, &AWS_ENV);
    wait_stored(&agent, &store, 1);
    agent.kill9();
    let agent = Agent::start_with(&args, &AWS_ENV);
    let deadline = Instant::now() + Duration::from_secs(90);
    while stored(&store).1 < want {
        assert!(
            Instant::now() < deadline,
            "stored {:?} of {want}: {:?}",
            stored(&store),
            agent.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    agent.stop();
    assert_eq!(store_by_rule(&store), expected);
    // Started again: every key was read, nothing is evaluated.
    let agent = Agent::start_with(&args, &AWS_ENV);
    std::thread::sleep(Duration::from_secs(2));
    let err = agent.stop();
    assert!(
        err.contains("Source cloudtrail=s3://trail-list/AWSLogs/: 0 events"),
        "{err}"
    );
    assert_eq!(store_by_rule(&store), expected);
}
