//! CloudTrail from AWS: log files read from an S3 bucket, found by listing a prefix
//! (`s3://BUCKET/PREFIX/`) or through the S3 event notifications an SQS queue receives
//! (`sqs://QUEUE`, directly or wrapped by SNS or EventBridge).
//!
//! Several objects download at once; their records are handed on in order. A prefix's
//! position is the last key whose findings are stored. A queue's message is deleted only
//! after the findings of its objects are stored, and each object is marked done in the same
//! transaction, so a message delivered again after a crash is deleted without being
//! evaluated twice.

use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use aws_sdk_s3::error::DisplayErrorContext;
use futures_util::stream::{self, StreamExt};
use serde_json::Value;
use tripline_sources::input::{Limits, Reader};
use tripline_sources::{JsonEvent, SourceKind};

use crate::delivery::{Counters, Delivery, Outlet, Records};

/// How the AWS sources connect and poll.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    /// Another endpoint than AWS's (an S3/SQS-compatible server).
    pub endpoint_url: Option<String>,
    /// How often a prefix is listed again once everything in it was read.
    pub poll: Duration,
    /// Long-poll wait of one SQS receive, seconds (1 to 20).
    pub sqs_wait_secs: i32,
    /// Objects downloaded at once.
    pub parallel: usize,
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            endpoint_url: None,
            poll: Duration::from_secs(60),
            sqs_wait_secs: 10,
            parallel: 4,
        }
    }
}

/// Whether an object's findings are already stored (its done mark exists).
pub type Seen = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The done mark of an object read through a queue, saved with its findings.
pub fn object_mark(source: &str, bucket: &str, key: &str) -> String {
    format!("{source}|s3://{bucket}/{key}")
}

/// Starts reading `s3://BUCKET/PREFIX` (after the key `start`) or `sqs://QUEUE` on a thread of
/// its own, until `stop` is set or the agent goes away.
pub fn spawn(
    id: String,
    at: crate::At,
    cfg: AwsConfig,
    start: Option<String>,
    seen: Seen,
    outlet: Outlet,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("tripline-aws")
        .build()?;
    std::thread::Builder::new()
        .name("tripline-aws".into())
        .spawn(move || {
            rt.block_on(async move {
                let clients = Clients::new(&cfg).await;
                let source = Source {
                    id,
                    cfg,
                    clients,
                    outlet,
                    stop,
                    reader: std::sync::Mutex::new(Reader::new(
                        SourceKind::CloudTrail,
                        Limits::default(),
                    )),
                };
                match at {
                    crate::At::S3 { bucket, prefix } => source.list(&bucket, &prefix, start).await,
                    crate::At::Sqs { queue } => source.queue(&queue, seen).await,
                    _ => {}
                }
            })
        })
}

struct Clients {
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
}

impl Clients {
    /// Clients from the normal credential chain (environment, profile, web identity, IMDS),
    /// over rustls with ring.
    async fn new(cfg: &AwsConfig) -> Clients {
        use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http);
        if let Some(url) = &cfg.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let conf = loader.load().await;
        let s3 = aws_sdk_s3::config::Builder::from(&conf)
            // S3-compatible servers rarely serve virtual-hosted bucket names.
            .force_path_style(cfg.endpoint_url.is_some())
            .build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3),
            sqs: aws_sdk_sqs::Client::new(&conf),
        }
    }
}

struct Source {
    id: String,
    cfg: AwsConfig,
    clients: Clients,
    outlet: Outlet,
    stop: Arc<AtomicBool>,
    /// Shared by downloads running at once; decoding is short.
    reader: std::sync::Mutex<Reader>,
}

/// One downloaded and decoded object.
struct Object {
    bucket: String,
    key: String,
    events: Vec<JsonEvent>,
}

impl Source {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sleeps up to `d`, waking early when stopping.
    async fn pause(&self, d: Duration) {
        let until = tokio::time::Instant::now() + d;
        while !self.stopping() && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Hands a batch on, waiting for room without stalling the runtime's other tasks.
    fn deliver(&self, d: Delivery) -> bool {
        tokio::task::block_in_place(|| self.outlet.deliver(d))
    }

    async fn fetch(&self, bucket: &str, key: &str) -> Result<Object, String> {
        let name = format!("s3://{bucket}/{key}");
        let body = self
            .clients
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| format!("{name}: {}", DisplayErrorContext(e)))?
            .body
            .collect()
            .await
            .map_err(|e| format!("{name}: {e}"))?
            .into_bytes();
        let mut events = Vec::new();
        let counters = &self.outlet.counters;
        let mut reader = self
            .reader
            .lock()
            .map_err(|_| "decoder poisoned".to_string())?;
        reader
            .read_stream(
                &name,
                Box::new(Cursor::new(body)),
                &mut |ev| events.push(ev),
                &mut |skip| {
                    Counters::bump(&counters.rejected);
                    counters.error(skip.to_string());
                },
            )
            .map_err(|e| e.to_string())?;
        Ok(Object {
            bucket: bucket.to_string(),
            key: key.to_string(),
            events,
        })
    }

