//! Test helpers shared by Tripline's crates (dev-dependency only).
//!
//! [`ApiServer`] stands in for an HTTP API (the Kubernetes API server, a webhook): it answers
//! each request from a route table of canned responses, keeps connections alive as real
//! servers do, and records every request so a test can assert what a client sent.
//!
//! ```
//! use tripline_testkit::{ApiServer, Route};
//! let server = ApiServer::start(vec![Route::json("GET", "/healthz", 200, "{\"ok\":true}")]);
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! assert!(server.requests().is_empty());
//! ```
#![warn(missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One canned response, for a method and a path (the query is ignored).
#[derive(Debug, Clone)]
pub struct Route {
    /// `GET`, `PATCH`, ...
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Status code.
    pub status: u16,
    /// JSON body.
    pub body: String,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// Answer only the first N matching requests; later ones go to the next matching route.
    pub times: Option<usize>,
}

impl Route {
    /// A JSON response.
    pub fn json(method: &str, path: &str, status: u16, body: impl Into<String>) -> Route {
        Route {
            method: method.into(),
            path: path.into(),
            status,
            body: body.into(),
            headers: Vec::new(),
            times: None,
        }
    }

    /// Adds a response header. In headers and bodies, `{url}` stands for the server's own
    /// `http://127.0.0.1:PORT` (pagination links).
    pub fn header(mut self, name: &str, value: &str) -> Route {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Answers only the first `n` matching requests (a rate limit that then lifts, a page
    /// that changes).
    pub fn times(mut self, n: usize) -> Route {
        self.times = Some(n);
        self
    }

    /// A JSON response read from a file.
    pub fn file(method: &str, path: &str, status: u16, file: impl AsRef<Path>) -> Route {
        let f = file.as_ref();
        let body = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        Route::json(method, path, status, body)
    }
}

/// A request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The query string, if any.
    pub query: String,
    /// `Content-Type` header.
    pub content_type: String,
    /// `Authorization` header.
    pub authorization: String,
    /// Body as text.
    pub body: String,
}

/// A recording HTTP/1.1 server on 127.0.0.1 (unknown routes get a Kubernetes-style 404).
pub struct ApiServer {
    port: u16,
    log: Arc<Mutex<Vec<Request>>>,
}

impl ApiServer {
    /// Starts serving `routes` on a free port, in background threads.
    pub fn start(routes: Vec<Route>) -> ApiServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        let routes = Arc::new(Mutex::new(routes));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (routes, seen) = (routes.clone(), seen.clone());
                std::thread::spawn(move || serve(conn, port, &routes, &seen));
            }
        });
        ApiServer { port, log }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The requests so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().expect("log").clone()
    }

    /// Writes a kubeconfig for this server with a bearer `token` into `dir`; returns its path.
    pub fn kubeconfig(&self, dir: &Path, token: &str) -> PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: recorded\n  cluster:\n    server: {}\nusers:\n- name: tester\n  user:\n    token: {token}\ncontexts:\n- name: recorded\n  context:\n    cluster: recorded\n    user: tester\n    namespace: default\ncurrent-context: recorded\n",
                self.url()
            ),
        )
        .expect("write kubeconfig");
        path
    }
}

const NOT_FOUND: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}"#;

fn serve(
    conn: std::net::TcpStream,
    port: u16,
    routes: &Mutex<Vec<Route>>,
    seen: &Mutex<Vec<Request>>,
) {
    let own = format!("http://127.0.0.1:{port}");
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut out = conn;
    // Keep-alive: answer requests until the client closes.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let (mut len, mut content_type, mut authorization) = (0usize, String::new(), String::new());
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap_or(0),
                    "content-type" => content_type = v.trim().to_string(),
                    "authorization" => authorization = v.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (target.clone(), String::new()),
        };
        let (status, text, headers) = {
            let mut routes = routes.lock().expect("routes");
            match routes
                .iter_mut()
                .find(|r| r.method == method && r.path == path && r.times != Some(0))
            {
                Some(r) => {
                    if let Some(n) = &mut r.times {
                        *n -= 1;
                    }
                    let headers = r
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.replace("{url}", &own)))
                        .collect();
                    (r.status, r.body.replace("{url}", &own), headers)
                }
                None => (404, NOT_FOUND.to_string(), Vec::new()),
            }
        };
        seen.lock().expect("log").push(Request {
            method,
            path,
            query,
            content_type,
            authorization,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let extra: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n",
            text.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(text.as_bytes()).is_err() {
            return;
        }
    }
}
