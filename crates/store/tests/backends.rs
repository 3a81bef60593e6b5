//! The same store tests on SQLite and, when `TRIPLINE_TEST_POSTGRES` names a server, on
//! PostgreSQL (CI installs and starts one).

use serde_json::json;
use tripline_event::Priority;
use tripline_store::outbox::Route;
use tripline_store::{schema, Config, Ingest, Kind, NewFinding, Query, Retention, Store};

const SEC: i64 = 1_000_000_000;

/// A fresh, empty store on each backend: a temp SQLite file, and a new PostgreSQL schema.
struct Backend {
    url: String,
    _dir: Option<tempfile::TempDir>,
    /// (server URL, schema) to drop afterwards.
    pg: Option<(String, String)>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg {
            if let Ok(mut c) = postgres::Client::connect(base, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

fn backends(test: &str) -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![Backend {
        url: dir.path().join("store.db").display().to_string(),
        _dir: Some(dir),
        pg: None,
    }];
    match std::env::var("TRIPLINE_TEST_POSTGRES") {
        Ok(base) if !base.is_empty() => {
            let schema = format!("t_{test}_{}", std::process::id());
            let mut admin = postgres::Client::connect(&base, postgres::NoTls).unwrap_or_else(|e| {
                let shown = tripline_store::postgres::redact(&base);
                panic!("TRIPLINE_TEST_POSTGRES={shown}: {e}")
            });
            admin
                .batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                ))
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            out.push(Backend {
                url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                _dir: None,
                pg: Some((base.clone(), schema)),
            });
        }
        _ if std::env::var_os("TRIPLINE_REQUIRE_POSTGRES_TESTS").is_some() => {
            panic!("TRIPLINE_REQUIRE_POSTGRES_TESTS is set but TRIPLINE_TEST_POSTGRES is not")
        }
        _ => {}
    }
    out
}

fn finding(rule: &str, t: i64, proc_name: &str) -> NewFinding {
    let mut f = NewFinding::new(
        rule,
        Priority::Warning,
        "syscall",
        &format!("{proc_name} ran"),
    );
    f.time_ns = t;
    f.hostname = "web-1".into();
    f.fields.insert("proc.name".into(), json!(proc_name));
    f.fields.insert("proc.pid".into(), json!(t));
    f
}

#[test]
fn identical_findings_fold_within_the_window() {
    for b in backends("dedup") {
        let cfg = Config {
            dedup_window_ns: 60 * SEC,
            ..Config::default()
        };
        let mut s = Store::open_with(&b.url, cfg).unwrap();
        let base = 1_700_000_000 * SEC;
        let first = s.ingest(&finding("Shell", base, "bash")).unwrap();
        let Ingest::New(id) = first else {
            panic!("{first:?}")
        };
        for i in 1..5 {
            assert_eq!(
                s.ingest(&finding("Shell", base + i * SEC, "bash")).unwrap(),
                Ingest::Folded(id),
                "{}",
                b.url
            );
        }
        // Another process name is another finding; past the window is a new row.
        assert!(matches!(
            s.ingest(&finding("Shell", base, "sh")).unwrap(),
            Ingest::New(_)
        ));
        assert!(matches!(
            s.ingest(&finding("Shell", base + 200 * SEC, "bash"))
                .unwrap(),
            Ingest::New(_)
        ));
        let got = s.get(id).unwrap().unwrap();
        assert_eq!(
            (got.count, got.first_ns, got.last_ns),
            (5, base, base + 4 * SEC)
        );
        assert_eq!(s.count(&Query::default()).unwrap(), (3, 7));
        // A second store on the same database folds into the same row (no process-local state).
        let mut other = Store::open_with(&b.url, cfg).unwrap();
        assert_eq!(
            other
                .ingest(&finding("Shell", base + 5 * SEC, "bash"))
                .unwrap(),
            Ingest::Folded(id)
        );
    }
}

