//! Live sources inside the agent (`tripline run --source KIND=WHERE`): each source's batches
//! go through that source's pipeline on a worker thread of their own, and its findings are
//! committed together with the source's position before the sender is acknowledged.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context;
use tripline_event::Finding;
use tripline_live::follow::{FollowConfig, Position};
use tripline_live::webhook::{self, Routes, WebhookConfig};
use tripline_live::{At, Counters, Delivery, Kind, Outlet, Records, SourceStatus, Spec};
use tripline_pipeline::{Audit, Commit, Json, Pipeline};

use crate::act::{Act, ActSink};

/// The detectors of one live source.
pub enum SourcePipeline {
    /// JSON log records.
    Json(Pipeline<Json>),
    /// Linux audit records.
    Audit(Pipeline<Audit>),
}

/// How the live sources run.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// The `--source` arguments.
    pub specs: Vec<Spec>,
    /// The webhook listener (used when a source is `webhook`).
    pub webhook: WebhookConfig,
    /// How files are followed.
    pub follow: FollowConfig,
    /// How S3 and SQS are reached.
    pub aws: tripline_live::aws::AwsConfig,
    /// The GitHub webhook's secret and API access (needed for `github=webhook`).
    pub github: Option<tripline_live::github::GithubConfig>,
    /// Okta API token (needed for `okta=okta://ORG`).
    pub okta_token: Option<String>,
    /// Okta API base instead of `https://ORG` (a proxy, a test server).
    pub okta_api_url: Option<String>,
    /// Pause of polled sources (Okta) once they are caught up.
    pub poll: std::time::Duration,
    /// Batches each source's queue holds before a webhook answers 429 (pull sources wait).
    pub queue_batches: usize,
}

/// What one source's worker evaluated.
#[derive(Debug, Clone, Default)]
pub struct SourceSummary {
    /// Records evaluated.
    pub events: u64,
    /// Findings per rule.
    pub alerts_by_rule: BTreeMap<String, u64>,
}

/// Prints one finding (shared by the sensor path and every source's worker).
pub type Printer = Arc<dyn Fn(&Finding) + Send + Sync>;

/// The running live sources.
pub struct Live {
    stop: Arc<AtomicBool>,
    followers: Vec<JoinHandle<()>>,
    webhook: Option<webhook::Running>,
    workers: Vec<(String, JoinHandle<SourceSummary>)>,
    counters: Vec<(String, Arc<Counters>)>,
}