    /// Lists the prefix after the last key read, a page at a time, reads its objects in key
    /// order, and once everything is read lists again every poll interval.
    async fn list(&self, bucket: &str, prefix: &str, mut after: Option<String>) {
        while !self.stopping() {
            let keys = match self.keys(bucket, prefix, after.as_deref()).await {
                Ok(k) => k,
                Err(e) => {
                    self.outlet.counters.error(e);
                    self.pause(Duration::from_secs(5)).await;
                    continue;
                }
            };
            if keys.is_empty() {
                self.pause(self.cfg.poll).await;
                continue;
            }
            let mut objects = stream::iter(keys.iter())
                .map(|k| self.fetch(bucket, k))
                .buffered(self.cfg.parallel);
            while let Some(o) = objects.next().await {
                match o {
                    Ok(o) => {
                        let d = Delivery {
                            records: Records::Json(o.events),
                            checkpoint: Some(o.key.clone()),
                            marks: Vec::new(),
                            done: None,
                            received_ns: crate::now_ns(),
                        };
                        if !self.deliver(d) {
                            return;
                        }
                        after = Some(o.key);
                    }
                    Err(e) => {
                        // Not skipped: listed again from the last key read, retried.
                        self.outlet.counters.error(e);
                        drop(objects);
                        self.pause(Duration::from_secs(5)).await;
                        break;
                    }
                }
                if self.stopping() {
                    return;
                }
            }
        }
    }

    /// The next page of keys after `after` (up to 1,000: memory stays bounded on a prefix of
    /// millions). Digest files are left out; a page of nothing else moves on to the next.
    async fn keys(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
    ) -> Result<Vec<String>, String> {
        let mut after = after.map(str::to_string);
        loop {
            let page = self
                .clients
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_start_after(after.clone())
                .max_keys(1000)
                .send()
                .await
                .map_err(|e| format!("s3://{bucket}/{prefix}: {}", DisplayErrorContext(e)))?;
            let keys: Vec<String> = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                // Digest files sign the logs; they hold no records.
                .filter(|k| !k.contains("/CloudTrail-Digest/") && !k.ends_with('/'))
                .map(str::to_string)
                .collect();
            let last = page.contents().last().and_then(|o| o.key());
            match last {
                Some(last) if keys.is_empty() && page.is_truncated() == Some(true) => {
                    after = Some(last.to_string());
                }
                _ => return Ok(keys),
            }
        }
    }