#[test]
fn rate_limits_count_what_they_hold_back() {
    for b in backends("rate") {
        let cfg = Config {
            dedup_window_ns: 0,
            rate_per_minute: 60,
            burst: 3,
        };
        let mut s = Store::open_with(&b.url, cfg).unwrap();
        let t = 1_700_000_000 * SEC;
        let results: Vec<Ingest> = (0..10)
            .map(|i| s.ingest(&finding("Flood", t, &format!("p{i}"))).unwrap())
            .collect();
        let stored = results
            .iter()
            .filter(|r| matches!(r, Ingest::New(_)))
            .count();
        assert_eq!(stored, 3);
        // Another rule has its own bucket; a second later the flooding rule has one token.
        assert!(matches!(
            s.ingest(&finding("Other", t, "x")).unwrap(),
            Ingest::New(_)
        ));
        assert!(matches!(
            s.ingest(&finding("Flood", t + SEC, "late")).unwrap(),
            Ingest::New(_)
        ));
        let sup = s.suppressed().unwrap();
        assert_eq!(sup.len(), 1);
        assert_eq!((sup[0].rule.as_str(), sup[0].count), ("Flood", 7));
        assert_eq!(s.count(&Query::default()).unwrap().0, 5);
    }
}

#[test]
fn queries_filter_search_and_page() {
    for b in backends("query") {
        let mut s = Store::open_with(
            &b.url,
            Config {
                dedup_window_ns: 0,
                rate_per_minute: 0,
                burst: 1,
            },
        )
        .unwrap();
        let t = 1_700_000_000 * SEC;
        let mut batch = Vec::new();
        for i in 0..30 {
            let mut f = finding(
                if i % 3 == 0 {
                    "Read sensitive file"
                } else {
                    "Shell"
                },
                t + i * SEC,
                &format!("proc{i}"),
            );
            if i % 5 == 0 {
                f.priority = Priority::Critical;
            }
            if i == 7 {
                f.kind = Kind::Drift;
                f.message = "/etc/sudoers changed: 100% new_text".into();
            }
            batch.push(f);
        }
        s.ingest_batch(&batch).unwrap();
        let q = |q: Query, s: &mut Store| s.query(&q).unwrap();
        assert_eq!(q(Query::default(), &mut s).len(), 30);
        assert_eq!(q(Query::default(), &mut s)[0].last_ns, t + 29 * SEC);
        let crit = q(
            Query {
                min_priority: Some(Priority::Critical),
                ..Query::default()
            },
            &mut s,
        );
        assert_eq!(crit.len(), 6);
        assert!(crit.iter().all(|f| f.priority == Priority::Critical));
        let rule = q(
            Query {
                rule: Some("Read sensitive file".into()),
                ..Query::default()
            },
            &mut s,
        );
        assert_eq!(rule.len(), 10);
        // Case-insensitive words, and LIKE's wildcards are taken literally.
        let text = q(
            Query {
                text: "SUDOERS 100%".into(),
                ..Query::default()
            },
            &mut s,
        );
        assert_eq!(text.len(), 1);
        assert_eq!(text[0].kind, Kind::Drift);
        assert!(q(
            Query {
                text: "new%text".into(),
                ..Query::default()
            },
            &mut s
        )
        .is_empty());
        let evidence = q(
            Query {
                text: "proc12".into(),
                ..Query::default()
            },
            &mut s,
        );
        assert_eq!(evidence.len(), 1);
        // Pages by id.
        let page1 = q(
            Query {
                limit: 10,
                ..Query::default()
            },
            &mut s,
        );
        let page2 = q(
            Query {
                limit: 10,
                before_id: Some(page1.last().unwrap().id),
                ..Query::default()
            },
            &mut s,
        );
        assert_eq!(page2.len(), 10);
        assert!(page2[0].id < page1[9].id);
        let since = q(
            Query {
                since_ns: Some(t + 25 * SEC),
                ..Query::default()
            },
            &mut s,
        );
        assert_eq!(since.len(), 5);
        let by_rule = s.count_by_rule(&Query::default()).unwrap();
        assert_eq!(
            by_rule,
            vec![("Shell".into(), 20), ("Read sensitive file".into(), 10)]
        );
    }
}

