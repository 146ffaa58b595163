//! One-line descriptions of the metrics the probes emit, used as `# HELP` text by
//! `patrol-agent --once` and the collector's `/metrics`. The full reference is
//! `docs/metrics.md`; a test keeps the two in step.

/// `(metric, help)` for every metric a probe (or the agent for a probe) emits.
pub const METRICS: &[(&str, &str)] = &[
    (
        "cpu_usage_percent",
        "Whole-host CPU busy over the probe interval (idle and iowait excluded), 0-100.",
    ),
    (
        "cpu_core_usage_percent",
        "CPU busy per logical core over the probe interval, 0-100.",
    ),
    ("system_load1", "Load average over 1 minute."),
    ("system_load5", "Load average over 5 minutes."),
    ("system_load15", "Load average over 15 minutes."),
    (
        "memory_used_percent",
        "(MemTotal - MemAvailable) / MemTotal, as free shows it, 0-100.",
    ),
    ("memory_total_bytes", "Physical memory (MemTotal)."),
    (
        "memory_available_bytes",
        "Memory available without swapping (MemAvailable).",
    ),
    (
        "swap_used_percent",
        "Swap used / swap total, 0-100 (0 without swap).",
    ),
    ("swap_total_bytes", "Swap size."),
    ("swap_used_bytes", "Swap in use."),
    (
        "disk_used_percent",
        "Filesystem space used as df prints Use%: used / (used + available to non-root).",
    ),
    ("disk_total_bytes", "Filesystem size."),
    (
        "disk_used_bytes",
        "Filesystem space used (blocks - free blocks).",
    ),
    (
        "disk_available_bytes",
        "Filesystem space available to non-root users.",
    ),
    (
        "net_receive_bytes_per_second",
        "Bytes received per second over the probe interval.",
    ),
    (
        "net_transmit_bytes_per_second",
        "Bytes sent per second over the probe interval.",
    ),
    ("processes", "Processes running (threads not counted)."),
    ("uptime_seconds", "Time since boot."),
    // oracle probe (probes/src/oracle/README.md)
    (
        "oracle_up",
        "1 when the database answered and its instance is OPEN, else 0.",
    ),
    (
        "oracle_tablespace_used_percent",
        "Tablespace used / the size its files may grow to (autoextend counted), 0-100.",
    ),
    ("oracle_tablespace_used_bytes", "Tablespace space used."),
    (
        "oracle_tablespace_max_bytes",
        "Size the tablespace's files may grow to (autoextend maximum, else allocated).",
    ),
    (
        "oracle_archive_log_used_percent",
        "Archive log space used of its limit: archived-log share of the recovery area, or the archive destination's filesystem use; the fullest local destination, 0-100.",
    ),
    (
        "oracle_recovery_area_used_percent",
        "Recovery area (FRA) in use: (used - reclaimable) / limit, 0-100.",
    ),
    (
        "oracle_archive_dest_error",
        "1 when the archive destination is in ERROR, DISABLED, BAD PARAM or FULL state.",
    ),
    ("oracle_sessions", "Sessions in use (v$resource_limit)."),
    (
        "oracle_sessions_used_percent",
        "Sessions in use / the sessions limit, 0-100.",
    ),
    ("oracle_processes", "Processes in use (v$resource_limit)."),
    (
        "oracle_processes_used_percent",
        "Processes in use / the processes limit, 0-100.",
    ),
    (
        "oracle_rman_backups",
        "Successful whole-database RMAN backups still in the control file's history.",
    ),
    (
        "oracle_rman_backup_age_hours",
        "Hours since the newest successful whole-database RMAN backup ended.",
    ),
    (
        "oracle_alert_log_errors_total",
        "ORA- errors written to the alert log since the agent started, by code.",
    ),
    (
        "patrol_probe_up",
        "1 when the probe's last round completed, 0 when it failed or timed out.",
    ),
    (
        "patrol_probe_duration_ms",
        "How long the probe's last round took.",
    ),
];

/// The help text of a metric, if a probe emits it.
pub fn help(metric: &str) -> Option<&'static str> {
    METRICS.iter().find(|(m, _)| *m == metric).map(|(_, h)| *h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogued_metric_is_in_the_reference() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/metrics.md"))
                .expect("docs/metrics.md");
        for (metric, help) in METRICS {
            assert!(
                doc.contains(&format!("`{metric}`")),
                "{metric} is not in docs/metrics.md"
            );
            assert!(
                !help.contains('\n') && !help.contains('\\'),
                "{metric}: help must be one plain line"
            );
        }
    }
}
