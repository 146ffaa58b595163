//! One task per endpoint: follow the log from the endpoint's position, send what is there in
//! requests of at most `max_samples_per_send`, record the position after each confirmed one.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prost::Message;
use tokio::sync::watch;

use super::prompb::{Label, Sample as PSample, TimeSeries, WriteRequest};
use super::{EndpointStats, RemoteStats};
use crate::config::RemoteWriteConfig;
use crate::wal::record::{self, Record};
use crate::wal::{Pos, segment};
use crate::{History, Shared, chunks};

/// Where an endpoint is in the log: a record's start and how many of its samples were sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Cursor {
    segment: u64,
    offset: u64,
    index: usize,
}

impl Cursor {
    fn text(&self) -> String {
        format!("{} {} {}", self.segment, self.offset, self.index)
    }

    fn parse(s: &str) -> Option<Self> {
        let mut it = s.split(' ').map(str::parse::<u64>);
        Some(Self {
            segment: it.next()?.ok()?,
            offset: it.next()?.ok()?,
            index: usize::try_from(it.next()?.ok()?).ok()?,
        })
    }
}

/// How a request went.
enum Sent {
    Ok,
    /// Worth trying again (5xx, 429, a connection failure).
    Retry(String),
    /// The endpoint refused the data itself (other 4xx): dropped.
    Refused(String),
}

struct Endpoint {
    cfg: RemoteWriteConfig,
    client: reqwest::Client,
    auth: Option<String>,
    stats: Arc<EndpointStats>,
    db: Mutex<rusqlite::Connection>,
    shared: Arc<Shared>,
}

/// Starts a task per configured endpoint (on the current tokio runtime); they stop when
/// `shutdown` turns true. An endpoint that cannot be set up (an unreadable secret) is logged
/// and left out; the log keeps its data only as far as the disk cap allows.
pub fn start(history: &History, shutdown: watch::Receiver<bool>) -> RemoteStats {
    let mut out = BTreeMap::new();
    for cfg in &history.config().remote_write {
        let stats = Arc::new(EndpointStats::default());
        match Endpoint::new(
            cfg.clone(),
            Arc::clone(history.shared()),
            Arc::clone(&stats),
        ) {
            Ok(ep) => {
                tokio::spawn(ep.run(shutdown.clone()));
            }
            Err(e) => {
                tracing::error!(endpoint = %cfg.name, "remote write not started: {e}");
                stats.set_error(Some(e));
            }
        }
        out.insert(cfg.name.clone(), stats);
    }
    out
}

