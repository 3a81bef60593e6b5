//! Tripline's HTTP side: a JSON API (`/api/v1/...`), server-rendered pages that work without
//! internet or JavaScript, and Prometheus metrics (`/metrics`), all behind API tokens
//! (`tripline_store::auth`). Binds 127.0.0.1 by default; the agent prints the URL and, on first
//! start, the admin token.
//!
//! ```no_run
//! use std::sync::{Arc, Mutex};
//! use tripline_server::{start, AppState, LiveStats};
//! let store = tripline_store::Store::open("/var/lib/tripline/store.db").unwrap();
//! let state = AppState::new(store, Arc::new(Mutex::new(LiveStats::default())));
//! let server = start("127.0.0.1:8765".parse().unwrap(), state).unwrap();
//! println!("UI at http://{}", server.addr);
//! ```

pub mod api;
pub mod auth;
pub mod metrics;
pub mod pages;
pub mod stats;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::routing::{get, post};
use axum::Router;
use tripline_store::{Store, StoreError};

pub use stats::{LiveStats, SourceStats};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    store: Arc<Mutex<Store>>,
    stats: Arc<Mutex<LiveStats>>,
    /// Output names configured (health shows them even before their first finding).
    outputs: Arc<Vec<String>>,
    /// Served over TLS: cookies get `Secure`.
    pub(crate) tls: bool,
    /// UI sessions by id: the cookie carries a random id, never the token.
    pub(crate) sessions: Arc<auth::Sessions>,
}

impl AppState {
    /// Serves `store`, showing `stats` as the agent updates them.
    pub fn new(store: Store, stats: Arc<Mutex<LiveStats>>) -> AppState {
        AppState {
            store: Arc::new(Mutex::new(store)),
            stats,
            outputs: Arc::new(Vec::new()),
            tls: false,
            sessions: Arc::new(auth::Sessions::default()),
        }
    }

    /// The configured output names.
    pub fn with_outputs(mut self, names: Vec<String>) -> AppState {
        self.outputs = Arc::new(names);
        self
    }

    /// Runs `f` on the store off the async workers.
    pub async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, String> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut s).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// A copy of the live counters.
    pub fn stats(&self) -> LiveStats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/login", get(pages::login_page).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/", get(pages::home))
        .route("/findings", get(pages::findings))
        .route("/findings/{id}", get(pages::finding))
        .route("/actions", get(pages::actions))
        .route("/actions/{id}/{decision}", post(pages::decide))
        .route("/status", get(pages::status))
        .route("/api/v1/findings", get(api::findings))
        .route("/api/v1/findings/{id}", get(api::finding))
        .route("/api/v1/status", get(api::status))
        .route("/api/v1/actions", get(api::actions))
        .route("/api/v1/actions/{id}/{decision}", post(api::decide))
        .route("/metrics", get(metrics::metrics))
        .with_state(state)
}

/// A running server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, finishes open requests, and joins the server thread.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

/// A certificate and its private key, PEM files.
#[derive(Debug, Clone)]
pub struct Tls {
    /// Certificate chain.
    pub cert: std::path::PathBuf,
    /// Private key.
    pub key: std::path::PathBuf,
}

/// Binds `addr` (port 0 picks one) and serves plain HTTP on a thread of its own with a small
/// runtime, so the agent's event loop never shares a core with page rendering by accident.
pub fn start(addr: SocketAddr, state: AppState) -> std::io::Result<Running> {
    start_with(addr, state, None)
}

/// [`start`], over TLS when `tls` is given (cookies are then `Secure`).
pub fn start_with(
    addr: SocketAddr,
    mut state: AppState,
    tls: Option<Tls>,
) -> std::io::Result<Running> {
    state.tls = tls.is_some();
    let rustls_config = match &tls {
        Some(t) => {
            // One process-wide crypto provider; a second install is a harmless no-op error.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let rt = tokio::runtime::Builder::new_current_thread().build()?;
            let cfg = rt
                .block_on(axum_server::tls_rustls::RustlsConfig::from_pem_file(
                    &t.cert, &t.key,
                ))
                .map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!(
                            "TLS certificate {} / key {}: {e}",
                            t.cert.display(),
                            t.key.display()
                        ),
                    )
                })?;
            Some(cfg)
        }
        None => None,
    };
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let bound = std_listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(4)
        .enable_all()
        .thread_name("tripline-http")
        .build()?;
    let thread = std::thread::Builder::new()
        .name("tripline-http".into())
        .spawn(move || {
            rt.block_on(async move {
                let app = router(state);
                if let Some(cfg) = rustls_config {
                    let handle = axum_server::Handle::new();
                    let stopper = handle.clone();
                    tokio::spawn(async move {
                        let _ = rx.await;
                        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
                    });
                    match axum_server::tls_rustls::from_tcp_rustls(std_listener, cfg) {
                        Ok(server) => {
                            let _ = server.handle(handle).serve(app.into_make_service()).await;
                        }
                        Err(e) => eprintln!("tripline: https: {e}"),
                    }
                    return;
                }
                let listener = match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("tripline: http: {e}");
                        return;
                    }
                };
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        })?;
    Ok(Running {
        addr: bound,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}
