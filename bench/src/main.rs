//! Benchmark helper: writes realistic audit logs, and measures a serde_json-only baseline.
//!
//! `tripline-bench gen-k8s N FILE`        N Kubernetes audit events, one per line
//! `tripline-bench gen-cloudtrail N DIR`  N CloudTrail records, 1000 per `{"Records":[...]}` file
//! `tripline-bench parse k8s FILE`        parse every line with serde_json, print events/s
//! `tripline-bench parse cloudtrail DIR`  parse every file with serde_json, print records/s
//! `tripline-bench gen-k8s-objects N DIR` N desired objects (`DIR/desired.json`, a List) and the
//!                                        live dump (`DIR/live.json`): server noise, ~2% drift
//! `tripline-bench parse k8s-objects DIR` parse both with serde_json, print objects/s
//! `tripline-bench syscall-loop SECS`     open/close/stat for SECS seconds, print iterations/s
//! `tripline-bench syscall-flood RATE SECS` getppid() at RATE calls/s for SECS seconds, paced
//!                                        every millisecond; print the rate reached
//! `tripline-bench post-k8s URL FILE BATCH CONC` POST the events of FILE as `EventList`s of
//!                                        BATCH events from CONC threads (429: retry after
//!                                        10 ms); print "events seconds"

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::Instant;

use serde_json::{json, Value};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const VERBS: &[&str] = &[
    "get", "list", "watch", "create", "update", "patch", "delete",
];
const RESOURCES: &[&str] = &[
    "pods",
    "services",
    "deployments",
    "configmaps",
    "secrets",
    "namespaces",
    "serviceaccounts",
    "replicasets",
    "events",
    "endpoints",
    "nodes",
    "leases",
];
const NAMESPACES: &[&str] = &[
    "default",
    "kube-system",
    "payments",
    "ml-training",
    "web",
    "monitoring",
    "ingress",
    "data",
];

fn k8s_event(r: &mut Rng, i: u64) -> Value {
    // Most API traffic comes from controllers, nodes and service accounts; ~1% from people.
    let user = match r.next() % 100 {
        0 => format!("user-{}", r.next() % 500),
        1..=40 => format!("system:node:node-{}", r.next() % 200),
        _ => format!(
            "system:serviceaccount:{}:sa-{}",
            r.pick(NAMESPACES),
            r.next() % 50
        ),
    };
    let (verb, resource) = (r.pick(VERBS), r.pick(RESOURCES));
    let ns = r.pick(NAMESPACES);
    let ts = format!(
        "2024-05-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        1 + i % 28,
        i % 24,
        i % 60,
        (i / 60) % 60,
        i % 1_000_000
    );
    let mut ev = json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
        "auditID": format!("{:016x}-{i}", r.next()), "stage": "ResponseComplete",
        "requestURI": format!("/api/v1/namespaces/{ns}/{resource}/obj-{}", r.next() % 1000),
        "verb": verb,
        "user": {"username": user, "groups": ["system:authenticated"]},
        "sourceIPs": [format!("10.0.{}.{}", r.next() % 255, r.next() % 255)],
        "userAgent": "kubectl/v1.29.0 (linux/amd64)",
        "objectRef": {"resource": resource, "namespace": ns, "name": format!("obj-{}", r.next() % 1000), "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": ts, "stageTimestamp": ts,
        "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""}
    });
    // A few percent of events are the risky kind the upstream rules look for.
    if r.chance(3) {
        ev["verb"] = json!("create");
        ev["objectRef"]["resource"] = json!("pods");
        ev["responseStatus"]["code"] = json!(201);
        ev["requestObject"] = json!({"kind": "Pod", "spec": {
            "hostNetwork": r.chance(50),
            "containers": [{"name": "c", "image": "nginx:1.25", "securityContext": {"privileged": r.chance(50)}}],
            "volumes": [{"name": "v", "hostPath": {"path": if r.chance(50) { "/etc" } else { "/data" }}}]
        }});
    }
    ev
}

