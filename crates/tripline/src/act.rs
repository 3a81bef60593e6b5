//! The act stage of a run or replay: alerts leave the event path through a bounded findings
//! queue to one ingest thread, which stores them in batches (dedup, rate limits, outbox) and
//! requests the actions bound to their rules; outputs deliver from the outbox on their own
//! threads, the web UI serves the store, and approved actions run (live runs only).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;
use tripline_pipeline::{Batch, Commit, FindingsQueue, Overflow, QueueReceiver};
use tripline_respond::config::OutputConfig;
use tripline_server::{AppState, LiveStats, Running};
use tripline_store::auth::Role;
use tripline_store::{Config, Ingest, NewFinding, Store};

use tripline_respond::actions::{ActionBinding, Executor};

/// The default store: `/var/lib/tripline/store.db` for root, else under `$XDG_STATE_HOME`
/// (or `~/.local/state`).
pub fn default_store() -> String {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return "/var/lib/tripline/store.db".into();
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("tripline/store.db").display().to_string()
}

/// The `--config` file: outputs and actions (flags add to it).
///
/// ```yaml
/// outputs:
///   - name: siem
///     type: webhook
///     url: http://siem.internal:8080/ingest
///     format: ocsf
///     min_priority: warning
/// actions:
///   - rule: "Terminal shell in container"
///     action: kill
///     approval: required
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Outputs.
    #[serde(default)]
    pub outputs: Vec<OutputConfig>,
    /// Actions bound to rules.
    #[serde(default)]
    pub actions: Vec<ActionBinding>,
}

impl FileConfig {
    /// Reads and checks a config file; errors name the file and what is wrong.
    pub fn read(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --config {}", path.display()))?;
        let cfg: FileConfig = serde_yaml::from_str(&text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            anyhow::anyhow!("{}{at}: {e}", path.display())
        })?;
        for o in &cfg.outputs {
            o.validate()
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
        for a in &cfg.actions {
            a.validate()
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
        Ok(cfg)
    }
}

/// Settings for the act stage.
#[derive(Debug, Clone)]
pub struct ActConfig {
    /// Store URL; `None` keeps nothing (alerts only print).
    pub store: Option<String>,
    /// Dedup and rate limits.
    pub limits: Config,
    /// Outputs.
    pub outputs: Vec<OutputConfig>,
    /// Actions.
    pub actions: Vec<ActionBinding>,
    /// Where the UI listens; `None` serves nothing.
    pub listen: Option<String>,
    /// Execute approved actions (live runs only; never for replays of old logs).
    pub execute_actions: bool,
    /// `sensor`, `replay`.
    pub mode: String,
    /// Retention, applied at start and every 10 minutes.
    pub retention: tripline_store::Retention,
    /// Serve the UI over TLS with this certificate and key.
    pub tls: Option<tripline_server::Tls>,
    /// What a full findings queue does: wait (replays) or count the finding held back (the
    /// live agent, whose ring-buffer drain must never wait on the store).
    pub overflow: Overflow,
}

/// Findings the queue holds between the event path and the ingest thread.
const QUEUE_CAPACITY: usize = 1 << 14;

/// Most findings stored in one transaction.
const BATCH_MAX: usize = 1024;

/// How long the ingest thread waits for more findings after the first of a batch: a burst
/// becomes one transaction, a lone alert is stored within this.
const BATCH_LINGER: Duration = Duration::from_millis(5);

impl Drop for Act {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The running act stage.
pub struct Act {
    store: Option<Store>,
    actions: Vec<ActionBinding>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    server: Option<Running>,
    stats: Arc<Mutex<LiveStats>>,
    /// Alerts on their way to the ingest thread.
    queue: Option<FindingsQueue>,
    ingest: Option<JoinHandle<Ingested>>,
    /// What the one-shot path ([`Act::finding`]) and the ingest thread stored.
    totals: Ingested,
    retention: tripline_store::Retention,
    last_retain: std::time::Instant,
}

/// What the store did with findings.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ingested {
    /// Stored as new rows.
    pub new: u64,
    /// Folded into an earlier identical finding.
    pub folded: u64,
    /// Held back by the rule's rate limit.
    pub rate_limited: u64,
    /// Held back because the findings queue was full.
    pub queue_full: u64,
    /// Not stored because the store failed.
    pub errors: u64,
}

impl Ingested {
    fn add(&mut self, r: &Result<Ingest, tripline_store::StoreError>) {
        match r {
            Ok(Ingest::New(_)) => self.new += 1,
            Ok(Ingest::Folded(_)) => self.folded += 1,
            Ok(Ingest::Suppressed) => self.rate_limited += 1,
            Err(_) => self.errors += 1,
        }
    }

