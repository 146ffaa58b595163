//! `patrolctl query`, `patrolctl series` and `patrolctl history status`: what the collector's
//! sample history holds, as a table, JSON or CSV.

use std::fmt::Write;

use crate::failure::Failure;
use crate::format::Human;
use crate::table::{self, Cell};
use crate::{connect, output, time};
use patrol_proto::v1::{self, history_client::HistoryClient};
use serde::Serialize;

/// How `query` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// A duration as written on the command line (`24h`, `1m`, `90s`, `1h30m`), in ms.
pub fn parse_span(text: &str) -> Result<i64, String> {
    let d: jiff::SignedDuration = text
        .parse()
        .map_err(|e| format!("'{text}' is not a duration like 24h, 15m or 30s: {e}"))?;
    let ms = d.as_millis();
    if ms <= 0 {
        return Err(format!("'{text}' must be longer than zero"));
    }
    i64::try_from(ms).map_err(|_| format!("'{text}' is too long"))
}

/// What to ask: current values, or the series over `range` ending now at every `step`.
pub struct QueryArgs<'a> {
    pub query: &'a str,
    pub range_ms: Option<i64>,
    pub step_ms: Option<i64>,
    pub format: Format,
}

/// Default step: about 240 points over the range, at least a second.
fn default_step(range_ms: i64) -> i64 {
    (range_ms / 240).max(1_000)
}

pub async fn query(
    url: &str,
    args: QueryArgs<'_>,
    human: &Human,
    now_ms: i64,
) -> Result<(), Failure> {
    let mut client = HistoryClient::new(connect::channel(url).await?);
    let request = match args.range_ms {
        Some(range) => v1::HistoryQueryRequest {
            query: args.query.to_owned(),
            time_ms: 0,
            start_ms: now_ms - range,
            end_ms: now_ms,
            step_ms: args.step_ms.unwrap_or_else(|| default_step(range)),
        },
        None => v1::HistoryQueryRequest {
            query: args.query.to_owned(),
            ..Default::default()
        },
    };
    let series = client.query(request).await?.into_inner().series;
    let text = match args.format {
        Format::Json => json(&series),
        Format::Csv => csv(&series),
        Format::Table if series.is_empty() => "no series\n".to_owned(),
        Format::Table if args.range_ms.is_none() => current_table(&series, human, now_ms),
        Format::Table => range_text(&series, human),
    };
    output::text(&text)
}

pub async fn series(url: &str, selector: &str, as_json: bool) -> Result<(), Failure> {
    let mut client = HistoryClient::new(connect::channel(url).await?);
    let series = client
        .series(v1::HistorySeriesRequest {
            selector: selector.to_owned(),
        })
        .await?
        .into_inner()
        .series;
    if as_json {
        let rows: Vec<serde_json::Map<String, serde_json::Value>> =
            series.iter().map(|s| label_map(&s.labels)).collect();
        return output::line(&serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into()));
    }
    if series.is_empty() {
        return output::line("no series");
    }
    let mut text = String::new();
    for s in &series {
        let _ = writeln!(text, "{}", selector_text(&s.labels));
    }
    output::text(&text)
}

