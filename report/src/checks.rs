//! Which metric is which check of the inspection round, in which object group: one table,
//! checked against `docs/metrics.md` (the catalogue the rules crate compiles in) so a metric
//! renamed there cannot silently drop off the sheet. A metric not in the table that a rule
//! watches goes to "other"; one that is neither is not an inspection check.

use patrol_rules::catalog::Catalog;
use serde::{Deserialize, Serialize};

use crate::format;
use crate::lang::{Language, Text};

/// Object groups, in the handbook's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Hardware (fans, temperatures, power, RAID), CPU, memory, disks.
    Servers,
    /// Instance, tablespaces, archive log, sessions, backups, alert log.
    Databases,
    /// WebLogic log usage, stuck threads, errors.
    Middleware,
    /// Interfaces, ping loss and latency, service checks.
    Network,
    /// UPSes, sensors, FC ports seen over SNMP.
    Gear,
    /// Watched by a rule, not an inspection check of the handbook.
    Other,
}

impl Group {
    /// Every group, in the sheet's order.
    pub const ALL: [Group; 6] = [
        Group::Servers,
        Group::Databases,
        Group::Middleware,
        Group::Network,
        Group::Gear,
        Group::Other,
    ];

    /// The group's heading.
    pub fn title(self) -> Text {
        match self {
            Group::Servers => Text::GroupServers,
            Group::Databases => Text::GroupDatabases,
            Group::Middleware => Text::GroupMiddleware,
            Group::Network => Text::GroupNetwork,
            Group::Gear => Text::GroupGear,
            Group::Other => Text::GroupOther,
        }
    }
}

/// Which end of a metric is bad: what "worst" means for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bad {
    /// High values are bad: the worst is the maximum.
    High,
    /// Low values are bad (a state that is 0 when down): the worst is the minimum.
    Low,
}

/// How a value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// 0–100.
    Percent,
    /// °C.
    Celsius,
    /// Milliseconds.
    Ms,
    /// Seconds, shown as a duration.
    Seconds,
    /// Hours.
    Hours,
    /// Days.
    Days,
    /// Bytes.
    Bytes,
    /// A plain count.
    Count,
    /// 1 = up, 0 = down.
    Up,
    /// 1 = OK, 0 = fault.
    Ok,
    /// 1 = yes (the condition named holds), 0 = no.
    Flag,
}

impl Unit {
    /// The unit a metric's name says (DESIGN's suffix convention).
    pub fn of_name(metric: &str) -> Unit {
        let suffixes = [
            ("_percent", Unit::Percent),
            ("_celsius", Unit::Celsius),
            ("_ms", Unit::Ms),
            ("_seconds", Unit::Seconds),
            ("_hours", Unit::Hours),
            ("_days", Unit::Days),
            ("_bytes", Unit::Bytes),
            ("_up", Unit::Up),
            ("_ok", Unit::Ok),
        ];
        suffixes
            .iter()
            .find(|(s, _)| metric.ends_with(s))
            .map_or(Unit::Count, |(_, u)| *u)
    }

    /// Whether values are 0/1 states.
    pub fn is_state(self) -> bool {
        matches!(self, Unit::Up | Unit::Ok | Unit::Flag)
    }

    /// `v` as the sheet shows it.
    pub fn show(self, lang: Language, v: f64) -> String {
        let n = |d| format::number(lang, v, d);
        let state = |one: Text, zero: Text| {
            if v == 1.0 {
                one.get(lang).to_owned()
            } else if v == 0.0 {
                zero.get(lang).to_owned()
            } else {
                n(2)
            }
        };
        match self {
            Unit::Percent => format!("{}%", n(2)),
            Unit::Celsius => format!("{} °C", n(1)),
            Unit::Ms => format!("{} ms", n(2)),
            Unit::Seconds if v.is_finite() => format::duration(lang, (v * 1000.0).round() as i64),
            Unit::Seconds => n(0),
            Unit::Hours => match lang {
                Language::En => format!("{} h", n(1)),
                Language::ZhCn => format!("{}小时", n(1)),
            },
            Unit::Days => match lang {
                Language::En => format!("{} d", n(1)),
                Language::ZhCn => format!("{}天", n(1)),
            },
            Unit::Bytes => bytes(lang, v),
            Unit::Count => n(2),
            Unit::Up => state(Text::StateUp, Text::StateDown),
            Unit::Ok => state(Text::StateOk, Text::StateFault),
            Unit::Flag => state(Text::Yes, Text::No),
        }
    }

    /// A threshold number: with its unit, except for states (`== 0`).
    pub fn show_threshold(self, lang: Language, v: f64) -> String {
        match self {
            Unit::Up | Unit::Ok | Unit::Flag | Unit::Seconds | Unit::Count => {
                format::number(lang, v, 2)
            }
            other => other.show(lang, v),
        }
    }
}