    fn merge(&mut self, o: Ingested) {
        self.new += o.new;
        self.folded += o.folded;
        self.rate_limited += o.rate_limited;
        self.queue_full += o.queue_full;
        self.errors += o.errors;
    }
}

impl Act {
    /// Opens the store, starts the outputs, the executor and the UI.
    pub fn start(cfg: &ActConfig) -> anyhow::Result<Act> {
        let stats = Arc::new(Mutex::new(LiveStats {
            mode: cfg.mode.clone(),
            ..LiveStats::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let mut act = Act {
            store: None,
            actions: cfg.actions.clone(),
            stop: stop.clone(),
            workers: Vec::new(),
            server: None,
            stats: stats.clone(),
            queue: None,
            ingest: None,
            totals: Ingested::default(),
            retention: cfg.retention,
            last_retain: std::time::Instant::now(),
        };
        let Some(url) = &cfg.store else {
            if !cfg.outputs.is_empty() || !cfg.actions.is_empty() {
                bail!("outputs and actions need a store (drop --no-store)");
            }
            return Ok(act);
        };
        let mut names = std::collections::BTreeSet::new();
        for o in &cfg.outputs {
            if !names.insert(o.name.clone()) {
                bail!(
                    "two outputs are named '{}'; give each a unique name",
                    o.name
                );
            }
        }
        let mut store = Store::open_with(url, cfg.limits).with_context(|| {
            format!(
                "opening the store {}",
                tripline_store::postgres::redact(url)
            )
        })?;
        for o in &cfg.outputs {
            store.route(o.route());
            let sink = tripline_respond::sinks::build(o).map_err(anyhow::Error::msg)?;
            let worker_store = Store::open(url)?;
            let (name, stop) = (o.name.clone(), stop.clone());
            act.workers.push(
                std::thread::Builder::new()
                    .name(format!("output-{name}"))
                    .spawn(move || {
                        tripline_respond::deliver::run(
                            worker_store,
                            name,
                            sink,
                            Duration::from_millis(100),
                            Duration::from_secs(60),
                            stop,
                            &mut |e| eprintln!("tripline: {e}"),
                        )
                    })?,
            );
        }
        if cfg.execute_actions && !cfg.actions.is_empty() {
            let mut exec = Executor::new(Store::open(url)?, cfg.actions.clone());
            let stop = stop.clone();
            act.workers.push(
                std::thread::Builder::new()
                    .name("actions".into())
                    .spawn(move || exec.run(&stop))?,
            );
        }
        if let Some(listen) = &cfg.listen {
            let addr = listen
                .parse()
                .with_context(|| format!("--listen '{listen}': expected ADDRESS:PORT"))?;
            let mut ui_store = Store::open(url)?;
            let first_token = if ui_store.has_tokens()? {
                None
            } else {
                Some(ui_store.create_token("admin", Role::Admin)?)
            };
            let state = AppState::new(ui_store, stats)
                .with_outputs(cfg.outputs.iter().map(|o| o.name.clone()).collect());
            let scheme = if cfg.tls.is_some() { "https" } else { "http" };
            match tripline_server::start_with(addr, state, cfg.tls.clone()) {
                Ok(server) => {
                    eprintln!("tripline: web UI and API at {scheme}://{}/", server.addr);
                    if let Some(t) = first_token {
                        eprintln!(
                            "tripline: admin token (shown once, stored hashed; make more with `tripline token create`): {t}"
                        );
                    }
                    act.server = Some(server);
                }
                // `serve` is only the UI; a watching agent matters more than its UI.
                Err(e) if cfg.mode == "serve" => bail!("{listen}: {e}"),
                Err(e) => eprintln!("tripline: web UI not started: {listen}: {e}"),
            }
        }
        // Alerts are stored by their own thread on its own connection, with the same routes.
        let mut ingest_store = Store::open_with(url, cfg.limits)?;
        for o in &cfg.outputs {
            ingest_store.route(o.route());
        }
        let (queue, rx) = FindingsQueue::bounded(QUEUE_CAPACITY, cfg.overflow);
        let actions = cfg.actions.clone();
        act.ingest = Some(
            std::thread::Builder::new()
                .name("ingest".into())
                .spawn(move || ingest_loop(ingest_store, rx, &actions))?,
        );
        act.queue = Some(queue);
        act.store = Some(store);
        act.retain();
        Ok(act)
    }

    /// Closes the findings queue and waits until the ingest thread stored what it held.
    fn close_queue(&mut self) {
        self.queue = None;
        if let Some(h) = self.ingest.take() {
            match h.join() {
                Ok(t) => self.totals.merge(t),
                Err(_) => eprintln!("tripline: the ingest thread failed"),
            }
        }
    }

    /// Stops the threads (the queue is stored and outputs make a last pass first); idempotent.
    fn shutdown(&mut self) {
        self.close_queue();
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        if let Some(s) = self.server.take() {
            s.stop();
        }
    }

    /// Live counters shown by the UI and `/metrics`.
    pub fn stats(&self) -> Arc<Mutex<LiveStats>> {
        self.stats.clone()
    }

    /// Hands an engine alert to the ingest thread, which stores it and requests the actions
    /// bound to its rule. Never waits when the queue counts overflow as held back.
    pub fn alert(&self, f: tripline_event::Finding) {
        if let Some(q) = &self.queue {
            q.send(f);
        }
    }

    /// A handle live sources use from their own threads: their findings wait for room in the
    /// queue (pushing back on the sender) instead of being held back.
    pub fn sink(&self) -> ActSink {
        ActSink {
            queue: self
                .queue
                .as_ref()
                .map(|q| q.with_overflow(Overflow::Block)),
        }
    }

    /// The store's URL, if findings are kept.
    pub fn store_url(&self) -> Option<String> {
        self.store.as_ref().map(|s| s.url().to_string())
    }

    /// Where a live source stopped, as saved with its findings; `None` without a store or
    /// before its first commit.
    pub fn checkpoint(&mut self, source: &str) -> anyhow::Result<Option<String>> {
        match self.store.as_mut() {
            Some(s) => Ok(s.checkpoint(source)?),
            None => Ok(None),
        }
    }

    /// Applies retention (a finding still queued for an output is kept).
    fn retain(&mut self) {
        self.last_retain = std::time::Instant::now();
        let (Some(store), r) = (self.store.as_mut(), self.retention) else {
            return;
        };
        if r.max_age_ns.is_none() && r.max_bytes.is_none() {
            return;
        }
        match store.retain(&r, tripline_store::now_ns()) {
            Ok(0) => {}
            Ok(n) => eprintln!("tripline: retention removed {n} findings"),
            Err(e) => eprintln!("tripline: retention: {e}"),
        }
    }

    /// Stores any finding now, on the caller's thread (one-shot commands: drift, policy,
    /// identity), and requests the actions bound to it.
    pub fn finding(&mut self, f: &NewFinding) {
        if self.last_retain.elapsed() > Duration::from_secs(600) {
            self.retain();
        }
        let Some(store) = self.store.as_mut() else {
            return;
        };
        let r = store.ingest(f);
        if let Ok(Ingest::New(id)) = r {
            request_actions(store, &self.actions, id, f);
        }
        if let Err(e) = &r {
            if self.totals.errors == 0 {
                eprintln!("tripline: store: {e}");
            }
        }
        self.totals.add(&r);
    }

    /// Runs the approved actions (automatic ones are approved when requested) now, for
    /// one-shot commands that do not keep an executor running.
    pub fn run_approved_actions(
        &mut self,
    ) -> anyhow::Result<Vec<tripline_respond::actions::Outcome>> {
        let Some(store) = &self.store else {
            return Ok(Vec::new());
        };
        if self.actions.is_empty() {
            return Ok(Vec::new());
        }
        let mut exec = Executor::new(Store::open(store.url())?, self.actions.clone());
        Ok(exec.run_approved()?)
    }

    /// For one-shot commands (`drift`, `policy eval`): stores `findings`, runs the actions
    /// bound to them that need no approval, prints what each did, and delivers to outputs.
    pub fn store_once(cfg: &ActConfig, findings: &[NewFinding]) -> anyhow::Result<()> {
        let mut act = Act::start(cfg)?;
        for f in findings {
            act.finding(f);
        }
        for o in act.run_approved_actions()? {
            eprintln!(
                "action {} on {}: {}: {}",
                o.action,
                o.target,
                if o.ok { "done" } else { "failed" },
                o.text
            );
        }
        act.finish();
        Ok(())
    }

    /// Stores what is queued, stops outputs (after a last delivery pass), the executor and the
    /// UI; prints a summary and returns what was stored.
    pub fn finish(mut self) -> Ingested {
        self.shutdown();
        let t = self.totals;
        if let Some(store) = self.store.as_mut() {
            if t.new + t.folded + t.rate_limited + t.queue_full > 0 {
                eprintln!(
                    "Store: {} new findings, {} folded into earlier ones, {} held back by rate limits, {} held back by a full findings queue ({})",
                    t.new,
                    t.folded,
                    t.rate_limited,
                    t.queue_full,
                    store.url()
                );
            }
            if let Ok(h) = store.outbox_health() {
                for o in h.iter().filter(|o| o.pending > 0) {
                    eprintln!(
                        "Output {}: {} findings still queued, delivered at the next start{}",
                        o.output,
                        o.pending,
                        o.last_error
                            .as_deref()
                            .map(|e| format!(" (last error: {e})"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        if t.errors > 0 {
            eprintln!("tripline: {} findings could not be stored", t.errors);
        }
        t
    }
}

/// The act stage as seen by a live source's thread (see [`Act::sink`]).
#[derive(Debug, Clone)]
pub struct ActSink {
    queue: Option<FindingsQueue>,
}

impl ActSink {
    /// Stores a batch's findings in one transaction with its checkpoints, then calls its
    /// `done` (at once without a store: they were printed, which is all a store-less run
    /// keeps).
    pub fn commit(&self, c: Commit) {
        match &self.queue {
            Some(q) => q.commit(c),
            None => (c.done)(Ok(())),
        }
    }
}

/// Requests the actions bound to a newly stored finding.
fn request_actions(store: &mut Store, actions: &[ActionBinding], id: i64, f: &NewFinding) {
    for a in actions.iter().filter(|a| a.applies(f)) {
        let target = a.target(f);
        if let Err(e) = store.request_action(id, a.action.name(), &target, !a.needs_approval()) {
            eprintln!("tripline: recording action {}: {e}", a.action.name());
        }
    }
}

/// The ingest thread: stores queued alerts in batches (one transaction each), requests their
/// actions, and records findings the full queue held back, until every sender is gone.
fn ingest_loop(mut store: Store, rx: QueueReceiver, actions: &[ActionBinding]) -> Ingested {
    let mut totals = Ingested::default();
    let record_held_back = |store: &mut Store, totals: &mut Ingested| {
        for (rule, n) in rx.counts().take_held_by_rule() {
            totals.queue_full += n;
            if let Err(e) = store.count_held_back(&rule, n, tripline_store::now_ns()) {
                eprintln!("tripline: store: counting held-back findings: {e}");
            }
        }
    };
    while let Some(Batch { findings, commits }) = rx.next_batch(BATCH_MAX, BATCH_LINGER) {
        let batch: Vec<NewFinding> = findings
            .iter()
            .map(|f| {
                let mut n = NewFinding::from_alert(f);
                if f.tags.iter().any(|t| t == "anomaly") {
                    n.kind = tripline_store::Kind::Anomaly;
                }
                n
            })
            .collect();
        let checkpoints: Vec<(String, String)> = commits
            .iter()
            .flat_map(|c| c.checkpoints.iter().cloned())
            .collect();
        let outcome = match store.ingest_batch_at(&batch, &checkpoints) {
            Ok(results) => {
                for (r, f) in results.into_iter().zip(&batch) {
                    if let Ingest::New(id) = r {
                        request_actions(&mut store, actions, id, f);
                    }
                    totals.add(&Ok(r));
                }
                Ok(())
            }
            Err(e) => {
                // The alerts were printed already; say so once per burst, never panic.
                let before = totals.errors;
                totals.errors += batch.len() as u64;
                if before == 0 || (before + 1).is_power_of_two() || totals.errors.is_power_of_two()
                {
                    eprintln!(
                        "tripline: store: {e} ({} findings not stored)",
                        totals.errors
                    );
                }
                Err(e.to_string())
            }
        };
        for c in commits {
            (c.done)(outcome.clone());
        }
        record_held_back(&mut store, &mut totals);
    }
    record_held_back(&mut store, &mut totals);
    totals
}