#[test]
fn outbox_queues_routes_and_tracks_delivery() {
    for b in backends("outbox") {
        let mut s = Store::open(&b.url).unwrap();
        s.route(Route {
            output: "webhook".into(),
            min_priority: Priority::Debug,
            rules: vec![],
        });
        s.route(Route {
            output: "pager".into(),
            min_priority: Priority::Critical,
            rules: vec![],
        });
        let t = tripline_store::now_ns();
        let mut crit = finding("Crit", t, "a");
        crit.priority = Priority::Critical;
        s.ingest(&finding("Warn", t, "a")).unwrap();
        s.ingest(&crit).unwrap();
        // A fold is not a new delivery.
        s.ingest(&finding("Warn", t + 1, "a")).unwrap();
        let due = s.outbox_due("webhook", t, 10).unwrap();
        assert_eq!(
            due.iter()
                .map(|p| p.finding.rule.as_str())
                .collect::<Vec<_>>(),
            ["Warn", "Crit"]
        );
        assert_eq!(s.outbox_due("pager", t, 10).unwrap().len(), 1);
        s.outbox_failed(due[0].id, "connection refused", t + 10 * SEC)
            .unwrap();
        s.outbox_delivered(&[due[1].id], t).unwrap();
        assert!(s.outbox_due("webhook", t, 10).unwrap().is_empty());
        let later = s.outbox_due("webhook", t + 10 * SEC, 10).unwrap();
        assert_eq!((later.len(), later[0].attempts), (1, 1));
        let health = s.outbox_health().unwrap();
        let webhook = health.iter().find(|h| h.output == "webhook").unwrap();
        assert_eq!(
            (webhook.pending, webhook.delivered, webhook.retrying),
            (1, 1, 1)
        );
        assert_eq!(webhook.last_error.as_deref(), Some("connection refused"));
    }
}

#[test]
fn retention_by_age_and_size_keeps_undelivered_findings() {
    for b in backends("retention") {
        let mut s = Store::open_with(
            &b.url,
            Config {
                dedup_window_ns: 0,
                rate_per_minute: 0,
                burst: 1,
            },
        )
        .unwrap();
        let now = 1_800_000_000 * SEC;
        let day = 86_400 * SEC;
        let batch: Vec<NewFinding> = (0..100)
            .map(|i| finding("Old", now - 10 * day + i, &format!("p{i}")))
            .collect();
        s.ingest_batch(&batch).unwrap();
        s.route(Route {
            output: "down".into(),
            min_priority: Priority::Debug,
            rules: vec![],
        });
        s.ingest(&finding("Old but undelivered", now - 10 * day, "u"))
            .unwrap();
        s.routes_clear();
        s.ingest(&finding("Recent", now - 60 * SEC, "r")).unwrap();
        // Age is by arrival: make the first 101 arrive ten days before `now`.
        s.db()
            .exec(
                "UPDATE findings SET stored_ns = $1 WHERE rule <> 'Recent'",
                &[(now - 10 * day).into()],
            )
            .unwrap();
        s.db()
            .exec(
                "UPDATE findings SET stored_ns = $1 WHERE rule = 'Recent'",
                &[(now - 60 * SEC).into()],
            )
            .unwrap();
        let removed = s
            .retain(
                &Retention {
                    max_age_ns: Some(7 * day),
                    max_bytes: None,
                },
                now,
            )
            .unwrap();
        assert_eq!(removed, 100);
        let left: Vec<String> = s
            .query(&Query::default())
            .unwrap()
            .into_iter()
            .map(|f| f.rule)
            .collect();
        assert_eq!(left, ["Recent", "Old but undelivered"]);

        // By size: fill, then cap at a fraction of what is used.
        let big: Vec<NewFinding> = (0..2000)
            .map(|i| {
                let mut f = finding("Bulk", now + i, &format!("p{i}"));
                f.message = "x".repeat(500);
                f
            })
            .collect();
        s.ingest_batch(&big).unwrap();
        // Arrival order = event order here.
        s.db()
            .exec(
                "UPDATE findings SET stored_ns = last_ns WHERE rule = 'Bulk'",
                &[],
            )
            .unwrap();
        let used = s.db().used_bytes().unwrap();
        let removed = s
            .retain(
                &Retention {
                    max_age_ns: None,
                    max_bytes: Some(used / 2),
                },
                now,
            )
            .unwrap();
        assert!(removed >= 800, "removed {removed} of 2002");
        assert!(s.db().used_bytes().unwrap() <= used / 2);
        // The newest survive, and so does the undelivered one.
        let left = s
            .query(&Query {
                limit: 10_000,
                ..Query::default()
            })
            .unwrap();
        assert!(left.iter().any(|f| f.rule == "Old but undelivered"));
        assert_eq!(left[0].last_ns, now + 1999);
    }
}

