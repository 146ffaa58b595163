//! The query language against a small history, as a table: selectors and their matchers
//! (Prometheus' semantics: a missing label matches `=""`), the series each query selects, and
//! the limits a query is refused at, each refusal naming its limit. The window functions'
//! values are compared with Prometheus itself in tests/tests/history.rs.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use patrol_history::query::{Answer, QueryError, parse};
use patrol_history::{History, HistoryConfig, QueryLimits, Sample};
use patrol_proto::Labels;
use patrol_proto::model::now_ms;

fn history(dir: &std::path::Path, limits: QueryLimits) -> (History, i64) {
    let h = History::open(
        dir,
        HistoryConfig {
            fsync: false,
            limits,
            ..HistoryConfig::default()
        },
    )
    .unwrap();
    let now = now_ms();
    let series = [
        ("disk_used_percent", vec![("host", "db1"), ("mount", "/")]),
        (
            "disk_used_percent",
            vec![("host", "db1"), ("mount", "/u01")],
        ),
        ("disk_used_percent", vec![("host", "web1"), ("mount", "/")]),
        ("cpu_usage_percent", vec![("host", "db1")]),
        (
            "cpu_usage_percent",
            vec![("host", "web1"), ("role", "batch")],
        ),
    ];
    let samples: Vec<Sample> = series
        .iter()
        .enumerate()
        .map(|(i, (name, l))| Sample {
            series: h.series(name, &Labels::from_pairs(l.iter().copied())),
            ts: now - 1_000,
            value: i as f64,
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(h.append(samples)).unwrap();
    (h, now)
}

/// The values (the series' index above) an instant query answers, sorted.
fn values(h: &History, q: &str, now: i64) -> Vec<f64> {
    let Answer::Vector(v) = h.instant(&parse(q).unwrap(), now, 300_000, now).unwrap() else {
        panic!("{q}: not a vector")
    };
    let mut out: Vec<f64> = v.iter().map(|(_, _, v)| *v).collect();
    out.sort_by(f64::total_cmp);
    out
}

#[test]
fn selectors_select_what_prometheus_would() {
    let dir = tempfile::tempdir().unwrap();
    let (h, now) = history(dir.path(), QueryLimits::default());
    let table: &[(&str, &[f64])] = &[
        ("disk_used_percent", &[0.0, 1.0, 2.0]),
        (r#"disk_used_percent{host="db1"}"#, &[0.0, 1.0]),
        (r#"disk_used_percent{host!="db1"}"#, &[2.0]),
        (r#"disk_used_percent{mount=~"/u0[0-9]"}"#, &[1.0]),
        (r#"disk_used_percent{mount!~"/u.*"}"#, &[0.0, 2.0]),
        // Regexes are anchored, as in Prometheus.
        (r#"disk_used_percent{mount=~"u01"}"#, &[]),
        (r#"cpu_usage_percent{role=""}"#, &[3.0]),
        (r#"cpu_usage_percent{role!=""}"#, &[4.0]),
        (r#"{__name__=~"cpu_.*", host="web1"}"#, &[4.0]),
        (r#"{__name__="disk_used_percent", host="web1"}"#, &[2.0]),
        ("no_such_metric", &[]),
    ];
    for (q, want) in table {
        assert_eq!(values(&h, q, now), *want, "{q}");
    }
    // Nothing within the lookback: nothing current.
    let Answer::Vector(v) = h
        .instant(
            &parse("disk_used_percent").unwrap(),
            now + 600_000,
            300_000,
            now + 600_000,
        )
        .unwrap()
    else {
        panic!()
    };
    assert!(v.is_empty());
}

#[test]
fn limits_are_named_when_a_query_exceeds_them() {
    let dir = tempfile::tempdir().unwrap();
    let limits = QueryLimits {
        max_series: 2,
        max_samples: 1_000_000,
        max_points_per_series: 100,
        max_range: std::time::Duration::from_secs(86_400),
    };
    let (h, now) = history(dir.path(), limits);
    let q = parse("disk_used_percent").unwrap();
    let err = h.instant(&q, now, 300_000, now).unwrap_err();
    assert!(matches!(err, QueryError::Limit(_)), "{err}");
    assert!(
        err.to_string().contains("history.limits.max_series"),
        "{err}"
    );
    let q = parse("cpu_usage_percent").unwrap();
    let err = h
        .range(&q, now - 2 * 86_400_000, now, 3_600_000, 300_000, now)
        .unwrap_err();
    assert!(
        err.to_string().contains("history.limits.max_range"),
        "{err}"
    );
    let err = h
        .range(&q, now - 3_600_000, now, 1_000, 300_000, now)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("history.limits.max_points_per_series"),
        "{err}"
    );
    let err = h.range(&q, now, now - 1, 1_000, 300_000, now).unwrap_err();
    assert!(matches!(err, QueryError::Invalid(_)), "{err}");
    assert_eq!(
        h.range(&q, now - 60_000, now, 10_000, 300_000, now)
            .unwrap()
            .len(),
        2
    );
}