fn bytes(lang: Language, v: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut x = v;
    let mut i = 0;
    while x.abs() >= 1024.0 && i + 1 < UNITS.len() {
        x /= 1024.0;
        i += 1;
    }
    format!("{} {}", format::number(lang, x, 1), UNITS[i])
}

/// What the worst-since-previous column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The worst value (maximum or minimum by [`Bad`]).
    Worst,
    /// A counter: how much it grew (maximum − minimum; the counters shown keep counting
    /// across agent restarts).
    Increase,
}

/// One inspection check of one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckDef {
    /// The metric (docs/metrics.md).
    pub metric: &'static str,
    /// Its group.
    pub group: Group,
    /// Stable key, in JSON and CSV (`disk`).
    pub key: &'static str,
    /// The check's name.
    pub text: Text,
    /// Labels naming the object, in order; `a|b` takes the first present.
    pub object: &'static [&'static str],
    /// How values are shown.
    pub unit: Unit,
    /// Which end is bad when no rule says.
    pub bad: Bad,
    /// The worst column.
    pub aggregate: Aggregate,
}

macro_rules! checks {
    ($($metric:literal: $group:ident $key:literal $text:ident [$($obj:literal),*] $unit:ident $bad:ident $(+$agg:ident)?;)*) => {
        /// The inspection checks, in the order rows are shown within a group.
        pub const CHECKS: &[CheckDef] = &[$(
            CheckDef {
                metric: $metric,
                group: Group::$group,
                key: $key,
                text: Text::$text,
                object: &[$($obj),*],
                unit: Unit::$unit,
                bad: Bad::$bad,
                aggregate: checks!(@agg $($agg)?),
            },
        )*];
    };
    (@agg) => { Aggregate::Worst };
    (@agg $agg:ident) => { Aggregate::$agg };
}