impl Live {
    /// Starts every source of `cfg`: followed files resume at the position the store holds
    /// for them; `pipeline` builds the detectors for a source's kind.
    pub fn start(
        cfg: &LiveConfig,
        act: &mut Act,
        print: Printer,
        pipeline: &mut dyn FnMut(Kind) -> anyhow::Result<SourcePipeline>,
    ) -> anyhow::Result<Live> {
        let mut live = Live {
            stop: Arc::new(AtomicBool::new(false)),
            followers: Vec::new(),
            webhook: None,
            workers: Vec::new(),
            counters: Vec::new(),
        };
        let mut routes = Routes::default();
        for spec in &cfg.specs {
            let (outlet, rx) = Outlet::bounded(cfg.queue_batches);
            live.counters
                .push((spec.id.clone(), outlet.counters.clone()));
            match &spec.at {
                At::Webhook if spec.kind == Kind::Json(tripline_sources::SourceKind::Github) => {
                    if routes.github.is_some() {
                        anyhow::bail!("--source {}: given twice", spec.id);
                    }
                    let Some(gh) = cfg.github.clone() else {
                        anyhow::bail!(
                            "--source {} needs --github-webhook-secret-file (the secret GitHub signs deliveries with)",
                            spec.id
                        );
                    };
                    routes.github = Some((outlet.clone(), gh));
                }
                At::Webhook => {
                    if routes.k8s_audit.is_some() {
                        anyhow::bail!("--source {}: given twice", spec.id);
                    }
                    routes.k8s_audit = Some(outlet.clone());
                }
                At::Okta { org } => {
                    let Some(token) = cfg.okta_token.clone() else {
                        anyhow::bail!(
                            "--source {} needs an API token: --okta-token or OKTA_API_TOKEN",
                            spec.id
                        );
                    };
                    let okta = tripline_live::okta::OktaConfig {
                        base_url: cfg
                            .okta_api_url
                            .clone()
                            .unwrap_or_else(|| format!("https://{org}")),
                        token,
                        poll: cfg.poll,
                        limit: 1000,
                    };
                    live.followers.push(
                        tripline_live::okta::spawn(
                            okta,
                            act.checkpoint(&spec.id)?,
                            outlet.clone(),
                            live.stop.clone(),
                        )
                        .with_context(|| format!("--source {}", spec.id))?,
                    );
                }
                At::S3 { .. } | At::Sqs { .. } => {
                    let seen = seen_marks(act, &spec.id)?;
                    live.followers.push(
                        tripline_live::aws::spawn(
                            spec.id.clone(),
                            spec.at.clone(),
                            cfg.aws.clone(),
                            act.checkpoint(&spec.id)?,
                            seen,
                            outlet.clone(),
                            live.stop.clone(),
                        )
                        .with_context(|| format!("--source {}", spec.id))?,
                    );
                }
                At::File(path) => {
                    let start = match act.checkpoint(&spec.id)? {
                        Some(text) => Some(
                            text.parse::<Position>()
                                .map_err(|e| anyhow::anyhow!("--source {}: {e}", spec.id))?,
                        ),
                        None => None,
                    };
                    live.followers.push(
                        tripline_live::follow::spawn(
                            path.clone(),
                            spec.kind,
                            start,
                            cfg.follow,
                            outlet.clone(),
                            live.stop.clone(),
                        )
                        .with_context(|| format!("--source {}", spec.id))?,
                    );
                }
            }
            let worker = Worker {
                id: spec.id.clone(),
                pipeline: pipeline(spec.kind)?,
                sink: act.sink(),
                print: print.clone(),
                counters: outlet.counters.clone(),
            };
            drop(outlet);
            live.workers.push((
                spec.id.clone(),
                std::thread::Builder::new()
                    .name("tripline-source".into())
                    .spawn(move || worker.run(rx))?,
            ));
        }
        if routes.k8s_audit.is_some() || routes.github.is_some() {
            let names: Vec<(&str, &str)> = [
                (
                    routes.k8s_audit.is_some(),
                    "Kubernetes audit",
                    webhook::K8S_AUDIT_PATH,
                ),
                (routes.github.is_some(), "GitHub", webhook::GITHUB_PATH),
            ]
            .into_iter()
            .filter(|(on, _, _)| *on)
            .map(|(_, name, path)| (name, path))
            .collect();
            let running = webhook::start(&cfg.webhook, routes)?;
            let scheme = if cfg.webhook.tls.is_some() {
                "https"
            } else {
                "http"
            };
            for (name, path) in names {
                eprintln!(
                    "tripline: {name} webhook at {scheme}://{}{path}",
                    running.addr
                );
            }
            live.webhook = Some(running);
        }
        Ok(live)
    }

    /// The address the webhook listens on, if one runs.
    pub fn webhook_addr(&self) -> Option<std::net::SocketAddr> {
        self.webhook.as_ref().map(|w| w.addr)
    }

    /// Each source's counters so far.
    pub fn status(&self) -> Vec<SourceStatus> {
        self.counters.iter().map(|(id, c)| c.status(id)).collect()
    }

    /// Stops reading (followers hand on what they read, the webhook finishes requests in
    /// flight), lets the workers evaluate what is queued, and returns their summaries.
    pub fn stop(mut self) -> Vec<(String, SourceSummary)> {
        self.stop.store(true, Ordering::Relaxed);
        for f in self.followers.drain(..) {
            let _ = f.join();
        }
        if let Some(w) = self.webhook.take() {
            w.stop();
        }
        self.workers
            .drain(..)
            .map(|(id, h)| (id, h.join().unwrap_or_default()))
            .collect()
    }
}

/// How long the done marks of queue messages are kept: SQS keeps a message 14 days at most.
const MARKS_KEPT_NS: i64 = 15 * 86_400 * 1_000_000_000;

