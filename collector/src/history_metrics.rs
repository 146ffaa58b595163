//! `patrol_history_*` and `patrol_remote_write_*` in `/metrics`: what the sample history and its
//! remote-write endpoints have done (docs/metrics.md lists them).

use std::fmt::{self, Write};
use std::sync::atomic::Ordering;

use patrol_history::History;
use patrol_history::remote::RemoteStats;
use patrol_history::stats::{Num, Stats};

type Field = fn(&Stats) -> &Num;

/// Counters: (name, help, field).
const COUNTERS: &[(&str, &str, Field)] = &[
    (
        "patrol_history_samples_appended_total",
        "Samples written to the history's log.",
        |s| &s.samples_appended,
    ),
    (
        "patrol_history_samples_out_of_order_total",
        "Samples not kept because their series already had one at that time or later (a resent batch, a clock going back).",
        |s| &s.samples_out_of_order,
    ),
    (
        "patrol_history_wal_syncs_total",
        "Groups of log writes made durable.",
        |s| &s.wal_syncs,
    ),
    (
        "patrol_history_wal_bytes_written_total",
        "Bytes written to the history's log.",
        |s| &s.wal_bytes_written,
    ),
    (
        "patrol_history_wal_errors_total",
        "Log writes or syncs that failed (their batches were not acknowledged).",
        |s| &s.wal_errors,
    ),
    (
        "patrol_history_wal_records_damaged_total",
        "Damaged log records skipped at start-up.",
        |s| &s.wal_records_damaged,
    ),
    (
        "patrol_history_wal_bytes_damaged_total",
        "Bytes of damaged log tails cut at start-up.",
        |s| &s.wal_bytes_damaged,
    ),
    (
        "patrol_history_chunks_flushed_total",
        "Chunks written to the chunk database.",
        |s| &s.chunks_flushed,
    ),
    (
        "patrol_history_flush_errors_total",
        "Chunk writes that failed (the chunks stay in memory and are tried again).",
        |s| &s.flush_errors,
    ),
    (
        "patrol_history_chunks_corrupt_total",
        "Chunks found undecodable when read (skipped).",
        |s| &s.chunks_corrupt,
    ),
    (
        "patrol_history_checkpoints_total",
        "Checkpoints done.",
        |s| &s.checkpoints,
    ),
    (
        "patrol_history_series_removed_total",
        "Series removed from the history: retention or the disk cap took all their data and none came for longer than the raw retention.",
        |s| &s.series_removed,
    ),
    (
        "patrol_history_samples_removed_series_total",
        "Samples not kept because their series had been removed for a whole checkpoint interval.",
        |s| &s.samples_removed_series,
    ),
    (
        "patrol_history_queries_refused_total",
        "Queries refused for a limit.",
        |s| &s.queries_refused,
    ),
];

/// Gauges: (name, help, field).
const GAUGES: &[(&str, &str, Field)] = &[
    ("patrol_history_series", "Series the history knows.", |s| {
        &s.series
    }),
    (
        "patrol_history_head_bytes",
        "Bytes the series' in-memory chunks hold.",
        |s| &s.head_bytes,
    ),
    (
        "patrol_history_disk_bytes",
        "Disk the history uses: log and chunk database (at the last checkpoint).",
        |s| &s.disk_bytes,
    ),
    (
        "patrol_history_stored_raw_samples",
        "Raw samples in the chunk database (at the last checkpoint).",
        |s| &s.stored_raw_samples,
    ),
    (
        "patrol_history_stored_raw_bytes",
        "Bytes of raw chunks in the chunk database (at the last checkpoint).",
        |s| &s.stored_raw_bytes,
    ),
];

/// Writes the history's and the remote-write endpoints' metrics.
pub fn write(
    out: &mut String,
    history: &History,
    remote: &RemoteStats,
    now_ms: i64,
) -> fmt::Result {
    let s = history.stats();
    for (name, help, field) in COUNTERS {
        writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            field(s).get()
        )?;
    }
    for (name, help, field) in GAUGES {
        writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
            field(s).get()
        )?;
    }
    let name = "patrol_history_removed_total";
    writeln!(
        out,
        "# HELP {name} Samples (tier raw) and minutes (tier minute) removed, by tier and reason (retention, disk_cap).\n# TYPE {name} counter"
    )?;
    for (tier, reason, n) in [
        ("raw", "retention", &s.retention_raw_samples),
        ("minute", "retention", &s.retention_minutes),
        ("raw", "disk_cap", &s.cap_raw_samples),
        ("minute", "disk_cap", &s.cap_minutes),
    ] {
        writeln!(
            out,
            "{name}{{tier=\"{tier}\",reason=\"{reason}\"}} {}",
            n.get()
        )?;
    }
    write_remote(out, remote, now_ms)
}

fn write_remote(out: &mut String, remote: &RemoteStats, now_ms: i64) -> fmt::Result {
    type Get = fn(&patrol_history::remote::EndpointStats, i64) -> String;
    let series: [(&str, &str, &str, Get); 7] = [
        (
            "patrol_remote_write_samples_sent_total",
            "counter",
            "Samples the endpoint confirmed.",
            |e, _| e.samples_sent.load(Ordering::Relaxed).to_string(),
        ),
        (
            "patrol_remote_write_requests_sent_total",
            "counter",
            "Requests the endpoint confirmed.",
            |e, _| e.requests_sent.load(Ordering::Relaxed).to_string(),
        ),
        (
            "patrol_remote_write_retries_total",
            "counter",
            "Requests tried again after a 5xx, a 429 or a connection failure.",
            |e, _| e.retries.load(Ordering::Relaxed).to_string(),
        ),
        (
            "patrol_remote_write_samples_dropped_total",
            "counter",
            "Samples the endpoint refused with a 4xx other than 429, or removed from the log before they were sent.",
            |e, _| e.samples_dropped.load(Ordering::Relaxed).to_string(),
        ),
        (
            "patrol_remote_write_pending_bytes",
            "gauge",
            "Bytes of the history's log the endpoint has not confirmed yet.",
            |e, _| e.pending_bytes.load(Ordering::Relaxed).to_string(),
        ),
        (
            "patrol_remote_write_lag_seconds",
            "gauge",
            "Age of the newest sample the endpoint confirmed (0 before the first).",
            |e, now| {
                let newest = e.newest_sent_ms.load(Ordering::Relaxed);
                if newest <= 0 {
                    "0".into()
                } else {
                    ((now - newest).max(0) as f64 / 1000.0).to_string()
                }
            },
        ),
        (
            "patrol_remote_write_failing",
            "gauge",
            "1 while the endpoint's last attempt failed (patrolctl history shows the error).",
            |e, _| u8::from(e.error().is_some()).to_string(),
        ),
    ];
    for (name, kind, help, get) in series {
        writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}")?;
        for (endpoint, e) in remote {
            write!(out, "{name}{{endpoint=\"")?;
            patrol_proto::exposition::write_escaped(out, endpoint)?;
            writeln!(out, "\"}} {}", get(e, now_ms))?;
        }
    }
    Ok(())
}
