//! Identity-analysis benchmark: a generated organisation (roles, users, groups, managed
//! policies) and CloudTrail usage, analyzed end to end, with wall time per phase, peak memory,
//! and the time serde_json alone takes to parse the same CloudTrail files.
//!
//!   identity-bench generate DIR [ROLES] [POLICIES] [RECORDS]
//!   identity-bench analyze DIR

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};
use tripline_identity::analyze::{analyze, Inputs, Options};
use tripline_identity::aws::usage::AwsUsage;
use tripline_identity::aws::{Account, Catalog};

const ACCOUNT: &str = "123456789012";
const FILES: usize = 20;

/// xorshift64*: deterministic, dependency-free, good enough for workload shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 1000 < percent * 10
    }
}

fn policy_doc(rng: &mut Rng, names: &[String], services: &[String]) -> Value {
    let statements: Vec<Value> = (0..1 + rng.below(4))
        .map(|_| {
            let action: Value = match rng.below(100) {
                0..=69 => json!((0..1 + rng.below(6))
                    .map(|_| names[rng.below(names.len())].clone())
                    .collect::<Vec<_>>()),
                70..=89 => {
                    let verb = ["Get", "List", "Describe", "Put"][rng.below(4)];
                    json!(format!("{}:{verb}*", services[rng.below(services.len())]))
                }
                _ => json!(format!("{}:*", services[rng.below(services.len())])),
            };
            let resource = if rng.chance(60) {
                json!("*")
            } else {
                json!(format!("arn:aws:s3:::bucket-{}/*", rng.below(1000)))
            };
            json!({"Effect": "Allow", "Action": action, "Resource": resource})
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn generate(dir: &Path, roles: usize, policies: usize, records: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("trail"))?;
    let cat = Catalog::get();
    let all = cat.expand("*");
    let names: Vec<String> = all
        .ones()
        .map(|i| cat.action(i as u32).name.clone())
        .collect();
    let services: Vec<String> = cat.service_prefixes().map(str::to_string).collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let t = Instant::now();
    let mut pols = Vec::with_capacity(policies);
    for i in 0..policies {
        let mut doc = policy_doc(&mut rng, &names, &services);
        // A few policies carry the grants escalation paths are made of.
        match i % 400 {
            0 => doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
            1 => doc["Statement"].as_array_mut().unwrap().push(json!({"Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*"})),
            2 => doc["Statement"].as_array_mut().unwrap().push(json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})),
            3 => doc["Statement"].as_array_mut().unwrap().push(json!({"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": format!("arn:aws:iam::{ACCOUNT}:user/*")})),
            _ => {}
        }
        pols.push(json!({
            "PolicyName": format!("policy-{i}"), "PolicyId": format!("ANPA{i:016}"),
            "Arn": format!("arn:aws:iam::{ACCOUNT}:policy/policy-{i}"), "Path": "/", "DefaultVersionId": "v1",
            "AttachmentCount": 1, "IsAttachable": true,
            "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true, "Document": doc}]
        }));
    }
    let attach = |rng: &mut Rng, n: usize| -> Vec<Value> {
        (0..n)
            .map(|_| {
                let i = rng.below(policies);
                json!({"PolicyName": format!("policy-{i}"), "PolicyArn": format!("arn:aws:iam::{ACCOUNT}:policy/policy-{i}")})
            })
            .collect()
    };
    let users = roles / 10;
    let groups = (roles / 200).max(1);
    let group_list: Vec<Value> = (0..groups)
        .map(|g| json!({"GroupName": format!("group-{g}"), "Arn": format!("arn:aws:iam::{ACCOUNT}:group/group-{g}"), "Path": "/",
                        "GroupPolicyList": [], "AttachedManagedPolicies": attach(&mut rng, 3)}))
        .collect();
    let user_list: Vec<Value> = (0..users)
        .map(|u| json!({"UserName": format!("user-{u}"), "Arn": format!("arn:aws:iam::{ACCOUNT}:user/user-{u}"), "Path": "/",
                        "GroupList": [format!("group-{}", rng.below(groups))], "UserPolicyList": [],
                        "AttachedManagedPolicies": attach(&mut rng, 2)}))
        .collect();
    let role_list: Vec<Value> = (0..roles)
        .map(|r| {
            let principal = match rng.below(100) {
                0..=69 => {
                    let svc = ["lambda", "ec2", "ecs-tasks", "glue"][rng.below(4)];
                    json!({"Service": format!("{svc}.amazonaws.com")})
                }
                70..=94 => json!({"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}),
                _ => json!({"AWS": format!("arn:aws:iam::{ACCOUNT}:role/role-{}", rng.below(roles))}),
            };
            let inline: Vec<Value> = if rng.chance(30) {
                vec![json!({"PolicyName": "inline", "PolicyDocument": policy_doc(&mut rng, &names, &services)})]
            } else {
                Vec::new()
            };
            json!({"RoleName": format!("role-{r}"), "Arn": format!("arn:aws:iam::{ACCOUNT}:role/role-{r}"), "Path": "/",
                   "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]},
                   "RolePolicyList": inline, "AttachedManagedPolicies": attach(&mut rng, 5)})
        })
        .collect();
    let auth = json!({"UserDetailList": user_list, "GroupDetailList": group_list, "RoleDetailList": role_list, "Policies": pols});
    serde_json::to_writer(
        BufWriter::new(std::fs::File::create(dir.join("auth.json"))?),
        &auth,
    )?;
    eprintln!(
        "generated {roles} roles, {users} users, {groups} groups, {policies} policies in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    // Each principal calls a few dozen actions; a tenth of the principals are heavy users.
    let t = Instant::now();
    let principals: Vec<(String, String)> = (0..roles)
        .map(|r| ("AssumedRole".to_string(), format!("role-{r}")))
        .chain((0..users).map(|u| ("IAMUser".to_string(), format!("user-{u}"))))
        .collect();
    let habits: Vec<Vec<(String, String)>> = principals
        .iter()
        .map(|_| {
            (0..5 + rng.below(40))
                .map(|_| {
                    let n = &names[rng.below(names.len())];
                    let (svc, act) = n.split_once(':').unwrap();
                    (format!("{svc}.amazonaws.com"), act.to_string())
                })
                .collect()
        })
        .collect();
    let per_file = records / FILES as u64;
    for f in 0..FILES {
        let mut w = BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(dir.join("trail").join(format!("part-{f:02}.jsonl")))?,
        );
        for i in 0..per_file {
            let p = if rng.chance(50) {
                rng.below(principals.len() / 10)
            } else {
                rng.below(principals.len())
            };
            let (kind, name) = &principals[p];
            let (source, event) = &habits[p][rng.below(habits[p].len())];
            let secs = 1_767_225_600 + (f as u64 * per_file + i) / 100;
            let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
            let day = 1 + (secs - 1_767_225_600) / 86_400;
            let identity = if kind == "AssumedRole" {
                format!(
                    r#"{{"type":"AssumedRole","principalId":"AROA{p:016}:s","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/s-{i}","accountId":"{ACCOUNT}","accessKeyId":"ASIA{p:016}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROA{p:016}","arn":"arn:aws:iam::{ACCOUNT}:role/{name}","accountId":"{ACCOUNT}","userName":"{name}"}},"attributes":{{"creationDate":"2026-01-01T00:00:00Z","mfaAuthenticated":"false"}}}}}}"#
                )
            } else {
                format!(
                    r#"{{"type":"IAMUser","principalId":"AIDA{p:016}","arn":"arn:aws:iam::{ACCOUNT}:user/{name}","accountId":"{ACCOUNT}","accessKeyId":"AKIA{p:016}","userName":"{name}"}}"#
                )
            };
            let error = if rng.chance(2) {
                r#","errorCode":"AccessDenied","errorMessage":"denied""#
            } else {
                ""
            };
            writeln!(
                w,
                r#"{{"eventVersion":"1.08","userIdentity":{identity},"eventTime":"2026-01-{day:02}T{h:02}:{m:02}:{s:02}Z","eventSource":"{source}","eventName":"{event}","awsRegion":"us-east-1","sourceIPAddress":"10.{}.{}.{}","userAgent":"aws-sdk-go/1.44.0","requestParameters":null,"responseElements":null{error},"requestID":"{:016x}","eventID":"{:016x}","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{ACCOUNT}","eventCategory":"Management"}}"#,
                p % 256,
                i % 256,
                f,
                rng.next(),
                rng.next()
            )?;
        }
        w.flush()?;
    }
    eprintln!(
        "generated {} CloudTrail records in {} files in {:.1}s",
        per_file * FILES as u64,
        FILES,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn trail_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("trail"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// Baseline: the same CloudTrail files parsed by serde_json into `Value`s, one thread per
/// file as the analysis does, nothing else.
fn parse_only(files: &[PathBuf]) -> u64 {
    use rayon::prelude::*;
    files
        .par_iter()
        .map(|f| {
            let r = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(f).unwrap());
            let mut n = 0u64;
            for line in r.split(b'\n') {
                let line = line.unwrap();
                if !line.is_empty() {
                    let v: Value = serde_json::from_slice(&line).unwrap();
                    n += v.is_object() as u64;
                }
            }
            n
        })
        .sum()
}

fn run_analysis(dir: &Path) {
    let total = Instant::now();
    let t = Instant::now();
    let acct = Account::load(&dir.join("auth.json")).expect("auth.json");
    let load_s = t.elapsed().as_secs_f64();
    let roles = acct
        .identities
        .iter()
        .filter(|i| i.kind == tripline_identity::aws::IdentityKind::Role)
        .count();
    let policies = acct.policies.len();
    let t = Instant::now();
    let usage = AwsUsage::read(&[dir.join("trail")]).expect("trail");
    let usage_s = t.elapsed().as_secs_f64();
    let records = usage.records;
    let t = Instant::now();
    let inputs = Inputs {
        account: Some((acct, "auth.json".into())),
        cloudtrail: Some(usage),
        ..Inputs::default()
    };
    let report = analyze(&inputs, &Options::default());
    let analyze_s = t.elapsed().as_secs_f64();
    let wall = total.elapsed().as_secs_f64();
    let rss = peak_rss_mib();

    let t = Instant::now();
    let parsed = parse_only(&trail_files(dir));
    let parse_s = t.elapsed().as_secs_f64();
    assert_eq!(parsed, records);

    println!("identity analysis: {roles} roles, {policies} policies, {records} CloudTrail records");
    println!("  load authorization details  {load_s:>7.1} s");
    println!(
        "  CloudTrail usage            {usage_s:>7.1} s  ({:.2} M records/s)",
        records as f64 / usage_s / 1e6
    );
    println!("  analysis (grants, paths, findings) {analyze_s:>7.1} s  ({} findings, {} paths, {} admin-equivalent)", report.findings.len(), report.paths.len(), report.admins.len());
    println!("  total wall                  {wall:>7.1} s   (target < 60 s)");
    println!("  peak memory                 {rss:>7.0} MiB (target < 4096 MiB)");
    println!("  baseline: serde_json parse of the same CloudTrail files {parse_s:.1} s; usage read / parse-only = {:.2}x the time", usage_s / parse_s);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: identity-bench generate DIR [ROLES] [POLICIES] [RECORDS] | analyze DIR";
    match args.get(1).map(String::as_str) {
        Some("generate") => {
            let dir = PathBuf::from(args.get(2).expect(usage));
            let n = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
            generate(
                &dir,
                n(3, 10_000) as usize,
                n(4, 50_000) as usize,
                n(5, 10_000_000),
            )
            .expect("generate");
        }
        Some("analyze") => run_analysis(Path::new(args.get(2).expect(usage))),
        // Profiling aid: CloudTrail usage alone.
        Some("usage") => {
            let t = Instant::now();
            let u = AwsUsage::read(&[Path::new(args.get(2).expect(usage)).join("trail")])
                .expect("trail");
            println!("{} records in {:.2}s", u.records, t.elapsed().as_secs_f64());
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