/// Looks done marks up in the store, on a connection of its own (without a store, nothing
/// is known done: a message delivered again is evaluated again). Marks older than any
/// message can be are forgotten at start and every hour.
fn seen_marks(act: &Act, source: &str) -> anyhow::Result<tripline_live::aws::Seen> {
    let Some(url) = act.store_url() else {
        return Ok(Arc::new(|_: &str| false));
    };
    let prefix = format!("{source}|");
    let mut store = tripline_store::Store::open(&url)?;
    let forget = move |s: &mut tripline_store::Store| {
        let before = tripline_store::now_ns() - MARKS_KEPT_NS;
        if let Err(e) = s.forget_checkpoints(&prefix, before) {
            eprintln!("tripline: forgetting old done marks: {e}");
        }
    };
    forget(&mut store);
    let state = std::sync::Mutex::new((store, std::time::Instant::now()));
    Ok(Arc::new(move |mark: &str| {
        let Ok(mut guard) = state.lock() else {
            return false;
        };
        let (store, last) = &mut *guard;
        if last.elapsed() > std::time::Duration::from_secs(3600) {
            *last = std::time::Instant::now();
            forget(store);
        }
        store.checkpoint(mark).ok().flatten().is_some()
    }))
}

/// Evaluates one source's deliveries in order.
struct Worker {
    id: String,
    pipeline: SourcePipeline,
    sink: ActSink,
    print: Printer,
    counters: Arc<Counters>,
}

impl Worker {
    fn run(mut self, rx: Receiver<Delivery>) -> SourceSummary {
        let mut events = 0u64;
        for d in rx {
            let print = &self.print;
            let mut findings = Vec::new();
            let mut emit = |f: Finding| {
                print(&f);
                findings.push(f);
            };
            let n = match (&mut self.pipeline, d.records) {
                (SourcePipeline::Json(p), Records::Json(evs)) => {
                    for ev in &evs {
                        p.process(ev, &mut emit);
                    }
                    evs.len() as u64
                }
                (SourcePipeline::Audit(p), Records::Audit(evs)) => evs
                    .into_iter()
                    .map(|ev| crate::replay::audit_event(p, ev, &mut emit))
                    .sum(),
                // A source only delivers its own kind of record.
                _ => 0,
            };
            events += n;
            self.counters.events.fetch_add(n, Ordering::Relaxed);
            let counters = self.counters.clone();
            let (received, done) = (d.received_ns, d.done);
            let position = d.checkpoint.clone();
            let mut checkpoints: Vec<(String, String)> = d
                .marks
                .into_iter()
                .map(|m| (m, "done".to_string()))
                .collect();
            checkpoints.extend(d.checkpoint.map(|p| (self.id.clone(), p)));
            self.sink.commit(Commit {
                findings,
                checkpoints,
                done: Box::new(move |r| {
                    match &r {
                        Ok(()) => {
                            Counters::bump(&counters.batches);
                            let now = tripline_store::now_ns().max(0) as u64;
                            counters
                                .lag_ns
                                .store(now.saturating_sub(received), Ordering::Relaxed);
                            if let Some(p) = position {
                                counters.set_checkpoint(&p);
                            }
                        }
                        Err(e) => counters.error(format!("store: {e}")),
                    }
                    if let Some(done) = done {
                        done(r);
                    }
                }),
            });
        }
        // The source ended: correlation windows emit what they hold.
        let print = &self.print;
        let mut findings = Vec::new();
        let mut emit = |f: Finding| {
            print(&f);
            findings.push(f);
        };
        let alerts_by_rule = match &mut self.pipeline {
            SourcePipeline::Json(p) => {
                p.finish(&mut emit);
                p.alerts_by_rule().clone()
            }
            SourcePipeline::Audit(p) => {
                p.finish(&mut emit);
                p.alerts_by_rule().clone()
            }
        };
        self.sink.commit(Commit {
            findings,
            checkpoints: Vec::new(),
            done: Box::new(|_| {}),
        });
        SourceSummary {
            events,
            alerts_by_rule,
        }
    }
}
