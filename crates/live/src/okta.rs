//! Okta System Log polling (`okta=okta://ORG`): `GET /api/v1/logs` with an API token, from
//! `since` (the first start) and then along the `Link: <...>; rel="next"` cursor, which Okta
//! keeps valid for polling. Each page is handed on with the next page's URL as its position,
//! so a restart resumes at the cursor: no event twice, none skipped. Rate limits are honoured:
//! at `X-Rate-Limit-Remaining: 0` or a 429 the poller waits for `X-Rate-Limit-Reset`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use tripline_sources::input::{Limits, Reader};
use tripline_sources::SourceKind;

use crate::delivery::{Counters, Delivery, Outlet, Records};

/// How the System Log is read.
#[derive(Clone)]
pub struct OktaConfig {
    /// `https://ORG` (from `okta://ORG`), or another base for tests and proxies.
    pub base_url: String,
    /// API token (`Authorization: SSWS TOKEN`).
    pub token: String,
    /// Pause once the newest page was read.
    pub poll: Duration,
    /// Events per page (Okta allows up to 1000).
    pub limit: u32,
}

impl std::fmt::Debug for OktaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("OktaConfig")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The `rel="next"` URL of a `Link` header.
///
/// ```
/// let h = r#"<https://o.okta.com/api/v1/logs?limit=2>; rel="self", <https://o.okta.com/api/v1/logs?after=1a&limit=2>; rel="next""#;
/// assert_eq!(
///     tripline_live::okta::next_link(h).as_deref(),
///     Some("https://o.okta.com/api/v1/logs?after=1a&limit=2")
/// );
/// ```
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.trim().split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// Starts polling on a thread of its own, from the saved cursor URL `start` or from now.
pub fn spawn(
    cfg: OktaConfig,
    start: Option<String>,
    outlet: Outlet,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("tripline-okta".into())
        .spawn(move || poll(cfg, start, outlet, stop))
}

fn pause(stop: &AtomicBool, d: Duration) {
    let until = std::time::Instant::now() + d;
    while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn poll(cfg: OktaConfig, start: Option<String>, outlet: Outlet, stop: Arc<AtomicBool>) {
    let base = cfg.base_url.trim_end_matches('/').to_string();
    let mut url = start.unwrap_or_else(|| {
        let since = since_now();
        format!("{base}/api/v1/logs?since={since}&limit={}", cfg.limit)
    });
    // The cursor must stay on the configured org: a saved or linked URL elsewhere is refused.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut reader = Reader::new(SourceKind::Okta, Limits::default());
    let counters = outlet.counters.clone();
    while !stop.load(Ordering::Relaxed) {
        if !url.starts_with(&base) {
            counters.error(format!(
                "okta: cursor {url} is not on {base}; starting from now"
            ));
            url = format!(
                "{base}/api/v1/logs?since={}&limit={}",
                since_now(),
                cfg.limit
            );
        }
        let resp = agent
            .get(&url)
            .header("Authorization", &format!("SSWS {}", cfg.token))
            .header("Accept", "application/json")
            .call();
        let mut resp = match resp {
            Ok(r) => r,
            Err(e) => {
                counters.error(format!("okta: GET {url}: {e}"));
                pause(&stop, Duration::from_secs(5));
                continue;
            }
        };
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let reset_wait = || {
            header("x-rate-limit-reset")
                .and_then(|s| s.parse::<u64>().ok())
                .map(|reset| reset.saturating_sub(crate::now_ns() / 1_000_000_000))
                .map_or(Duration::from_secs(5), |s| {
                    Duration::from_secs(s.clamp(1, 60))
                })
        };
        let status = resp.status().as_u16();
        if status == 429 {
            counters.error("okta: rate limited (429), waiting for X-Rate-Limit-Reset");
            pause(&stop, reset_wait());
            continue;
        }
        if status != 200 {
            counters.error(format!("okta: GET {url}: HTTP {status}"));
            pause(&stop, Duration::from_secs(5));
            continue;
        }
        let next = header("link").as_deref().and_then(next_link);
        let exhausted = header("x-rate-limit-remaining").as_deref() == Some("0");
        let wait = reset_wait();
        let body = match resp.body_mut().read_to_string() {
            Ok(b) => b,
            Err(e) => {
                counters.error(format!("okta: GET {url}: {e}"));
                pause(&stop, Duration::from_secs(5));
                continue;
            }
        };
        let page: Value = match serde_json::from_str(&body) {
            Ok(v @ Value::Array(_)) => v,
            _ => {
                counters.error(format!("okta: GET {url}: expected a JSON array of events"));
                pause(&stop, Duration::from_secs(5));
                continue;
            }
        };
        let empty = page.as_array().is_none_or(Vec::is_empty);
        let mut events = Vec::new();
        reader.dispatch(page, &url, 0, &mut |ev| events.push(ev), &mut |skip| {
            Counters::bump(&counters.rejected);
            counters.error(format!("okta: {}", skip.reason));
        });
        // The position after this page: its next link, or this page again when Okta gave
        // none (it always does while polling).
        let position = next.clone().unwrap_or_else(|| url.clone());
        if !empty {
            let d = Delivery {
                records: Records::Json(events),
                checkpoint: Some(position.clone()),
                marks: Vec::new(),
                done: None,
                received_ns: crate::now_ns(),
            };
            if !outlet.deliver(d) {
                return;
            }
        }
        url = position;
        if exhausted {
            pause(&stop, wait);
        } else if empty {
            pause(&stop, cfg.poll);
        }
    }
}

/// Now as RFC 3339 UTC with milliseconds (`since` of a first start).
fn since_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}
