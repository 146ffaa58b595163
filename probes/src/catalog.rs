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
    // ping, trace, sockets, hwmon, mdstat probes (h/net)
    (
        "ping_up",
        "1 when the target answered at least one echo request this round.",
    ),
    (
        "ping_loss_percent",
        "Echo requests of the round with no reply, 0-100.",
    ),
    (
        "ping_rtt_ms",
        "Average round-trip time of the answered echo requests.",
    ),
    ("ping_rtt_min_ms", "Shortest round-trip time of the round."),
    ("ping_rtt_max_ms", "Longest round-trip time of the round."),
    (
        "ping_jitter_ms",
        "Mean absolute difference between consecutive round-trip times of the round.",
    ),
    (
        "trace_reached",
        "1 when the trace reached the target within max_hops.",
    ),
    (
        "trace_hops",
        "Hops to the target (or to the last hop that answered when not reached).",
    ),
    (
        "trace_path_changed",
        "1 when the route differs from the previous round's (different router or hop count).",
    ),
    (
        "trace_hop_info",
        "Always 1; labels hop (1, 2, ...) and responder (address, or * for no answer).",
    ),
    (
        "tcp_listen_up",
        "1 when a TCP socket listens on the configured port (any address, IPv4 or IPv6).",
    ),
    (
        "tcp_connections",
        "TCP sockets in each state (ss -tan), IPv4 and IPv6.",
    ),
    (
        "tcp_established_connections",
        "Established TCP connections whose local port is this listening port.",
    ),
    (
        "hw_temperature_celsius",
        "Temperature read by a hwmon sensor.",
    ),
    (
        "hw_temperature_max_celsius",
        "The sensor's own high limit (tempN_max).",
    ),
    (
        "hw_temperature_crit_celsius",
        "The sensor's own critical limit (tempN_crit).",
    ),
    (
        "hw_temperature_high",
        "1 when the temperature is at or above the sensor's max limit, or its max alarm is set.",
    ),
    (
        "hw_temperature_critical",
        "1 when the temperature is at or above the sensor's crit limit, or its crit alarm is set.",
    ),
    ("hw_fan_rpm", "Fan speed."),
    (
        "hw_fan_min_rpm",
        "The fan's minimum speed limit (fanN_min).",
    ),
    (
        "hw_fan_ok",
        "1 when the fan turns, at or above its minimum, with no alarm.",
    ),
    (
        "hw_sensors_unreadable",
        "hwmon inputs that could not be read or parsed this round.",
    ),
    (
        "raid_degraded",
        "1 when the md array misses a member or is inactive.",
    ),
    ("raid_active", "1 when the md array is active."),
    ("raid_disks", "Member slots of the md array ([n/m]: n)."),
    (
        "raid_disks_active",
        "Working members of the md array ([n/m]: m).",
    ),
    (
        "raid_failed_disks",
        "Members of the md array marked failed (F).",
    ),
    (
        "raid_sync_percent",
        "Progress of a running resync, recovery, check, repair or reshape, 0-100.",
    ),
    (
        "raid_mdstat_errors",
        "Array blocks of /proc/mdstat that could not be parsed this round.",
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
