//! The agent's webhook listener: the Kubernetes API server posts audit events to
//! `/k8s-audit` (Falco's path and default port 9765), GitHub its deliveries to `/github`
//! (signed with the webhook secret, see [`crate::github`]).
//!
//! A request is answered only once the findings of its events are stored: 200, or 400 naming
//! the items that were not audit events (the others are stored). A full pipeline queue is
//! 429 with `Retry-After` (the API server's batch backend retries), a body above the limit
//! 413, a missing client certificate a refused handshake, a wrong bearer token 401.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tripline_sources::{k8s_audit, JsonEvent};

use crate::delivery::{Counters, Delivery, Outlet, Records};

/// Falco's k8saudit endpoint.
pub const K8S_AUDIT_PATH: &str = "/k8s-audit";

/// The GitHub webhook endpoint.
pub const GITHUB_PATH: &str = "/github";

/// How the listener is set up.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Address and port (Falco's default is `0.0.0.0:9765`).
    pub listen: SocketAddr,
    /// TLS; required unless `listen` is a loopback address.
    pub tls: Option<TlsFiles>,
    /// Require `Authorization: Bearer TOKEN` (the webhook kubeconfig's `token`).
    pub bearer_token: Option<String>,
    /// Largest request body; larger ones are refused with 413.
    pub max_body_bytes: usize,
    /// How long a request waits for its findings to be stored before answering 503 (the
    /// sender retries).
    pub commit_timeout: Duration,
}

/// PEM files for TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Server certificate chain.
    pub cert: PathBuf,
    /// Server private key.
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by one of these CAs (the webhook
    /// kubeconfig's `client-certificate`).
    pub client_ca: Option<PathBuf>,
}

/// What the listener serves.
#[derive(Debug, Default)]
pub struct Routes {
    /// Kubernetes audit events, at [`K8S_AUDIT_PATH`].
    pub k8s_audit: Option<Outlet>,
    /// GitHub deliveries, at [`GITHUB_PATH`].
    pub github: Option<(Outlet, crate::github::GithubConfig)>,
}

/// Why the listener did not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Plain HTTP on an address other hosts reach.
    #[error("the webhook would listen on {0} without TLS: give --webhook-tls-cert and --webhook-tls-key, or listen on 127.0.0.1")]
    PlainHttp(SocketAddr),
    /// A PEM file could not be read or used.
    #[error("{path}: {reason}")]
    Tls {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Binding or starting the runtime failed.
    #[error("webhook {0}: {1}")]
    Io(SocketAddr, std::io::Error),
}

/// The running listener; [`Running::stop`] (or drop) shuts it down and drops its outlets.
#[derive(Debug)]
pub struct Running {
    /// The bound address (port 0 picks one).
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish (up to 5 s), and waits.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
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
        self.halt();
    }
}

struct K8sRoute {
    outlet: Outlet,
    /// `evt.num` of the next event.
    next_num: AtomicU64,
}

struct GithubRoute {
    outlet: Outlet,
    cfg: crate::github::GithubConfig,
    next_num: AtomicU64,
}

struct App {
    k8s: Option<K8sRoute>,
    github: Option<GithubRoute>,
    /// SHA-256 of the bearer token: compared in constant time, never kept in clear.
    token_hash: Option<[u8; 32]>,
    commit_timeout: Duration,
}