pub async fn status(url: &str, human: &Human, now_ms: i64) -> Result<(), Failure> {
    let mut client = HistoryClient::new(connect::channel(url).await?);
    let s = client
        .status(v1::HistoryStatusRequest {})
        .await?
        .into_inner();
    if !s.enabled {
        return output::line("sample history is disabled ([history] enabled = false)");
    }
    let per_sample = if s.stored_raw_samples > 0 {
        format!(
            "{:.2} B/sample",
            s.stored_raw_bytes as f64 / s.stored_raw_samples as f64
        )
    } else {
        "-".into()
    };
    let mut text = format!(
        "series {}  samples written {}  disk {}  stored {} raw samples ({per_sample})\n",
        s.series,
        s.samples_appended,
        bytes(s.disk_bytes),
        s.stored_raw_samples
    );
    if s.remote_write.is_empty() {
        text.push_str("no remote-write endpoints configured\n");
    } else {
        let rows: Vec<Vec<Cell>> = s
            .remote_write
            .iter()
            .map(|r| {
                let state = if r.last_error.is_empty() {
                    Cell::colored("ok", Some("\x1b[32m"))
                } else {
                    Cell::colored("failing", Some("\x1b[33m"))
                };
                let lag = match r.newest_sent_ms {
                    0 => "-".to_owned(),
                    ms => time::age(ms, now_ms),
                };
                vec![
                    Cell::new(&r.name),
                    state,
                    Cell::new(r.samples_sent.to_string()),
                    Cell::new(lag),
                    Cell::new(bytes(r.pending_bytes)),
                    Cell::new(r.retries.to_string()),
                    Cell::new(r.samples_dropped.to_string()),
                    Cell::new(&r.last_error),
                ]
            })
            .collect();
        text.push_str(&table::render(
            human,
            &[
                "ENDPOINT",
                "STATE",
                "SENT",
                "LAG",
                "PENDING",
                "RETRIES",
                "DROPPED",
                "LAST ERROR",
            ],
            &rows,
        ));
    }
    output::text(&text)
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn label_map(labels: &[v1::Label]) -> serde_json::Map<String, serde_json::Value> {
    labels
        .iter()
        .map(|l| (l.name.clone(), serde_json::Value::from(l.value.clone())))
        .collect()
}

/// `name{label="value", ...}` as the query language writes a series.
pub fn selector_text(labels: &[v1::Label]) -> String {
    let name = labels
        .iter()
        .find(|l| l.name == "__name__")
        .map_or("", |l| l.value.as_str());
    let rest: Vec<String> = labels
        .iter()
        .filter(|l| l.name != "__name__")
        .map(|l| {
            format!(
                "{}=\"{}\"",
                l.name,
                l.value.replace('\\', "\\\\").replace('"', "\\\"")
            )
        })
        .collect();
    format!("{name}{{{}}}", rest.join(", "))
}

fn value_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// SERIES, VALUE, AT (and how long ago).
fn current_table(series: &[v1::HistorySeries], human: &Human, now_ms: i64) -> String {
    let rows: Vec<Vec<Cell>> = series
        .iter()
        .filter_map(|s| {
            let p = s.points.last()?;
            Some(vec![
                Cell::new(selector_text(&s.labels)),
                Cell::new(value_text(p.value)),
                Cell::new(format!(
                    "{} ({} ago)",
                    time::local(p.timestamp_ms, &human.tz),
                    time::age(p.timestamp_ms, now_ms)
                )),
            ])
        })
        .collect();
    table::render(human, &["SERIES", "VALUE", "AT"], &rows)
}

/// Each series, then one `time value` line per point.
fn range_text(series: &[v1::HistorySeries], human: &Human) -> String {
    let mut out = String::new();
    for s in series {
        let _ = writeln!(out, "{}", selector_text(&s.labels));
        for p in &s.points {
            let _ = writeln!(
                out,
                "  {}  {}",
                time::local(p.timestamp_ms, &human.tz),
                value_text(p.value)
            );
        }
    }
    out
}

#[derive(Serialize)]
struct SeriesJson {
    labels: serde_json::Map<String, serde_json::Value>,
    /// `[RFC 3339 time, value]`; the value as Prometheus writes it.
    points: Vec<(String, String)>,
}

fn json(series: &[v1::HistorySeries]) -> String {
    let rows: Vec<SeriesJson> = series
        .iter()
        .map(|s| SeriesJson {
            labels: label_map(&s.labels),
            points: s
                .points
                .iter()
                .map(|p| {
                    (
                        time::rfc3339(p.timestamp_ms).unwrap_or_default(),
                        value_text(p.value),
                    )
                })
                .collect(),
        })
        .collect();
    let mut text = serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into());
    text.push('\n');
    text
}

/// `series,time,value`, one line per point (RFC 4180 quoting for the series column).
fn csv(series: &[v1::HistorySeries]) -> String {
    let mut out = String::from("series,time,value\n");
    for s in series {
        let name = format!("\"{}\"", selector_text(&s.labels).replace('"', "\"\""));
        for p in &s.points {
            let _ = writeln!(
                out,
                "{name},{},{}",
                time::rfc3339(p.timestamp_ms).unwrap_or_default(),
                value_text(p.value)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> Vec<v1::HistorySeries> {
        vec![v1::HistorySeries {
            labels: vec![
                v1::Label {
                    name: "__name__".into(),
                    value: "tablespace_used_percent".into(),
                },
                v1::Label {
                    name: "tablespace".into(),
                    value: "USERS".into(),
                },
            ],
            points: vec![
                v1::HistoryPoint {
                    timestamp_ms: 1_795_425_120_000,
                    value: 91.5,
                },
                v1::HistoryPoint {
                    timestamp_ms: 1_795_425_180_000,
                    value: f64::INFINITY,
                },
            ],
        }]
    }

    #[test]
    fn csv_and_json_are_pinned() {
        assert_eq!(
            csv(&series()),
            "series,time,value\n\
             \"tablespace_used_percent{tablespace=\"\"USERS\"\"}\",2026-11-23T09:12:00.000Z,91.5\n\
             \"tablespace_used_percent{tablespace=\"\"USERS\"\"}\",2026-11-23T09:13:00.000Z,+Inf\n"
        );
        assert_eq!(
            json(&series()),
            "[{\"labels\":{\"__name__\":\"tablespace_used_percent\",\"tablespace\":\"USERS\"},\
             \"points\":[[\"2026-11-23T09:12:00.000Z\",\"91.5\"],[\"2026-11-23T09:13:00.000Z\",\"+Inf\"]]}]\n"
        );
    }

    #[test]
    fn spans() {
        assert_eq!(parse_span("24h"), Ok(86_400_000));
        assert_eq!(parse_span("1m"), Ok(60_000));
        assert_eq!(parse_span("1h30m"), Ok(5_400_000));
        assert!(parse_span("0s").is_err());
        assert!(parse_span("soon").is_err());
        assert_eq!(default_step(86_400_000), 360_000);
    }
}
