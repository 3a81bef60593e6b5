//! Store ingest and API latency, each against a baseline measured in the same run.
//!
//! `store-bench ingest N [POSTGRES_URL]`: N findings (a third repeat within the dedup window)
//! through `Store::ingest` (one transaction per finding, as the agent does) and
//! `Store::ingest_batch` (1000 per transaction), against plain prepared INSERTs of the same rows
//! into a table with the same columns and indexes, 1000 per transaction, without dedup.
//!
//! `store-bench api N`: fills a store with N findings, serves it, and times 300 filtered list
//! requests over HTTP (p50/p99) against the same work (page query and capped count) on the
//! store directly.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tripline_event::Priority;
use tripline_store::{Config, NewFinding, Query, Store};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const PRIORITIES: [Priority; 4] = [
    Priority::Critical,
    Priority::Error,
    Priority::Warning,
    Priority::Notice,
];

fn findings(n: usize) -> Vec<NewFinding> {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let t0 = 1_800_000_000_000_000_000i64;
    (0..n)
        .map(|i| {
            // A third of the findings repeat a recent one (same key, 1 s later): folds.
            let key = if i % 3 == 2 { i - 1 } else { i };
            let rule = key % 50;
            let mut f = NewFinding::new(
                &format!("Rule {rule} fired"),
                PRIORITIES[rule % 4],
                "syscall",
                &format!(
                    "process proc{} opened /etc/file{} (user=u{})",
                    key % 997,
                    key,
                    key % 13
                ),
            );
            f.time_ns = t0 + (i as i64) * 1_000_000;
            f.hostname = format!("host-{}", key % 200);
            f.fields
                .insert("proc.name".into(), format!("proc{}", key % 997).into());
            f.fields
                .insert("fd.name".into(), format!("/etc/file{key}").into());
            f.fields
                .insert("user.name".into(), format!("u{}", key % 13).into());
            f.fields
                .insert("proc.pid".into(), (r.next() % 100_000).into());
            f.tags = vec!["filesystem".into(), "mitre_persistence".into()];
            f
        })
        .collect()
}

const BASELINE_DDL: &str = "CREATE TABLE plain (id BIGSERIAL PRIMARY KEY, fingerprint TEXT, kind TEXT, rule TEXT, priority BIGINT, source TEXT, hostname TEXT, entity TEXT, message TEXT, fields TEXT, tags TEXT, first_ns BIGINT, last_ns BIGINT, count BIGINT);
CREATE INDEX plain_fp ON plain (fingerprint, id); CREATE INDEX plain_last ON plain (last_ns, id);
CREATE INDEX plain_rule ON plain (rule, last_ns); CREATE INDEX plain_prio ON plain (priority, last_ns)";

fn row(f: &NewFinding) -> (String, String, String, String) {
    (
        f.fingerprint(),
        serde_json::Value::Object(f.fields.clone()).to_string(),
        serde_json::to_string(&f.tags).unwrap(),
        f.message.clone(),
    )
}