    /// Receives S3 notifications, reads their objects, and deletes each message once the
    /// findings of its objects are stored.
    async fn queue(&self, queue: &str, seen: Seen) {
        let url = loop {
            if queue.starts_with("https://") || queue.starts_with("http://") {
                break queue.to_string();
            }
            match self
                .clients
                .sqs
                .get_queue_url()
                .queue_name(queue)
                .send()
                .await
            {
                Ok(r) => break r.queue_url().unwrap_or_default().to_string(),
                Err(e) => {
                    self.outlet
                        .counters
                        .error(format!("sqs://{queue}: {}", DisplayErrorContext(e)));
                    self.pause(Duration::from_secs(5)).await;
                    if self.stopping() {
                        return;
                    }
                }
            }
        };
        // Receipts of messages whose findings are stored, sent from the act stage's thread.
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let sqs = self.clients.sqs.clone();
        let deleter_url = url.clone();
        let counters = self.outlet.counters.clone();
        let deleter = tokio::spawn(async move {
            while let Some(receipt) = done_rx.recv().await {
                if let Err(e) = sqs
                    .delete_message()
                    .queue_url(&deleter_url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                {
                    // Delivered again later and found done: no finding is stored twice.
                    counters.error(format!("deleting a message: {}", DisplayErrorContext(e)));
                }
            }
        });
        while !self.stopping() {
            let received = self
                .clients
                .sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .wait_time_seconds(self.cfg.sqs_wait_secs)
                .send()
                .await;
            let messages = match received {
                Ok(r) => r.messages.unwrap_or_default(),
                Err(e) => {
                    self.outlet
                        .counters
                        .error(format!("sqs://{queue}: {}", DisplayErrorContext(e)));
                    self.pause(Duration::from_secs(5)).await;
                    continue;
                }
            };
            for m in messages {
                let Some(receipt) = m.receipt_handle().map(str::to_string) else {
                    continue;
                };
                let objects = match notified_objects(m.body().unwrap_or_default()) {
                    Ok(o) => o,
                    Err(e) => {
                        // Not an S3 notification: left for the queue's redrive policy.
                        Counters::bump(&self.outlet.counters.rejected);
                        self.outlet.counters.error(format!("sqs://{queue}: {e}"));
                        continue;
                    }
                };
                let todo: Vec<(String, String)> = objects
                    .into_iter()
                    .filter(|(b, k)| !seen(&object_mark(&self.id, b, k)))
                    .collect();
                let fetched: Vec<Result<Object, String>> = stream::iter(todo.iter())
                    .map(|(b, k)| self.fetch(b, k))
                    .buffered(self.cfg.parallel)
                    .collect()
                    .await;
                let mut events = Vec::new();
                let mut marks = Vec::new();
                let mut failed = false;
                for o in fetched {
                    match o {
                        Ok(o) => {
                            marks.push(object_mark(&self.id, &o.bucket, &o.key));
                            events.extend(o.events);
                        }
                        Err(e) => {
                            self.outlet.counters.error(e);
                            failed = true;
                        }
                    }
                }
                let done_tx = done_tx.clone();
                let d = Delivery {
                    records: Records::Json(events),
                    checkpoint: None,
                    marks,
                    // A message with an object that could not be read stays in the queue and
                    // comes back; the objects read are marked done and not evaluated again.
                    done: (!failed).then(|| -> crate::Done {
                        Box::new(move |r| {
                            if r.is_ok() {
                                let _ = done_tx.send(receipt);
                            }
                        })
                    }),
                    received_ns: crate::now_ns(),
                };
                if !self.deliver(d) {
                    break;
                }
            }
        }
        drop(done_tx);
        let _ = tokio::time::timeout(Duration::from_secs(5), deleter).await;
    }
}

/// The `(bucket, key)` of each object an S3 event notification names: the notification
/// itself, or wrapped in an SNS notification (`Message`) or an EventBridge event (`detail`).
/// S3's test event names none.
///
/// ```
/// let body = r#"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",
///   "s3":{"bucket":{"name":"trail"},"object":{"key":"AWSLogs/1/CloudTrail/a+b%3D.json.gz"}}}]}"#;
/// assert_eq!(
///     tripline_live::aws::notified_objects(body).unwrap(),
///     vec![("trail".to_string(), "AWSLogs/1/CloudTrail/a b=.json.gz".to_string())]
/// );
/// ```
pub fn notified_objects(body: &str) -> Result<Vec<(String, String)>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("message is not JSON: {e}"))?;
    if let Some(inner) = v.get("Message").and_then(Value::as_str) {
        return notified_objects(inner);
    }
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    if let Some(detail) = v.get("detail") {
        let bucket = detail.pointer("/bucket/name").and_then(Value::as_str);
        let key = detail.pointer("/object/key").and_then(Value::as_str);
        return match (bucket, key) {
            // EventBridge keys are not URL-encoded.
            (Some(b), Some(k)) => Ok(vec![(b.to_string(), k.to_string())]),
            _ => Err("EventBridge event without detail.bucket.name and detail.object.key".into()),
        };
    }
    let records = v.get("Records").and_then(Value::as_array).ok_or(
        "expected an S3 event notification (Records), SNS (Message) or EventBridge (detail)",
    )?;
    records
        .iter()
        .filter(|r| {
            r.get("eventName")
                .and_then(Value::as_str)
                .is_none_or(|n| n.starts_with("ObjectCreated"))
        })
        .map(|r| {
            let bucket = r.pointer("/s3/bucket/name").and_then(Value::as_str);
            let key = r.pointer("/s3/object/key").and_then(Value::as_str);
            match (bucket, key) {
                (Some(b), Some(k)) => Ok((b.to_string(), url_decode(k)?)),
                _ => Err("S3 record without s3.bucket.name and s3.object.key".to_string()),
            }
        })
        .collect()
}

/// S3 notifications form-encode keys: `+` is a space, `%XX` a byte.
fn url_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad escape in key '{s}'"))?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("key '{s}' is not UTF-8"))
}