#[test]
fn an_older_schema_migrates_with_its_findings() {
    for b in backends("migrate") {
        let mut old = Store::connect(&b.url, Config::default()).unwrap();
        assert_eq!(schema::migrate(old.db(), 1).unwrap(), 1);
        // A finding written by a version-1 build.
        old.db()
            .exec(
                "INSERT INTO findings (fingerprint, kind, rule, priority, source, hostname, entity, message, fields, tags, location, first_ns, last_ns, count, stored_ns)
                 VALUES ('fp', 'rule', 'From v1', 3, 'syscall', 'h', '', 'kept', '{\"proc.name\":\"bash\"}', '[\"shell\"]', NULL, 5, 6, 2, 7)",
                &[],
            )
            .unwrap();
        drop(old);
        let mut s = Store::open(&b.url).unwrap();
        let version =
            tripline_store::db::scalar(s.db(), "SELECT MAX(version) FROM schema_migrations", &[])
                .unwrap();
        assert_eq!(version, schema::CURRENT);
        let f = s.query(&Query::default()).unwrap();
        assert_eq!(
            (f[0].rule.as_str(), f[0].count, f[0].priority),
            ("From v1", 2, Priority::Error)
        );
        assert_eq!(f[0].fields["proc.name"], "bash");
        // Version 2 tables work.
        let token = s
            .create_token("admin", tripline_store::auth::Role::Admin)
            .unwrap();
        assert!(s.authenticate(&token).unwrap().is_some());
        // Opening again is a no-op.
        drop(s);
        Store::open(&b.url).unwrap();
    }
}

#[test]
fn a_newer_schema_is_refused_not_damaged() {
    for b in backends("newer") {
        let mut s = Store::open(&b.url).unwrap();
        s.db()
            .exec(
                "INSERT INTO schema_migrations (version, applied_ns) VALUES (99, 0)",
                &[],
            )
            .unwrap();
        drop(s);
        let err = Store::open(&b.url).unwrap_err().to_string();
        assert!(err.contains("newer than this build"), "{err}");
    }
}

#[test]
fn actions_wait_for_approval_and_are_audited() {
    use tripline_store::actions::Status;
    for b in backends("actions") {
        let mut s = Store::open(&b.url).unwrap();
        let Ingest::New(fid) = s.ingest(&finding("Shell", 1, "bash")).unwrap() else {
            panic!()
        };
        let pending = s.request_action(fid, "kill", "pid 42", false).unwrap();
        let auto = s.request_action(fid, "quarantine", "/tmp/x", true).unwrap();
        assert_eq!(s.actions(Some(Status::Pending), 10).unwrap().len(), 1);
        assert!(s.decide_action(pending, true, "alice").unwrap());
        // Deciding twice does nothing.
        assert!(!s.decide_action(pending, false, "bob").unwrap());
        s.finish_action(pending, true, "killed pid 42").unwrap();
        s.finish_action(auto, false, "no such file").unwrap();
        let all = s.actions_for(fid).unwrap();
        assert_eq!(all[0].status, Status::Done);
        assert_eq!(all[0].decided_by.as_deref(), Some("alice"));
        assert_eq!(all[0].result.as_deref(), Some("killed pid 42"));
        assert_eq!(
            (all[1].status, all[1].decided_by.as_deref()),
            (Status::Failed, Some("auto"))
        );
    }
}