fn sqlite_baseline(path: &std::path::Path, fs: &[NewFinding]) -> Duration {
    let mut c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
        .unwrap();
    c.execute_batch(&BASELINE_DDL.replace("BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY"))
        .unwrap();
    let start = Instant::now();
    for chunk in fs.chunks(1000) {
        let tx = c.transaction().unwrap();
        {
            let mut st = tx.prepare_cached("INSERT INTO plain (fingerprint, kind, rule, priority, source, hostname, entity, message, fields, tags, first_ns, last_ns, count) VALUES (?1, 'rule', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, 1)").unwrap();
            for f in chunk {
                let (fp, fields, tags, msg) = row(f);
                st.execute(rusqlite::params![
                    fp, f.rule, 3, f.source, f.hostname, f.entity, msg, fields, tags, f.time_ns
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    start.elapsed()
}

fn postgres_baseline(url: &str, fs: &[NewFinding]) -> Duration {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.batch_execute(&format!("DROP TABLE IF EXISTS plain; {BASELINE_DDL}"))
        .unwrap();
    let st = c.prepare("INSERT INTO plain (fingerprint, kind, rule, priority, source, hostname, entity, message, fields, tags, first_ns, last_ns, count) VALUES ($1, 'rule', $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 1)").unwrap();
    let start = Instant::now();
    for chunk in fs.chunks(1000) {
        let mut tx = c.transaction().unwrap();
        for f in chunk {
            let (fp, fields, tags, msg) = row(f);
            tx.execute(
                &st,
                &[
                    &fp,
                    &f.rule,
                    &3i64,
                    &f.source,
                    &f.hostname,
                    &f.entity,
                    &msg,
                    &fields,
                    &tags,
                    &f.time_ns,
                ],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let d = start.elapsed();
    c.batch_execute("DROP TABLE plain").unwrap();
    d
}

fn no_limits() -> Config {
    Config {
        rate_per_minute: 0,
        ..Config::default()
    }
}

fn ingest(url: &str, fs: &[NewFinding], batched: bool) -> Duration {
    let mut s = Store::open_with(url, no_limits()).unwrap();
    let start = Instant::now();
    if batched {
        for chunk in fs.chunks(1000) {
            s.ingest_batch(chunk).unwrap();
        }
    } else {
        for f in fs {
            s.ingest(f).unwrap();
        }
    }
    let d = start.elapsed();
    let (rows, occurrences) = s.count(&Query::default()).unwrap();
    assert_eq!(occurrences as usize, fs.len());
    assert!(
        rows as usize <= fs.len() * 2 / 3 + 1,
        "dedup folded too little: {rows}"
    );
    d
}

/// The same findings as engine alerts, through the agent's act stage: the bounded findings
/// queue and the ingest thread that stores batches (waiting when full, as replays do).
fn pipeline(url: &str, fs: &[NewFinding]) -> Duration {
    let alerts: Vec<tripline_event::Finding> = fs
        .iter()
        .map(|f| tripline_event::Finding {
            rule: f.rule.clone(),
            priority: f.priority,
            source: f.source.clone(),
            time_ns: f.time_ns as u64,
            message: f.message.clone(),
            output_fields: f
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            tags: f.tags.clone(),
            hostname: f.hostname.clone(),
            process: None,
        })
        .collect();
    let act = tripline::act::Act::start(&tripline::act::ActConfig {
        store: Some(url.to_string()),
        limits: no_limits(),
        outputs: Vec::new(),
        actions: Vec::new(),
        listen: None,
        execute_actions: false,
        mode: "bench".into(),
        retention: Default::default(),
        tls: None,
        overflow: tripline_pipeline::Overflow::Block,
    })
    .unwrap();
    let start = Instant::now();
    for a in alerts {
        act.alert(a);
    }
    let t = act.finish();
    let d = start.elapsed();
    assert_eq!((t.new + t.folded) as usize, fs.len(), "{t:?}");
    d
}

/// Rates (findings/s) of each round: baseline, one transaction each, batches, pipeline.
#[derive(Default)]
struct Rounds(Vec<[f64; 4]>);

impl Rounds {
    fn push(&mut self, n: usize, base: Duration, one: Duration, batch: Duration, piped: Duration) {
        self.0
            .push([base, one, batch, piped].map(|d| n as f64 / d.as_secs_f64()));
    }

    /// Median rates, and the median and range of each ratio to the baseline of its round.
    fn print(&self, label: &str, n: usize) {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            (v[v.len() / 2], v[0], v[v.len() - 1])
        };
        let rate = |i: usize| median(self.0.iter().map(|r| r[i]).collect()).0;
        let ratio = |i: usize| median(self.0.iter().map(|r| r[i] / r[0]).collect());
        let (pm, plo, phi) = ratio(3);
        let (bm, blo, bhi) = ratio(2);
        let (om, olo, ohi) = ratio(1);
        println!(
            "{label} {n} findings, {} alternating rounds, medians: plain INSERT baseline {:.0}/s; pipeline (queue + ingest thread) {:.0}/s, ratio {pm:.2} ({plo:.2}-{phi:.2}); ingest_batch {:.0}/s, ratio {bm:.2} ({blo:.2}-{bhi:.2}); ingest one per transaction {:.0}/s, ratio {om:.2} ({olo:.2}-{ohi:.2})",
            self.0.len(),
            rate(0),
            rate(3),
            rate(2),
            rate(1)
        );
    }
}

fn pg_schema(base: &str, name: &str) -> String {
    let mut c = postgres::Client::connect(base, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
    ))
    .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{name}")
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    match args.get(1).map(String::as_str) {
        Some("ingest") => {
            // Rounds alternate baseline and Tripline on the same database, so machine noise
            // hits both; the report is the median ratio of the rounds and its spread.
            let rounds: usize = std::env::var("ROUNDS")
                .ok()
                .and_then(|r| r.parse().ok())
                .unwrap_or(5);
            let fs = findings(n);
            let mut sqlite = Rounds::default();
            for r in 0..rounds {
                let p = |name: &str| {
                    dir.path()
                        .join(format!("{name}{r}.db"))
                        .display()
                        .to_string()
                };
                let base = sqlite_baseline(&dir.path().join(format!("plain{r}.db")), &fs);
                let one = ingest(&p("a"), &fs, false);
                let batch = ingest(&p("b"), &fs, true);
                let piped = pipeline(&p("c"), &fs);
                sqlite.push(n, base, one, batch, piped);
            }
            sqlite.print("sqlite  ", n);
            if let Some(pg) = args.get(3) {
                let m = n.min(50_000);
                let fs = &fs[..m];
                let mut postgres = Rounds::default();
                for _ in 0..rounds {
                    let base = postgres_baseline(pg, fs);
                    let one = ingest(&pg_schema(pg, "bench_single"), fs, false);
                    let batch = ingest(&pg_schema(pg, "bench_batch"), fs, true);
                    let piped = pipeline(&pg_schema(pg, "bench_pipeline"), fs);
                    postgres.push(m, base, one, batch, piped);
                }
                postgres.print("postgres", m);
                let mut c = postgres::Client::connect(pg, postgres::NoTls).unwrap();
                c.batch_execute(
                    "DROP SCHEMA bench_single CASCADE; DROP SCHEMA bench_batch CASCADE; DROP SCHEMA bench_pipeline CASCADE",
                )
                .unwrap();
            }
        }
        Some("api") => {
            let url = dir.path().join("api.db").display().to_string();
            let mut s = Store::open_with(
                &url,
                Config {
                    dedup_window_ns: 0,
                    rate_per_minute: 0,
                    burst: 1,
                },
            )
            .unwrap();
            let fill = Instant::now();
            let mut i = 0;
            while i < n {
                let m = (n - i).min(100_000);
                let mut chunk = findings(m);
                for (j, f) in chunk.iter_mut().enumerate() {
                    f.time_ns += ((i + j) as i64) * 1_000;
                }
                s.ingest_batch(&chunk).unwrap();
                i += m;
            }
            eprintln!(
                "filled {n} findings in {:.1}s",
                fill.elapsed().as_secs_f64()
            );
            let token = s
                .create_token("bench", tripline_store::auth::Role::Viewer)
                .unwrap();
            let queries: Vec<(String, Query)> = vec![
                (
                    "priority=error".into(),
                    Query {
                        min_priority: Some(Priority::Error),
                        ..Query::default()
                    },
                ),
                (
                    "rule=Rule%207%20fired".into(),
                    Query {
                        rule: Some("Rule 7 fired".into()),
                        ..Query::default()
                    },
                ),
                (
                    "since=1h&priority=critical".into(),
                    Query {
                        min_priority: Some(Priority::Critical),
                        since_ns: Some(0),
                        ..Query::default()
                    },
                ),
            ];
            let state = tripline_server::AppState::new(
                Store::open(&url).unwrap(),
                Arc::new(Mutex::new(tripline_server::LiveStats::default())),
            );
            let server = tripline_server::start("127.0.0.1:0".parse().unwrap(), state).unwrap();
            let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
            for (params, q) in &queries {
                let mut http = Vec::new();
                let mut direct = Vec::new();
                for _ in 0..100 {
                    let t = Instant::now();
                    let body = agent
                        .get(format!(
                            "http://{}/api/v1/findings?limit=100&{params}",
                            server.addr
                        ))
                        .header("Authorization", format!("Bearer {token}"))
                        .call()
                        .unwrap()
                        .body_mut()
                        .read_to_string()
                        .unwrap();
                    http.push(t.elapsed());
                    assert!(body.contains("\"findings\""));
                    let t = Instant::now();
                    let found = s.query(q).unwrap();
                    let _ = s.count_capped(q, 10_001).unwrap();
                    direct.push(t.elapsed());
                    assert!(!found.is_empty());
                }
                let ms = |d: Duration| d.as_secs_f64() * 1e3;
                let (h99, d99) = (percentile(&mut http, 0.99), percentile(&mut direct, 0.99));
                println!(
                    "api      {n} stored, GET ?{params}: p50 {:.1} ms, p99 {:.1} ms over HTTP; store query p99 {:.1} ms; ratio {:.2}",
                    ms(percentile(&mut http, 0.5)), ms(h99), ms(d99), d99.as_secs_f64() / h99.as_secs_f64()
                );
            }
            server.stop();
        }
        _ => eprintln!("usage: store-bench ingest N [POSTGRES_URL] | store-bench api N"),
    }
}