/// Starts the listener on its own thread.
pub fn start(cfg: &WebhookConfig, routes: Routes) -> Result<Running, WebhookError> {
    let tls = match &cfg.tls {
        Some(files) => Some(server_config(files)?),
        None if cfg.listen.ip().is_loopback() => None,
        None => return Err(WebhookError::PlainHttp(cfg.listen)),
    };
    let io = |e| WebhookError::Io(cfg.listen, e);
    let listener = std::net::TcpListener::bind(cfg.listen).map_err(io)?;
    listener.set_nonblocking(true).map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let app = Arc::new(App {
        k8s: routes.k8s_audit.map(|outlet| K8sRoute {
            outlet,
            next_num: AtomicU64::new(1),
        }),
        github: routes.github.map(|(outlet, cfg)| GithubRoute {
            outlet,
            cfg,
            next_num: AtomicU64::new(1),
        }),
        token_hash: cfg
            .bearer_token
            .as_ref()
            .map(|t| Sha256::digest(t.as_bytes()).into()),
        commit_timeout: cfg.commit_timeout,
    });
    let router = Router::new()
        .route(K8S_AUDIT_PATH, post(k8s_audit_post))
        .route(GITHUB_PATH, post(github_post))
        .layer(DefaultBodyLimit::max(cfg.max_body_bytes))
        .with_state(app);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("tripline-webhook")
        .build()
        .map_err(io)?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("tripline-webhook".into())
        .spawn(move || {
            rt.block_on(serve(listener, router, tls, rx));
        })
        .map_err(io)?;
    Ok(Running {
        addr,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}

async fn serve(
    listener: std::net::TcpListener,
    router: Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        let _ = stop.await;
        stopper.graceful_shutdown(Some(Duration::from_secs(5)));
    });
    let service = router.into_make_service();
    let result = match tls {
        Some(cfg) => match axum_server::tls_rustls::from_tcp_rustls(listener, cfg) {
            Ok(server) => server.handle(handle).serve(service).await,
            Err(e) => Err(e),
        },
        None => match axum_server::from_tcp(listener) {
            Ok(server) => server.handle(handle).serve(service).await,
            Err(e) => Err(e),
        },
    };
    if let Err(e) = result {
        eprintln!("tripline: webhook: {e}");
    }
}

/// Reads the PEM files into a rustls configuration (client certificates verified when a CA
/// is given).
fn server_config(files: &TlsFiles) -> Result<axum_server::tls_rustls::RustlsConfig, WebhookError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let fail = |path: &PathBuf, reason: String| WebhookError::Tls {
        path: path.display().to_string(),
        reason,
    };
    let read_certs = |path: &PathBuf| -> Result<Vec<CertificateDer<'static>>, WebhookError> {
        let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
            .map_err(|e| fail(path, e.to_string()))?
            .collect();
        let certs = certs.map_err(|e| fail(path, e.to_string()))?;
        if certs.is_empty() {
            return Err(fail(path, "no PEM certificate in the file".into()));
        }
        Ok(certs)
    };
    // One process-wide crypto provider; a second install is a harmless no-op error.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let chain = read_certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        fail(
            &files.key,
            format!("expected a PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
        )
    })?;
    let builder = rustls::ServerConfig::builder();
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in read_certs(ca)? {
                roots.add(c).map_err(|e| fail(ca, e.to_string()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .map_err(|e| fail(ca, e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder
        .with_single_cert(chain, key)
        .map_err(|e| fail(&files.cert, e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(
        Arc::new(cfg),
    ))
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Whether the request carries the configured bearer token (always, when none is set).
fn authorized(app: &App, headers: &HeaderMap) -> bool {
    let Some(want) = &app.token_hash else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let got: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
    // Constant time: no early exit on the first differing byte.
    got.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

async fn k8s_audit_post(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(route) = &app.k8s else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": "no k8s-audit source is configured (--source k8s-audit=webhook)"}),
        );
    };
    let counters = &route.outlet.counters;
    if !authorized(&app, &headers) {
        Counters::bump(&counters.unauthorized);
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": "missing or wrong bearer token"}),
        );
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            Counters::bump(&counters.rejected);
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("body is not JSON: {e}")}),
            );
        }
    };
    let mut parts = Vec::new();
    k8s_audit::split(value, &mut parts);
    let mut events = Vec::with_capacity(parts.len());
    let mut rejected = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        match part {
            Ok((record, time_ns)) => {
                let num = route.next_num.fetch_add(1, Ordering::Relaxed);
                events.push(JsonEvent::new(k8s_audit::source(), record, time_ns, num));
            }
            Err(why) => rejected.push(json!({"item": i, "error": why.to_string()})),
        }
    }
    counters
        .rejected
        .fetch_add(rejected.len() as u64, Ordering::Relaxed);
    let accepted = events.len();
    if accepted > 0 {
        if let Err(r) = commit(&route.outlet, events, app.commit_timeout).await {
            return r;
        }
    }
    if rejected.is_empty() {
        answer(StatusCode::OK, json!({"accepted": accepted}))
    } else {
        answer(
            StatusCode::BAD_REQUEST,
            json!({
                "error": "some items are not Kubernetes audit events; the others were accepted",
                "accepted": accepted,
                "rejected": rejected,
            }),
        )
    }
}