fn cloudtrail_record(r: &mut Rng, i: u64) -> Value {
    const EVENTS: &[(&str, &str)] = &[
        ("s3.amazonaws.com", "GetObject"),
        ("s3.amazonaws.com", "PutObject"),
        ("ec2.amazonaws.com", "DescribeInstances"),
        ("iam.amazonaws.com", "ListRoles"),
        ("sts.amazonaws.com", "AssumeRole"),
        ("lambda.amazonaws.com", "Invoke"),
        ("kms.amazonaws.com", "Decrypt"),
        ("logs.amazonaws.com", "PutLogEvents"),
    ];
    const RISKY: &[(&str, &str)] = &[
        ("signin.amazonaws.com", "ConsoleLogin"),
        ("cloudtrail.amazonaws.com", "StopLogging"),
        ("s3.amazonaws.com", "DeleteBucketEncryption"),
        ("iam.amazonaws.com", "CreateUser"),
        ("ec2.amazonaws.com", "RunInstances"),
    ];
    let (src, name) = if r.chance(3) {
        RISKY[(r.next() % RISKY.len() as u64) as usize]
    } else {
        EVENTS[(r.next() % EVENTS.len() as u64) as usize]
    };
    json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": format!("AIDA{:012}", r.next() % 1_000_000),
            "arn": format!("arn:aws:iam::111122223333:user/user-{}", r.next() % 300), "accountId": "111122223333",
            "userName": format!("user-{}", r.next() % 300)},
        "eventTime": format!("2024-05-{:02}T{:02}:{:02}:{:02}Z", 1 + i % 28, i % 24, i % 60, (i / 60) % 60),
        "eventSource": src, "eventName": name, "awsRegion": r.pick(&["us-east-1", "eu-west-1", "ap-south-1"]),
        "sourceIPAddress": format!("198.51.100.{}", r.next() % 255), "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"bucketName": format!("bucket-{}", r.next() % 50), "key": "k"},
        "responseElements": null,
        "additionalEventData": {"MFAUsed": "No", "bytesTransferredIn": 0},
        "requestID": format!("{:x}", r.next()), "eventID": format!("{:x}-{i}", r.next()),
        "readOnly": name.starts_with("Get") || name.starts_with("Describe") || name.starts_with("List"),
        "eventType": if name == "ConsoleLogin" { "AwsConsoleSignIn" } else { "AwsApiCall" },
        "managementEvent": true, "recipientAccountId": "111122223333", "eventCategory": "Management"
    })
}

