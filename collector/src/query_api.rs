//! The Prometheus HTTP API over the sample history, for what Patrol's query language expresses:
//! `/api/v1/query`, `/api/v1/query_range`, `/api/v1/series`, `/api/v1/labels` and
//! `/api/v1/label/<name>/values`, by GET or by a form-encoded POST, with Prometheus' response
//! and error shapes, so Grafana's Prometheus data source and `promtool query` work against the
//! collector (docs/history.md).
//!
//! Queries read SQLite and decode chunks: they run on the blocking pool, never on the
//! threads that serve agents.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use patrol_history::History;
use patrol_history::query::{self, Answer, LabelMap, Query, QueryError, SeriesPoints};
use patrol_proto::model::now_ms;
use serde_json::{Value, json};

use crate::core::Core;

pub fn router() -> Router<Arc<Core>> {
    Router::new()
        .route("/api/v1/query", get(instant).post(instant_post))
        .route("/api/v1/query_range", get(range).post(range_post))
        .route("/api/v1/series", get(series).post(series_post))
        .route("/api/v1/labels", get(labels).post(labels_post))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/status/buildinfo", get(buildinfo))
}

/// A refusal in Prometheus' shape: `{"status":"error","errorType":…,"error":…}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    fn bad_data(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "bad_data",
            message: message.into(),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Parse(p) => ApiError::bad_data(format!("invalid parameter \"query\": {p}")),
            QueryError::Invalid(m) => ApiError::bad_data(m),
            QueryError::Limit(m) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                kind: "execution",
                message: m,
            },
            QueryError::History(h) => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                kind: "unavailable",
                message: h.to_string(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"status": "error", "errorType": self.kind, "error": self.message});
        json_response(self.status, &body)
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn success(data: Value) -> Response {
    json_response(StatusCode::OK, &json!({"status": "success", "data": data}))
}

/// Request parameters from the URL and a form-encoded body, in order; a name may repeat
/// (`match[]`).
struct Params(Vec<(String, String)>);

impl Params {
    fn new(query: Option<String>, body: &[u8]) -> Self {
        let mut all: Vec<(String, String)> = query
            .as_deref()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        all.extend(url::form_urlencoded::parse(body).into_owned());
        Self(all)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::bad_data(format!("invalid parameter \"{name}\": missing")))
    }

    fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|t| {
                parse_time(t).ok_or_else(|| {
                    ApiError::bad_data(format!(
                        "invalid parameter \"{name}\": cannot parse \"{t}\" to a valid timestamp"
                    ))
                })
            })
            .transpose()
    }

    fn duration(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|d| {
                parse_duration(d).ok_or_else(|| {
                    ApiError::bad_data(format!(
                        "invalid parameter \"{name}\": cannot parse \"{d}\" to a valid duration"
                    ))
                })
            })
            .transpose()
    }
}

/// A Unix timestamp in seconds (fractions allowed) or RFC 3339, as Prometheus takes it; in ms.
pub fn parse_time(t: &str) -> Option<i64> {
    if let Ok(secs) = t.parse::<f64>() {
        return secs
            .is_finite()
            .then(|| (secs * 1000.0).round())
            .filter(|ms| ms.abs() < 9.0e15)
            .map(|ms| ms as i64);
    }
    t.parse::<jiff::Timestamp>()
        .ok()
        .map(|ts| ts.as_millisecond())
}

/// A duration as Prometheus takes it (`5m`, `1h30m`) or a number of seconds; in ms.
pub fn parse_duration(d: &str) -> Option<i64> {
    if let Ok(secs) = d.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).round() as i64);
    }
    query::duration_ms(d)
}

fn history(core: &Core) -> Result<History, ApiError> {
    core.history.clone().ok_or(ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        kind: "unavailable",
        message: "sample history is disabled ([history] enabled = false)".into(),
    })
}

/// Runs blocking history work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        kind: "internal",
        message: e.to_string(),
    })?
}

fn count_refusal(h: &History, e: &ApiError) {
    if e.kind == "execution" {
        h.stats().queries_refused.add(1);
    }
}