checks! {
    // Servers: hardware first, as the handbook's form. Gear polled over SNMP reports the same
    // hardware metrics with a `device` label and is listed under storage and power gear.
    "hw_fan_ok": Servers "fans" CheckFans ["device|host", "fan"] Ok Low;
    "hw_temperature_celsius": Servers "temperature" CheckTemperature ["device|host", "sensor"] Celsius High;
    "hw_temperature_high": Servers "temperature" CheckTemperatureHigh ["device|host", "sensor"] Flag High;
    "hw_temperature_critical": Servers "temperature" CheckTemperatureCritical ["device|host", "sensor"] Flag High;
    "hw_psu_ok": Servers "power" CheckPower ["device|host", "psu"] Ok Low;
    "ipmi_up": Servers "power" CheckPower ["host", "bmc"] Up Low;
    "ipmi_sensor_severity": Servers "power" CheckPower ["host", "bmc", "sensor"] Count High;
    "raid_degraded": Servers "raid" CheckRaid ["host", "array"] Flag High;
    "cpu_usage_percent": Servers "cpu" CheckCpu ["host"] Percent High;
    "memory_used_percent": Servers "memory" CheckMemory ["host"] Percent High;
    "swap_used_percent": Servers "swap" CheckSwap ["host"] Percent High;
    "disk_used_percent": Servers "disk" CheckDisk ["host", "mount"] Percent High;
    "patrol_agent_up": Servers "agent" CheckAgent ["host"] Up Low;
    "process_up": Servers "processes" CheckProcess ["host", "process"] Up Low;
    "tcp_listen_up": Servers "listeners" CheckListener ["host", "port"] Up Low;
    // Databases.
    "oracle_up": Databases "instance" CheckInstance ["host", "db"] Up Low;
    "oracle_tablespace_used_percent": Databases "tablespace" CheckTablespace ["host", "db", "tablespace"] Percent High;
    "oracle_archive_log_used_percent": Databases "archive_log" CheckArchiveLog ["host", "db"] Percent High;
    "oracle_archive_dest_error": Databases "archive_dest" CheckArchiveDest ["host", "db", "dest"] Flag High;
    "oracle_recovery_area_used_percent": Databases "recovery_area" CheckRecoveryArea ["host", "db"] Percent High;
    "oracle_sessions_used_percent": Databases "sessions" CheckSessions ["host", "db"] Percent High;
    "oracle_processes_used_percent": Databases "db_processes" CheckProcessesDb ["host", "db"] Percent High;
    "oracle_rman_backup_age_hours": Databases "backup" CheckBackup ["host", "db"] Hours High;
    "oracle_rman_backups": Databases "backups" CheckBackups ["host", "db"] Count Low;
    "oracle_alert_log_errors_total": Databases "alert_log" CheckAlertLog ["host", "db", "code"] Count High +Increase;
    "oracle_deadlocks": Databases "deadlocks" CheckDeadlocks ["host", "db"] Count High;
    "oracle_blocked_wait_seconds": Databases "locks" CheckLocks ["host", "db"] Seconds High;
    "oracle_long_running_sql": Databases "locks" CheckLocks ["host", "db"] Count High;
    "oracle_dataguard_transport_lag_seconds": Databases "dataguard" CheckDataGuard ["host", "db"] Seconds High;
    "oracle_dataguard_apply_lag_seconds": Databases "dataguard" CheckDataGuard ["host", "db"] Seconds High;
    "oracle_scheduler_job_failures": Databases "jobs" CheckJobs ["host", "db"] Count High;
    "oracle_scheduler_broken_jobs": Databases "jobs" CheckJobs ["host", "db"] Count High;
    // Middleware.
    "weblogic_log_used_percent": Middleware "log_usage" CheckLogUsage ["host", "server"] Percent High;
    "weblogic_stuck_threads": Middleware "stuck_threads" CheckStuckThreads ["host", "server"] Count High;
    "weblogic_out_of_memory": Middleware "out_of_memory" CheckOutOfMemory ["host", "server"] Count High;
    "weblogic_log_ok": Middleware "log_readable" CheckLogReadable ["host", "server"] Ok Low;
    // Network and links.
    "snmp_up": Network "device_up" CheckDeviceUp ["device"] Up Low;
    "snmp_if_down": Network "interfaces" CheckInterfaces ["device", "ifname"] Flag High;
    "snmp_trap_if_oper_up": Network "interfaces" CheckInterfaceUp ["device", "ifindex"] Up Low;
    "ping_up": Network "reachable" CheckReachable ["host", "target"] Up Low;
    "ping_loss_percent": Network "loss" CheckLoss ["host", "target"] Percent High;
    "ping_rtt_ms": Network "latency" CheckLatency ["host", "target"] Ms High;
    "trace_path_changed": Network "route" CheckRoute ["host", "target"] Flag High;
    "http_up": Network "service" CheckService ["host", "target"] Up Low;
    "tcp_up": Network "service" CheckService ["host", "target"] Up Low;
    "dns_up": Network "service" CheckService ["host", "target", "server"] Up Low;
    "tls_cert_expiry_days": Network "certificate" CheckCertificate ["host", "target"] Days Low;
    // Storage and power gear over SNMP.
    "ups_on_battery": Gear "ups" CheckUps ["device"] Flag High;
    "ups_alarms_present": Gear "ups" CheckUpsAlarms ["device"] Count High;
    "ups_battery_low": Gear "ups_battery" CheckUpsBatteryLow ["device"] Flag High;
    "ups_battery_remaining_percent": Gear "ups_battery" CheckUpsBattery ["device"] Percent Low;
    "ups_battery_runtime_seconds": Gear "ups_battery" CheckUpsBattery ["device"] Seconds Low;
    "ups_load_percent": Gear "ups_load" CheckUpsLoad ["device", "line"] Percent High;
    "entity_sensor_ok": Gear "sensors" CheckSensors ["device", "sensor"] Ok Low;
    "fc_port_down": Gear "fc" CheckFc ["device", "port"] Flag High;
}

/// The check of `metric`, if it is one.
pub fn check_of(metric: &str) -> Option<&'static CheckDef> {
    CHECKS.iter().find(|c| c.metric == metric)
}

/// Where a check's row goes: hardware of a server seen over SNMP (it has a `device`) is
/// storage and power gear.
pub fn group_of(def: &CheckDef, labels: &patrol_proto::Labels) -> Group {
    if def.group == Group::Servers && labels.get("device").is_some_and(|d| !d.is_empty()) {
        Group::Gear
    } else {
        def.group
    }
}

/// The object a series is about: the values of the check's object labels
/// (`db1 /u01`, `sw1 Gi1/0/1`).
pub fn object_of(
    def: Option<&CheckDef>,
    metric: Option<&str>,
    labels: &patrol_proto::Labels,
) -> String {
    let value = |name: &str| labels.get(name).filter(|v| !v.is_empty());
    let parts: Vec<&str> = match def {
        Some(d) => d
            .object
            .iter()
            .filter_map(|spec| spec.split('|').find_map(value))
            .collect(),
        // Without a check: the host, then the metric's probe labels as docs/metrics.md lists
        // them (an agent's static labels such as `role` name no object); every other label
        // for a metric the catalogue does not know.
        None => {
            let probe = metric.and_then(|m| Catalog::shipped().labels(m));
            let rest: Vec<&str> = match probe {
                Some(names) => names.iter().filter_map(|n| value(n)).collect(),
                None => labels
                    .iter()
                    .filter(|(k, v)| *k != "host" && !v.is_empty())
                    .map(|(_, v)| v)
                    .collect(),
            };
            value("host").into_iter().chain(rest).collect()
        }
    };
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(" ")
    }
}