/// One desired object and its live form: what the API server adds (metadata, defaults,
/// status), and for ~2% of objects a drift (an image, a privileged flag, a replica count).
fn k8s_object(r: &mut Rng, i: u64) -> (Value, Value) {
    let ns = format!("team-{}", i % 50);
    let name = format!("svc-{i}");
    let desired = match i % 10 {
        0..=3 => json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
              "template": {"metadata": {"labels": {"app": name}}, "spec": {
                "serviceAccountName": name,
                "containers": [{"name": "app", "image": format!("registry.example.com/{ns}/{name}:1.{}.0", i % 7),
                  "ports": [{"containerPort": 8080}], "env": [{"name": "MODE", "value": "prod"}],
                  "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false}}]}}}}),
        4 | 5 => json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}),
        6 | 7 => json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns}, "data": {"level": "info", "region": "eu-1"}}),
        8 => json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]}),
        _ => json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": ns},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": format!("svc-{}", i - 1)}}),
    };
    let mut live = desired.clone();
    let m = &mut live["metadata"];
    m["uid"] = json!(format!("{:016x}-{i}", r.next()));
    m["resourceVersion"] = json!((r.next() % 1_000_000).to_string());
    m["creationTimestamp"] = json!("2026-11-20T09:00:00Z");
    m["managedFields"] = json!([{"manager": "argocd-controller", "operation": "Apply", "apiVersion": "v1",
        "time": "2026-11-20T09:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {}}}]);
    match live["kind"].as_str() {
        Some("Deployment") => {
            live["spec"]["progressDeadlineSeconds"] = json!(600);
            live["spec"]["strategy"] = json!({"type": "RollingUpdate"});
            let pod = &mut live["spec"]["template"]["spec"];
            pod["dnsPolicy"] = json!("ClusterFirst");
            pod["restartPolicy"] = json!("Always");
            pod["containers"][0]["imagePullPolicy"] = json!("IfNotPresent");
            pod["containers"][0]["terminationMessagePath"] = json!("/dev/termination-log");
            live["status"] = json!({"replicas": 2, "readyReplicas": 2});
            if r.chance(2) {
                live["spec"]["template"]["spec"]["containers"][0]["securityContext"]
                    ["privileged"] = json!(true);
            }
            if r.chance(2) {
                live["spec"]["replicas"] = json!(5);
            }
        }
        Some("Service") => {
            live["spec"]["clusterIP"] = json!(format!("10.96.{}.{}", i % 250, i % 200));
            live["spec"]["ports"][0]["protocol"] = json!("TCP");
            live["spec"]["type"] = json!("ClusterIP");
        }
        Some("ConfigMap") if r.chance(2) => live["data"]["level"] = json!("debug"),
        _ => {}
    }
    (desired, live)
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    match arg(1).as_str() {
        "gen-k8s" => {
            let n: u64 = arg(2).parse().expect("N");
            let mut out = BufWriter::new(File::create(arg(3))?);
            for i in 0..n {
                serde_json::to_writer(&mut out, &k8s_event(&mut r, i))?;
                out.write_all(b"\n")?;
            }
        }
        "gen-cloudtrail" => {
            let n: u64 = arg(2).parse().expect("N");
            let dir = arg(3);
            fs::create_dir_all(&dir)?;
            let mut i = 0;
            while i < n {
                let batch: Vec<Value> = (i..(i + 1000).min(n))
                    .map(|j| cloudtrail_record(&mut r, j))
                    .collect();
                let path = format!(
                    "{dir}/111122223333_CloudTrail_us-east-1_{:08}.json",
                    i / 1000
                );
                serde_json::to_writer(
                    BufWriter::new(File::create(path)?),
                    &json!({"Records": batch}),
                )?;
                i += 1000;
            }
        }
        "gen-k8s-objects" => {
            let n: u64 = arg(2).parse().expect("N");
            let dir = arg(3);
            fs::create_dir_all(&dir)?;
            let (mut desired, mut live) = (Vec::new(), Vec::new());
            for i in 0..n {
                let (d, l) = k8s_object(&mut r, i);
                desired.push(d);
                live.push(l);
            }
            for (name, items) in [("desired.json", desired), ("live.json", live)] {
                serde_json::to_writer(
                    BufWriter::new(File::create(format!("{dir}/{name}"))?),
                    &json!({"apiVersion": "v1", "kind": "List", "items": items}),
                )?;
            }
        }
        "syscall-loop" => {
            // open/close/stat on one file for SECS seconds; prints iterations/s. The workload
            // of bench/sensor.sh: three syscalls per iteration, two of them (openat, close)
            // reported under the default rules.
            let secs: f64 = arg(2).parse().expect("SECS");
            let path = std::env::temp_dir().join(format!("tripline-bench-{}", std::process::id()));
            fs::write(&path, b"x")?;
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed().as_secs_f64() < secs {
                for _ in 0..1000 {
                    drop(File::open(&path)?);
                    fs::metadata(&path)?;
                }
                n += 1000;
            }
            fs::remove_file(&path)?;
            println!("{:.0}", n as f64 / start.elapsed().as_secs_f64());
        }
        "syscall-flood" => {
            // A paced flood of the cheapest syscall, for the sensor's pipeline throughput: with
            // `run --every-syscall` each call is one record through ring buffer, decoder and
            // state. Pacing (not a tight loop) asks a fixed rate of the agent; the rate
            // reached is printed in case this core could not keep up.
            let rate: u64 = arg(2).parse().expect("RATE");
            let secs: f64 = arg(3).parse().expect("SECS");
            let per_ms = (rate / 1000).max(1);
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed().as_secs_f64() < secs {
                for _ in 0..per_ms {
                    // SAFETY: getppid takes no arguments and cannot fail.
                    unsafe { libc::syscall(libc::SYS_getppid) };
                }
                n += per_ms;
                let due = std::time::Duration::from_micros(n * 1000 / per_ms);
                while start.elapsed() < due {
                    std::hint::spin_loop();
                }
            }
            println!("{:.0}", n as f64 / start.elapsed().as_secs_f64());
        }
        "post-k8s" => {
            let (url, batch, conc) = (
                arg(2),
                arg(4).parse::<usize>().unwrap_or(500),
                arg(5).parse::<usize>().unwrap_or(4),
            );
            let mut items = Vec::new();
            for line in BufReader::new(File::open(arg(3))?).split(b'\n') {
                let line = line?;
                if !line.is_empty() {
                    items.push(String::from_utf8_lossy(&line).into_owned());
                }
            }
            // Bodies are built before the clock starts: only the agent is measured.
            let bodies: Vec<String> = items
                .chunks(batch)
                .map(|c| format!("{{\"kind\":\"EventList\",\"apiVersion\":\"audit.k8s.io/v1\",\"items\":[{}]}}", c.join(",")))
                .collect();
            let next = std::sync::atomic::AtomicUsize::new(0);
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..conc {
                    s.spawn(|| loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(body) = bodies.get(i) else { return };
                        loop {
                            let status = agent
                                .post(&url)
                                .header("Content-Type", "application/json")
                                .send(body.as_str())
                                .map(|r| r.status().as_u16())
                                .unwrap_or(0);
                            match status {
                                200 => break,
                                429 => std::thread::sleep(std::time::Duration::from_millis(10)),
                                other => panic!("webhook answered {other}"),
                            }
                        }
                    });
                }
            });
            println!("{} {:.3}", items.len(), start.elapsed().as_secs_f64());
        }
        "parse" => {
            let start = Instant::now();
            let mut count = 0u64;
            if arg(2) == "k8s-objects" {
                for name in ["desired.json", "live.json"] {
                    let v: Value = serde_json::from_slice(&fs::read(format!("{}/{name}", arg(3)))?)
                        .expect("valid JSON");
                    count += v["items"].as_array().map_or(0, |a| a.len() as u64);
                }
                count /= 2;
            } else if arg(2) == "k8s" {
                for line in BufReader::new(File::open(arg(3))?).split(b'\n') {
                    let v: Value = serde_json::from_slice(&line?).expect("valid JSON");
                    count += v.is_object() as u64;
                }
            } else {
                let mut files: Vec<_> = fs::read_dir(arg(3))?
                    .map(|e| e.map(|e| e.path()))
                    .collect::<Result<_, _>>()?;
                files.sort();
                for f in files {
                    let v: Value = serde_json::from_slice(&fs::read(f)?).expect("valid JSON");
                    count += v["Records"].as_array().map_or(0, |a| a.len() as u64);
                }
            }
            let secs = start.elapsed().as_secs_f64();
            println!("{count} {secs:.3}");
        }
        _ => eprintln!("usage: see the header of bench/src/main.rs"),
    }
    Ok(())
}