/// A query of number literals and `+ - * /` (Grafana's health check asks `1+1`), or `None`.
fn scalar(src: &str) -> Option<f64> {
    struct S<'a>(&'a [u8], usize);
    impl S<'_> {
        fn ws(&mut self) {
            while self.0.get(self.1).is_some_and(u8::is_ascii_whitespace) {
                self.1 += 1;
            }
        }
        fn expr(&mut self) -> Option<f64> {
            let mut v = self.term()?;
            loop {
                self.ws();
                match self.0.get(self.1) {
                    Some(b'+') => {
                        self.1 += 1;
                        v += self.term()?;
                    }
                    Some(b'-') => {
                        self.1 += 1;
                        v -= self.term()?;
                    }
                    _ => return Some(v),
                }
            }
        }
        fn term(&mut self) -> Option<f64> {
            let mut v = self.atom()?;
            loop {
                self.ws();
                match self.0.get(self.1) {
                    Some(b'*') => {
                        self.1 += 1;
                        v *= self.atom()?;
                    }
                    Some(b'/') => {
                        self.1 += 1;
                        v /= self.atom()?;
                    }
                    _ => return Some(v),
                }
            }
        }
        fn atom(&mut self) -> Option<f64> {
            self.ws();
            match self.0.get(self.1)? {
                b'(' => {
                    self.1 += 1;
                    let v = self.expr()?;
                    self.ws();
                    (self.0.get(self.1) == Some(&b')')).then(|| self.1 += 1)?;
                    Some(v)
                }
                b'-' => {
                    self.1 += 1;
                    Some(-self.atom()?)
                }
                _ => {
                    let start = self.1;
                    while self
                        .0
                        .get(self.1)
                        .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
                    {
                        self.1 += 1;
                    }
                    std::str::from_utf8(&self.0[start..self.1])
                        .ok()?
                        .parse()
                        .ok()
                }
            }
        }
    }
    let mut s = S(src.as_bytes(), 0);
    let v = s.expr()?;
    s.ws();
    (s.1 == src.len()).then_some(v)
}

/// A value as Prometheus writes it: shortest round-trip decimal, `NaN`, `+Inf`, `-Inf`.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn point(ts: i64, v: f64) -> Value {
    json!([ts as f64 / 1000.0, format_value(v)])
}