fn read_secret(path: &std::path::Path) -> Result<String, String> {
    let shown = path.display();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        if meta.permissions().mode() & 0o004 != 0 {
            return Err(format!(
                "{shown} is readable by everyone: chmod o-r {shown}"
            ));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let secret = text.trim_end_matches(['\n', '\r']).to_owned();
    if secret.is_empty() {
        return Err(format!("{shown} is empty"));
    }
    Ok(secret)
}

fn tls() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

impl Endpoint {
    fn new(
        cfg: RemoteWriteConfig,
        shared: Arc<Shared>,
        stats: Arc<EndpointStats>,
    ) -> Result<Self, String> {
        let auth = match (&cfg.username, &cfg.password_file, &cfg.bearer_token_file) {
            (_, _, Some(token)) => Some(format!("Bearer {}", read_secret(token)?)),
            (Some(user), Some(pw), None) => {
                use base64::Engine;
                let pair = format!("{user}:{}", read_secret(pw)?);
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            _ => None,
        };
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls()?)
            .timeout(cfg.timeout)
            .user_agent(concat!("patrol-collector/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let db = chunks::open(&shared.db_path).map_err(|e| format!("chunk database: {e}"))?;
        Ok(Self {
            cfg,
            client,
            auth,
            stats,
            db: Mutex::new(db),
            shared,
        })
    }

    fn key(&self) -> String {
        format!("remote_write/{}", self.cfg.name)
    }

    fn load(&self) -> Option<Cursor> {
        let db = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        chunks::get_meta(&db, &self.key())
            .ok()
            .flatten()
            .and_then(|s| Cursor::parse(&s))
    }

    fn save(&self, c: Cursor) {
        let db = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = chunks::set_meta(&db, &self.key(), &c.text()) {
            tracing::error!(endpoint = %self.cfg.name, error = %e, "remote write: cannot record the position; a restart may send some samples again");
        }
        self.shared
            .floors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(self.cfg.name.clone(), c.segment);
    }

    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut durable = self.shared.durable.subscribe();
        let mut cursor = self.load().unwrap_or_else(|| {
            // A new endpoint starts at the end of the log: it gets what arrives from now on.
            let p = *durable.borrow();
            Cursor {
                segment: p.segment,
                offset: p.offset,
                index: 0,
            }
        });
        self.save(cursor);
        tracing::info!(endpoint = %self.cfg.name, url = %self.cfg.url, segment = cursor.segment, offset = cursor.offset, "remote write started");
        loop {
            if *shutdown.borrow() {
                return;
            }
            let end = *durable.borrow_and_update();
            if (cursor.segment, cursor.offset) >= (end.segment, end.offset) {
                tokio::select! {
                    _ = durable.changed() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            match self.pass(cursor, end, &mut shutdown).await {
                Some(next) => {
                    if next != cursor {
                        cursor = next;
                        self.save(cursor);
                    }
                }
                None => return,
            }
        }
    }

    /// Reads what the log holds after `cursor` up to `end` and sends it; the new position,
    /// or `None` when stopping.
    async fn pass(
        &self,
        cursor: Cursor,
        end: Pos,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Option<Cursor> {
        let path = segment::path(&self.shared.wal_dir, cursor.segment);
        let limit = (cursor.segment == end.segment).then_some(end.offset);
        let from = cursor.offset;
        let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut f = std::fs::File::open(&path)?;
            f.seek(SeekFrom::Start(from))?;
            let mut buf = Vec::new();
            match limit {
                Some(l) => {
                    f.take(l.saturating_sub(from)).read_to_end(&mut buf)?;
                }
                None => {
                    f.read_to_end(&mut buf)?;
                }
            }
            Ok(buf)
        })
        .await
        .ok()?;
        let bytes = match read {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Removed before it was sent (the endpoint was down past the disk cap).
                let next = segment::list(&self.shared.wal_dir)
                    .unwrap_or_default()
                    .into_iter()
                    .find(|i| *i > cursor.segment)
                    .unwrap_or(end.segment);
                tracing::error!(endpoint = %self.cfg.name, segment = cursor.segment,
                    "remote write: log segment removed before it was sent; its samples are lost for this endpoint");
                self.stats.set_error(Some(format!(
                    "log segment {} removed before it was sent",
                    cursor.segment
                )));
                return Some(Cursor {
                    segment: next,
                    offset: 0,
                    index: 0,
                });
            }
            Err(e) => {
                tracing::error!(endpoint = %self.cfg.name, error = %e, "remote write: cannot read the log");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return Some(cursor);
            }
        };
        let closed = cursor.segment < end.segment;
        let later: u64 = (cursor.segment + 1..=end.segment)
            .filter_map(|i| std::fs::metadata(segment::path(&self.shared.wal_dir, i)).ok())
            .map(|m| m.len())
            .sum();
        self.stats
            .pending_bytes
            .store(bytes.len() as u64 + later, Ordering::Relaxed);
        let scan = segment::scan(&bytes);
        let mut pos = cursor;
        let max = self.cfg.max_samples_per_send;
        // A request never spans two log records: its bounds depend only on the log, so the
        // request in flight when the collector died is sent again exactly as it was, and a
        // receiver that stores requests atomically (Prometheus) keeps it once.
        for (offset, payload) in &scan.records {
            let offset = cursor.offset + *offset as u64;
            let next_record = Cursor {
                segment: cursor.segment,
                offset: offset + (segment::HEADER + payload.len()) as u64,
                index: 0,
            };
            let Ok(Record::Samples(samples)) = record::decode(payload) else {
                // Series definitions (and damage, counted at start-up) carry no samples.
                pos = next_record;
                continue;
            };
            let mut from = if offset == cursor.offset {
                cursor.index
            } else {
                0
            };
            while from < samples.len() {
                let to = (from + max).min(samples.len());
                let batch: Vec<(u32, i64, f64)> = samples[from..to]
                    .iter()
                    .map(|s| (s.id, s.ts, s.value))
                    .collect();
                if !self.send_until_done(&batch, shutdown).await {
                    return if pos == cursor { None } else { Some(pos) };
                }
                from = to;
                pos = if to == samples.len() {
                    next_record
                } else {
                    Cursor {
                        segment: cursor.segment,
                        offset,
                        index: to,
                    }
                };
                self.save(pos);
            }
            pos = next_record;
        }
        let consumed = cursor.offset + scan.valid_end as u64;
        if pos.offset < consumed && pos.index == 0 {
            pos.offset = consumed;
        }
        if closed {
            // The segment is finished (or damaged past what can be framed): on to the next.
            pos = Cursor {
                segment: cursor.segment + 1,
                offset: 0,
                index: 0,
            };
        }
        Some(pos)
    }

    /// Sends one request until the endpoint confirms or refuses it; `false` when stopping.
    async fn send_until_done(
        &self,
        batch: &[(u32, i64, f64)],
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        let body = self.encode(batch);
        let mut wait = self.cfg.min_backoff;
        loop {
            match self.post(body.clone()).await {
                Sent::Ok => {
                    EndpointStats::add(&self.stats.samples_sent, batch.len() as u64);
                    EndpointStats::add(&self.stats.requests_sent, 1);
                    if let Some(newest) = batch.iter().map(|b| b.1).max() {
                        self.stats
                            .newest_sent_ms
                            .fetch_max(newest, Ordering::Relaxed);
                    }
                    self.stats.set_error(None);
                    return true;
                }
                Sent::Refused(e) => {
                    EndpointStats::add(&self.stats.samples_dropped, batch.len() as u64);
                    tracing::error!(endpoint = %self.cfg.name, samples = batch.len(), "remote write refused a request; its samples are dropped: {e}");
                    self.stats.set_error(Some(e));
                    return true;
                }
                Sent::Retry(e) => {
                    EndpointStats::add(&self.stats.retries, 1);
                    if self.stats.error().as_deref() != Some(e.as_str()) {
                        tracing::warn!(endpoint = %self.cfg.name, retry_in = ?wait, "remote write failed, retrying: {e}");
                    }
                    self.stats.set_error(Some(e));
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = shutdown.changed() => return false,
                    }
                    if *shutdown.borrow() {
                        return false;
                    }
                    wait = (wait * 2).min(self.cfg.max_backoff);
                }
            }
        }
    }

    fn encode(&self, batch: &[(u32, i64, f64)]) -> Vec<u8> {
        let table = self.shared.table();
        let mut by_series: BTreeMap<u32, Vec<PSample>> = BTreeMap::new();
        for &(id, ts, value) in batch {
            by_series.entry(id).or_default().push(PSample {
                value,
                timestamp: ts,
            });
        }
        let timeseries = by_series
            .into_iter()
            .filter_map(|(id, samples)| {
                let e = table.get(id)?;
                let mut labels = vec![Label {
                    name: "__name__".into(),
                    value: e.name.clone(),
                }];
                labels.extend(e.labels.iter().map(|(k, v)| Label {
                    name: k.to_owned(),
                    value: v.to_owned(),
                }));
                labels.sort_by(|a, b| a.name.cmp(&b.name));
                Some(TimeSeries { labels, samples })
            })
            .collect();
        let raw = WriteRequest { timeseries }.encode_to_vec();
        snap::raw::Encoder::new()
            .compress_vec(&raw)
            .unwrap_or_default()
    }

    async fn post(&self, body: Vec<u8>) -> Sent {
        let mut req = self
            .client
            .post(&self.cfg.url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body);
        for (k, v) in &self.cfg.headers {
            req = req.header(k, v);
        }
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                if status.is_success() {
                    return Sent::Ok;
                }
                let text: String = resp
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect();
                let msg = format!("{} answered {status}: {}", self.cfg.url, text.trim());
                if status.is_server_error() || status.as_u16() == 429 {
                    Sent::Retry(msg)
                } else {
                    Sent::Refused(msg)
                }
            }
            Err(e) => Sent::Retry(format!("{}: {}", self.cfg.url, chain(&e))),
        }
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_as_text() {
        let c = Cursor {
            segment: 12,
            offset: 4096,
            index: 7,
        };
        assert_eq!(Cursor::parse(&c.text()), Some(c));
        assert_eq!(Cursor::parse("x"), None);
    }
}