#[test]
fn histogram_buckets_occurrences() {
    for b in backends("histogram") {
        let mut s = Store::open(&b.url).unwrap();
        let hour = 3600 * SEC;
        let t0 = 1_700_000_000 / 3600 * hour;
        for (i, t) in [t0, t0 + 10 * SEC, t0 + hour + 5, t0 + 3 * hour]
            .iter()
            .enumerate()
        {
            s.ingest(&finding("R", *t, &format!("p{i}"))).unwrap();
        }
        let h = s.histogram(&Query::default(), hour).unwrap();
        assert_eq!(h, vec![(t0, 2), (t0 + hour, 1), (t0 + 3 * hour, 1)]);
    }
}

/// A batch stored by another handle (another agent, a restart: nothing cached) folds into the
/// rows the store already holds, looked up once per batch, and not into rows outside the window.
#[test]
fn batches_fold_into_rows_another_handle_stored() {
    for b in backends("batch_fold") {
        let cfg = Config {
            dedup_window_ns: 60 * SEC,
            rate_per_minute: 0,
            ..Config::default()
        };
        let base = 1_700_000_000 * SEC;
        let Ingest::New(id) = Store::open_with(&b.url, cfg)
            .unwrap()
            .ingest(&finding("Shell", base, "bash"))
            .unwrap()
        else {
            panic!("first is new");
        };
        let mut other = Store::open_with(&b.url, cfg).unwrap();
        let got = other
            .ingest_batch(&[
                finding("Shell", base + SEC, "bash"),
                finding("Shell", base + SEC, "zsh"),
                finding("Shell", base + 2 * SEC, "bash"),
                finding("Shell", base + 300 * SEC, "bash"),
                finding("Shell", base + 301 * SEC, "bash"),
            ])
            .unwrap();
        assert_eq!(got[0], Ingest::Folded(id), "{}", b.url);
        let Ingest::New(zsh) = got[1] else {
            panic!("{got:?}")
        };
        assert_ne!(zsh, id);
        assert_eq!(got[2], Ingest::Folded(id));
        let Ingest::New(later) = got[3] else {
            panic!("past the window: {got:?}")
        };
        assert_eq!(got[4], Ingest::Folded(later));
        assert_eq!(other.get(id).unwrap().unwrap().count, 3);
    }
}

/// Checkpoints are saved with findings in one transaction, read back by another handle, and
/// old done marks are forgotten by their exact prefix (no LIKE wildcards).
#[test]
fn checkpoints_commit_with_findings_and_marks_are_forgotten_by_prefix() {
    for b in backends("checkpoints") {
        let mut s = Store::open(&b.url).unwrap();
        let base = 1_700_000_000 * SEC;
        s.ingest_batch_at(
            &[finding("Shell", base, "bash")],
            &[
                ("cloudtrail=sqs://q_1|s3://b/k1".into(), "done".into()),
                ("cloudtrail=sqs://qx1|s3://b/k2".into(), "done".into()),
                ("k8s-audit=file:///a.log".into(), "10".into()),
            ],
        )
        .unwrap();
        s.ingest_batch_at(&[], &[("k8s-audit=file:///a.log".into(), "20".into())])
            .unwrap();
        let mut other = Store::open(&b.url).unwrap();
        assert_eq!(
            other
                .checkpoint("k8s-audit=file:///a.log")
                .unwrap()
                .as_deref(),
            Some("20"),
            "{}",
            b.url
        );
        assert_eq!(other.count(&Default::default()).unwrap().0, 1);
        let n = other
            .forget_checkpoints("cloudtrail=sqs://q_1|", tripline_store::now_ns() + SEC)
            .unwrap();
        assert_eq!(n, 1, "{}", b.url);
        assert!(other
            .checkpoint("cloudtrail=sqs://q_1|s3://b/k1")
            .unwrap()
            .is_none());
        assert!(other
            .checkpoint("cloudtrail=sqs://qx1|s3://b/k2")
            .unwrap()
            .is_some());
    }
}