fn matrix(series: &[SeriesPoints]) -> Value {
    Value::Array(
        series
            .iter()
            .map(|s| {
                json!({
                    "metric": s.labels,
                    "values": s.points.iter().map(|&(t, v)| point(t, v)).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// Labels of series whose agent's silence is confirmed (their values are not current).
fn silent_filter(core: &Core) -> impl Fn(&LabelMap) -> bool + use<> {
    let silent = core.agents.silent_labels();
    move |labels: &LabelMap| {
        !silent.iter().any(|l| {
            l.iter()
                .all(|(k, v)| labels.get(k).map(String::as_str) == Some(v))
        })
    }
}

async fn instant(
    State(core): State<Arc<Core>>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    do_instant(core, Params::new(q, &[])).await
}

async fn instant_post(
    State(core): State<Arc<Core>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    do_instant(core, Params::new(q, &body)).await
}

async fn do_instant(core: Arc<Core>, p: Params) -> Result<Response, ApiError> {
    let src = p.required("query")?.to_owned();
    let now = now_ms();
    let at = p.time("time")?;
    let t = at.unwrap_or(now);
    if let Some(v) = scalar(&src) {
        return Ok(success(
            json!({"resultType": "scalar", "result": point(t, v)}),
        ));
    }
    let h = history(&core)?;
    let lookback = p
        .duration("lookback_delta")?
        .unwrap_or(core.stale_after.as_millis() as i64);
    // "Now" means current values: series of agents confirmed silent are not current any more.
    let keep = silent_filter(&core);
    let answer = blocking(move || {
        let q = query::parse(&src).map_err(QueryError::from)?;
        h.instant(&q, t, lookback, now).map_err(|e| {
            let e = ApiError::from(e);
            count_refusal(&h, &e);
            e
        })
    })
    .await?;
    Ok(success(match answer {
        Answer::Vector(v) => json!({
            "resultType": "vector",
            "result": v
                .into_iter()
                .filter(|(l, _, _)| at.is_some() || keep(l))
                .map(|(l, ts, v)| json!({"metric": l, "value": point(ts, v)}))
                .collect::<Vec<_>>(),
        }),
        Answer::Matrix(m) => json!({"resultType": "matrix", "result": matrix(&m)}),
    }))
}

async fn range(State(core): State<Arc<Core>>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    do_range(core, Params::new(q, &[])).await
}

async fn range_post(
    State(core): State<Arc<Core>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    do_range(core, Params::new(q, &body)).await
}

async fn do_range(core: Arc<Core>, p: Params) -> Result<Response, ApiError> {
    let src = p.required("query")?.to_owned();
    let start = p
        .time("start")?
        .ok_or_else(|| ApiError::bad_data("invalid parameter \"start\": missing"))?;
    let end = p
        .time("end")?
        .ok_or_else(|| ApiError::bad_data("invalid parameter \"end\": missing"))?;
    let step = p
        .duration("step")?
        .ok_or_else(|| ApiError::bad_data("invalid parameter \"step\": missing"))?;
    let h = history(&core)?;
    let lookback = p
        .duration("lookback_delta")?
        .unwrap_or(core.stale_after.as_millis() as i64);
    let now = now_ms();
    if let Some(v) = scalar(&src) {
        if step <= 0 || end < start {
            return Err(ApiError::bad_data("invalid range or step"));
        }
        let points: Vec<Value> = (0..)
            .map(|i| start + i * step)
            .take_while(|t| *t <= end)
            .take(11_000)
            .map(|t| point(t, v))
            .collect();
        return Ok(success(json!({
            "resultType": "matrix",
            "result": [{"metric": {}, "values": points}],
        })));
    }
    let series = blocking(move || {
        let q = query::parse(&src).map_err(QueryError::from)?;
        h.range(&q, start, end, step, lookback, now).map_err(|e| {
            let e = ApiError::from(e);
            count_refusal(&h, &e);
            e
        })
    })
    .await?;
    Ok(success(
        json!({"resultType": "matrix", "result": matrix(&series)}),
    ))
}

/// The label sets of the series every `match[]` selects (deduplicated), or of all series.
fn matched(
    h: &History,
    selectors: &[String],
    all_if_none: bool,
) -> Result<Vec<LabelMap>, ApiError> {
    let mut sels = Vec::new();
    for m in selectors {
        match query::parse(m)
            .map_err(|e| ApiError::bad_data(format!("invalid parameter \"match[]\": {e}")))?
        {
            Query::Vector(sel) => sels.push(sel),
            _ => {
                return Err(ApiError::bad_data(format!(
                    "invalid parameter \"match[]\": {m} is not a series selector"
                )));
            }
        }
    }
    if sels.is_empty() {
        if !all_if_none {
            return Err(ApiError::bad_data("no match[] parameter provided"));
        }
        sels.push(query::Selector {
            metric: None,
            matchers: Vec::new(),
        });
    }
    let mut out = BTreeSet::new();
    for sel in &sels {
        for e in h.matching(sel)? {
            let mut l: LabelMap = e
                .labels
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            l.insert("__name__".into(), e.name.clone());
            out.insert(l);
        }
    }
    Ok(out.into_iter().collect())
}

async fn series(
    State(core): State<Arc<Core>>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    do_series(core, Params::new(q, &[])).await
}

async fn series_post(
    State(core): State<Arc<Core>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    do_series(core, Params::new(q, &body)).await
}

async fn do_series(core: Arc<Core>, p: Params) -> Result<Response, ApiError> {
    let h = history(&core)?;
    let sels: Vec<String> = p.all("match[]").into_iter().map(str::to_owned).collect();
    let sets = blocking(move || matched(&h, &sels, false)).await?;
    Ok(success(json!(sets)))
}

async fn labels(
    State(core): State<Arc<Core>>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    do_labels(core, Params::new(q, &[])).await
}

async fn labels_post(
    State(core): State<Arc<Core>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    do_labels(core, Params::new(q, &body)).await
}

async fn do_labels(core: Arc<Core>, p: Params) -> Result<Response, ApiError> {
    let h = history(&core)?;
    let sels: Vec<String> = p.all("match[]").into_iter().map(str::to_owned).collect();
    let names = blocking(move || {
        let sets = matched(&h, &sels, true)?;
        Ok(sets
            .iter()
            .flat_map(|l| l.keys().cloned())
            .collect::<BTreeSet<String>>())
    })
    .await?;
    Ok(success(json!(names)))
}

async fn label_values(
    State(core): State<Arc<Core>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::new(q, &[]);
    let h = history(&core)?;
    let sels: Vec<String> = p.all("match[]").into_iter().map(str::to_owned).collect();
    let values = blocking(move || {
        if name == "__name__" && sels.is_empty() {
            return Ok(h.metric_names().into_iter().collect::<BTreeSet<_>>());
        }
        let sets = matched(&h, &sels, true)?;
        Ok(sets
            .iter()
            .filter_map(|l| l.get(&name).cloned())
            .collect::<BTreeSet<String>>())
    })
    .await?;
    Ok(success(json!(values)))
}

async fn buildinfo() -> Response {
    let info: BTreeMap<&str, &str> = [
        ("version", env!("CARGO_PKG_VERSION")),
        ("application", "patrol-collector"),
    ]
    .into();
    success(json!(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_as_prometheus_takes_them() {
        assert_eq!(parse_time("1435781451.781"), Some(1_435_781_451_781));
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z"),
            Some(1_435_781_451_781)
        );
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_duration("15"), Some(15_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000));
        assert_eq!(parse_duration("-1"), None);
    }

    #[test]
    fn values_as_prometheus_writes_them() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.1), "0.1");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(1e21), "1000000000000000000000");
    }

    #[test]
    fn constant_expressions() {
        assert_eq!(scalar("1+1"), Some(2.0));
        assert_eq!(scalar(" 2 * (3 - 1) / 4 "), Some(1.0));
        assert_eq!(scalar("-1"), Some(-1.0));
        assert_eq!(scalar("up"), None);
        assert_eq!(scalar("1 +"), None);
    }
}