/// The machine an object is on (a host or an SNMP device): what "objects checked" counts.
pub fn machine_of(labels: &patrol_proto::Labels) -> String {
    labels
        .get("device")
        .or_else(|| labels.get("host"))
        .unwrap_or("-")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use patrol_proto::Labels;
    use patrol_rules::catalog::{Catalog, EVERY_SAMPLE};

    #[test]
    fn every_check_is_a_documented_metric_with_its_object_labels() {
        let cat = Catalog::shipped();
        for c in CHECKS {
            let labels = cat
                .labels(c.metric)
                .unwrap_or_else(|| panic!("{} is not in docs/metrics.md", c.metric));
            for spec in c.object {
                let alternatives = spec.contains('|');
                for l in spec.split('|') {
                    // The catalogue keeps one label list per metric (the last probe's that
                    // documents it); an alternative such as `device|host` is there for the
                    // other probe, so it only has to be some probe's label.
                    assert!(
                        EVERY_SAMPLE.contains(&l)
                            || labels.iter().any(|x| x == l)
                            || (alternatives && cat.is_probe_label(l)),
                        "{}: object label '{l}' is not one of its labels {labels:?}",
                        c.metric
                    );
                }
            }
            assert_eq!(
                CHECKS.iter().filter(|d| d.metric == c.metric).count(),
                1,
                "{} is listed twice",
                c.metric
            );
        }
    }

    #[test]
    fn every_shipped_rule_reads_a_check_or_is_knowingly_other() {
        // The shipped rules that are not about the handbook's inspection round.
        const OTHER: &[&str] = &[
            "snmp_traps",
            "exec_state",
            "files_stale",
            "textfile_scrape_error",
            "log_pattern_last_match_age_seconds",
        ];
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/default");
        let set = patrol_rules::load_dir(std::path::Path::new(dir), &Default::default())
            .unwrap_or_else(|e| panic!("shipped rules: {e:?}"));
        for r in set.rules() {
            let m = r.metric();
            assert!(
                check_of(m).is_some() || OTHER.contains(&m),
                "rule {} reads {m}, which has no inspection check: add it to CHECKS or to OTHER here",
                r.name
            );
        }
    }

    #[test]
    fn objects_and_groups() {
        let disk = Labels::from_pairs([("host", "db1"), ("mount", "/u01")]);
        let d = check_of("disk_used_percent");
        assert_eq!(object_of(d, None, &disk), "db1 /u01");
        assert_eq!(d.map(|d| group_of(d, &disk)), Some(Group::Servers));
        let fan = Labels::from_pairs([("host", "a1"), ("device", "ups1"), ("fan", "f2")]);
        let f = check_of("hw_fan_ok");
        assert_eq!(object_of(f, None, &fan), "ups1 f2");
        assert_eq!(f.map(|d| group_of(d, &fan)), Some(Group::Gear));
        let other = Labels::from_pairs([("host", "h"), ("check", "nightly"), ("role", "app")]);
        // exec_state's probe label is `check`; `role` is an agent's static label.
        assert_eq!(object_of(None, Some("exec_state"), &other), "h nightly");
        let unknown = Labels::from_pairs([("host", "h"), ("job", "x"), ("y", "")]);
        assert_eq!(object_of(None, Some("my_metric"), &unknown), "h x");
        assert_eq!(machine_of(&fan), "ups1");
    }

    #[test]
    fn values_per_unit_and_language() {
        let en = Language::En;
        let zh = Language::ZhCn;
        assert_eq!(Unit::Percent.show(en, 91.537), "91.54%");
        assert_eq!(Unit::Up.show(zh, 0.0), "离线");
        assert_eq!(Unit::Ok.show(en, 1.0), "OK");
        assert_eq!(Unit::Seconds.show(en, 5400.0), "1 h 30 min");
        assert_eq!(Unit::Hours.show(zh, 26.5), "26.5小时");
        assert_eq!(Unit::Bytes.show(en, 1536.0 * 1024.0 * 1024.0), "1.5 GiB");
        assert_eq!(Unit::of_name("weblogic_log_used_percent"), Unit::Percent);
        assert_eq!(Unit::of_name("exec_state"), Unit::Count);
        assert_eq!(Unit::Up.show_threshold(en, 0.0), "0");
        assert_eq!(Unit::Percent.show_threshold(en, 90.0), "90%");
    }
}