/// Hands events to the source's worker and waits until their findings are stored; the error
/// is the response to give instead (429 when the queue is full, 503 when not stored).
async fn commit(
    outlet: &Outlet,
    events: Vec<JsonEvent>,
    timeout: Duration,
) -> Result<(), Response> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let delivery = Delivery {
        records: Records::Json(events),
        checkpoint: None,
        marks: Vec::new(),
        done: Some(Box::new(move |r| {
            let _ = tx.send(r);
        })),
        received_ns: crate::now_ns(),
    };
    let retry = |status: StatusCode, after: &'static str, error: String| {
        (
            status,
            [(header::RETRY_AFTER, after)],
            axum::Json(json!({ "error": error })),
        )
            .into_response()
    };
    if outlet.try_deliver(delivery).is_err() {
        Counters::bump(&outlet.counters.refused_full);
        return Err(retry(
            StatusCode::TOO_MANY_REQUESTS,
            "1",
            "the pipeline queue is full; retry".into(),
        ));
    }
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(retry(
            StatusCode::SERVICE_UNAVAILABLE,
            "5",
            format!("findings not stored: {e}"),
        )),
        Ok(Err(_)) | Err(_) => Err(retry(
            StatusCode::SERVICE_UNAVAILABLE,
            "5",
            "findings not stored in time; retry".into(),
        )),
    }
}

async fn github_post(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(route) = &app.github else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": "no github source is configured (--source github=webhook)"}),
        );
    };
    let counters = &route.outlet.counters;
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let signature = header_text("x-hub-signature-256");
    if !crate::github::signed(&route.cfg.secret, &body, &signature) {
        Counters::bump(&counters.unauthorized);
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": "missing or wrong X-Hub-Signature-256"}),
        );
    }
    let kind = header_text("x-github-event");
    if kind == "ping" {
        return answer(StatusCode::OK, json!({"accepted": 0}));
    }
    let mut payload: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            Counters::bump(&counters.rejected);
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": "body is not a GitHub webhook payload (a JSON object)"}),
            );
        }
        Err(e) => {
            Counters::bump(&counters.rejected);
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("body is not JSON: {e}")}),
            );
        }
    };
    payload["type"] = Value::from(kind.clone());
    let cfg = route.cfg.clone();
    // The API calls block (and may wait for a rate limit): off the server's thread.
    let enriched = tokio::task::spawn_blocking(move || {
        let r = crate::github::enrich(&cfg, &kind, &mut payload);
        (payload, r)
    })
    .await;
    let payload = match enriched {
        Ok((payload, Ok(()))) => payload,
        Ok((payload, Err(e))) => {
            counters.error(format!("github enrichment: {e}"));
            payload
        }
        Err(e) => {
            counters.error(format!("github enrichment: {e}"));
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "enrichment failed"}),
            );
        }
    };
    let num = route.next_num.fetch_add(1, Ordering::Relaxed);
    let event = JsonEvent::new(
        tripline_sources::github::source(),
        payload,
        crate::now_ns(),
        num,
    );
    match commit(&route.outlet, vec![event], app.commit_timeout).await {
        Ok(()) => answer(StatusCode::OK, json!({"accepted": 1})),
        Err(r) => r,
    }
}
