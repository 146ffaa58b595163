//! The `History` gRPC service `patrolctl query`, `series` and `history status` use: the same
//! queries as the HTTP API ([`crate::query_api`]), answered over the collector's gRPC port.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use patrol_history::History;
use patrol_history::query::{self, Answer, LabelMap, Query, QueryError, SeriesPoints};
use patrol_proto::model::now_ms;
use patrol_proto::v1::{self, history_server};
use tonic::{Request, Response, Status};

use crate::core::Core;

pub struct HistoryService {
    core: Arc<Core>,
}

impl HistoryService {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    fn history(&self) -> Result<History, Status> {
        self.core.history.clone().ok_or_else(|| {
            Status::failed_precondition("sample history is disabled ([history] enabled = false)")
        })
    }
}

fn status(e: QueryError) -> Status {
    match e {
        QueryError::Parse(p) => Status::invalid_argument(p.to_string()),
        QueryError::Invalid(m) => Status::invalid_argument(m),
        QueryError::Limit(m) => Status::resource_exhausted(m),
        QueryError::History(h) => Status::unavailable(h.to_string()),
    }
}

fn wire_labels(l: &LabelMap) -> Vec<v1::Label> {
    l.iter()
        .map(|(name, value)| v1::Label {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

fn wire(s: SeriesPoints) -> v1::HistorySeries {
    v1::HistorySeries {
        labels: wire_labels(&s.labels),
        points: s
            .points
            .into_iter()
            .map(|(timestamp_ms, value)| v1::HistoryPoint {
                timestamp_ms,
                value,
            })
            .collect(),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(e.to_string()))?
}

#[tonic::async_trait]
impl history_server::History for HistoryService {
    async fn query(
        &self,
        request: Request<v1::HistoryQueryRequest>,
    ) -> Result<Response<v1::HistoryQueryResponse>, Status> {
        let r = request.into_inner();
        let h = self.history()?;
        let lookback = self.core.stale_after.as_millis() as i64;
        let now = now_ms();
        let silent = self.core.agents.silent_labels();
        let series = blocking(move || {
            let q = query::parse(&r.query).map_err(|e| status(e.into()))?;
            if r.step_ms > 0 {
                let out = h
                    .range(&q, r.start_ms, r.end_ms, r.step_ms, lookback, now)
                    .map_err(status)?;
                return Ok(out.into_iter().map(wire).collect());
            }
            let t = if r.time_ms == 0 { now } else { r.time_ms };
            Ok(match h.instant(&q, t, lookback, now).map_err(status)? {
                Answer::Vector(v) => v
                    .into_iter()
                    .filter(|(l, _, _)| {
                        // "Now" means current: series of agents confirmed silent are not.
                        r.time_ms != 0
                            || !silent.iter().any(|s| {
                                s.iter()
                                    .all(|(k, v)| l.get(k).map(String::as_str) == Some(v))
                            })
                    })
                    .map(|(labels, ts, v)| {
                        wire(SeriesPoints {
                            labels,
                            points: vec![(ts, v)],
                        })
                    })
                    .collect(),
                Answer::Matrix(m) => m.into_iter().map(wire).collect(),
            })
        })
        .await?;
        Ok(Response::new(v1::HistoryQueryResponse { series }))
    }

    async fn series(
        &self,
        request: Request<v1::HistorySeriesRequest>,
    ) -> Result<Response<v1::HistoryQueryResponse>, Status> {
        let selector = request.into_inner().selector;
        let h = self.history()?;
        let series = blocking(move || {
            let Query::Vector(sel) = query::parse(&selector).map_err(|e| status(e.into()))?
            else {
                return Err(Status::invalid_argument(format!(
                    "{selector} is not a series selector (a metric name with optional {{label=\"value\"}} matchers)"
                )));
            };
            let mut out: Vec<v1::HistorySeries> = h
                .matching(&sel)
                .map_err(status)?
                .iter()
                .map(|e| {
                    let mut l: LabelMap = e
                        .labels
                        .iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect();
                    l.insert("__name__".into(), e.name.clone());
                    v1::HistorySeries {
                        labels: wire_labels(&l),
                        points: Vec::new(),
                    }
                })
                .collect();
            out.sort_by(|a, b| {
                let key = |s: &v1::HistorySeries| {
                    s.labels
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .collect::<Vec<_>>()
                };
                key(a).cmp(&key(b))
            });
            Ok(out)
        })
        .await?;
        Ok(Response::new(v1::HistoryQueryResponse { series }))
    }

    async fn status(
        &self,
        _request: Request<v1::HistoryStatusRequest>,
    ) -> Result<Response<v1::HistoryStatusResponse>, Status> {
        let Some(h) = &self.core.history else {
            return Ok(Response::new(v1::HistoryStatusResponse::default()));
        };
        let s = h.stats();
        let remote_write = self
            .core
            .remote
            .iter()
            .map(|(name, e)| v1::RemoteWriteStatus {
                name: name.clone(),
                samples_sent: e.samples_sent.load(Ordering::Relaxed),
                retries: e.retries.load(Ordering::Relaxed),
                samples_dropped: e.samples_dropped.load(Ordering::Relaxed),
                pending_bytes: e.pending_bytes.load(Ordering::Relaxed),
                newest_sent_ms: e.newest_sent_ms.load(Ordering::Relaxed),
                last_error: e.error().unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(v1::HistoryStatusResponse {
            enabled: true,
            series: s.series.get(),
            disk_bytes: s.disk_bytes.get(),
            samples_appended: s.samples_appended.get(),
            stored_raw_samples: s.stored_raw_samples.get(),
            stored_raw_bytes: s.stored_raw_bytes.get(),
            remote_write,
        }))
    }
}
