//! Host probe (`type = "host"`): CPU, load, memory, swap, filesystems, network throughput,
//! process count and uptime of the machine the agent runs on. Metrics are listed in
//! `README.md` beside this file; `sample.toml` shows every option with its default.
//!
//! sysinfo and `statvfs` calls are blocking but take microseconds on local, kernel-backed
//! sources, so they run inline on the async task; only network filesystems, whose `statvfs`
//! can hang while the server is away, go to a blocking thread with a timeout.

pub(crate) mod compute;
mod mounts;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use patrol_proto::{Labels, Sample};
use serde::Deserialize;
use sysinfo::{Networks, ProcessRefreshKind, ProcessesToUpdate, System};
use tokio::task::JoinHandle;

use crate::{CollectContext, DEFAULT_INTERVAL, Probe, ProbeError};
use compute::{DiskSpace, FsBlocks, FsClass, FsFilter, Pattern};

/// Configuration of one `[[probe]] type = "host"` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// How often the probe runs, e.g. `"10s"`, `"1m"`. CPU usage and network rates are
    /// averages over this interval. Default `"10s"`.
    #[serde(deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// Also report `cpu_core_usage_percent{core="N"}` for every logical CPU. Default `true`;
    /// turn off on hosts with hundreds of cores to save series.
    pub per_core: bool,
    /// Filesystem types to report, e.g. `["ext4", "xfs"]`. Empty (the default) means every
    /// local filesystem. A type listed here is reported even if it is virtual or network.
    pub include_fs_types: Vec<String>,
    /// Filesystem types never reported; wins over every other option. Default
    /// `["squashfs", "iso9660", "udf"]`: read-only images (snaps, CDs) are always 100 % full.
    pub exclude_fs_types: Vec<String>,
    /// Mount points never reported: exact paths, or prefixes ending in `*` (`"/snap/*"`).
    /// Default `["/snap/*", "/var/lib/docker/*", "/var/lib/kubelet/*"]`: container and snap
    /// mounts repeat the host's filesystems or come and go with containers.
    pub exclude_mounts: Vec<String>,
    /// Report memory-backed and kernel filesystems too (`tmpfs`, `overlay`, `devtmpfs`...).
    /// Default `false`. Pseudo filesystems with no size (`proc`, `sysfs`) are never reported.
    pub include_virtual_fs: bool,
    /// Report network and FUSE filesystems too (`nfs`, `nfs4`, `cifs`, `fuse.sshfs`...).
    /// Default `false`: their `statvfs` can hang while the server is away.
    pub include_network_fs: bool,
    /// How long to wait for a network filesystem's figures before skipping it for this round
    /// (logged once). Default `"5s"`. Only used with `include_network_fs` or when
    /// `include_fs_types` names a network type.
    #[serde(deserialize_with = "network_fs_timeout_duration")]
    pub network_fs_timeout: Duration,
    /// Network interfaces not reported: exact names, or prefixes ending in `*` (`"veth*"`).
    /// Default `["lo"]`.
    pub interfaces_exclude: Vec<String>,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            interval: DEFAULT_INTERVAL,
            per_core: true,
            include_fs_types: Vec::new(),
            exclude_fs_types: vec!["squashfs".into(), "iso9660".into(), "udf".into()],
            exclude_mounts: vec![
                "/snap/*".into(),
                "/var/lib/docker/*".into(),
                "/var/lib/kubelet/*".into(),
            ],
            include_virtual_fs: false,
            include_network_fs: false,
            network_fs_timeout: Duration::from_secs(5),
            interfaces_exclude: vec!["lo".into()],
        }
    }
}

use crate::sample_out::{interval_duration, named_duration};

fn network_fs_timeout_duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Duration, D::Error> {
    named_duration("network_fs_timeout", d)
}

/// The checked form of [`HostConfig`]: patterns parsed, filter assembled.
#[derive(Debug, Clone)]
struct Settings {
    per_core: bool,
    fs_filter: FsFilter,
    network_fs_timeout: Duration,
    interfaces_exclude: Vec<Pattern>,
}

impl HostConfig {
    /// Checks every field and reports all problems at once, each naming its field.
    fn validate(&self) -> Result<Settings, ProbeError> {
        let mut errors = Vec::new();
        if self.interval.is_zero() {
            errors.push("interval: must be greater than 0".to_owned());
        }
        if self.network_fs_timeout.is_zero() {
            errors.push("network_fs_timeout: must be greater than 0".to_owned());
        }
        let mut patterns = |field: &str, list: &[String]| -> Vec<Pattern> {
            list.iter()
                .enumerate()
                .filter_map(|(i, text)| {
                    Pattern::parse(text)
                        .map_err(|e| errors.push(format!("{field}[{i}]: {e}")))
                        .ok()
                })
                .collect()
        };
        let exclude_mounts = patterns("exclude_mounts", &self.exclude_mounts);
        let interfaces_exclude = patterns("interfaces_exclude", &self.interfaces_exclude);
        for (field, list) in [
            ("include_fs_types", &self.include_fs_types),
            ("exclude_fs_types", &self.exclude_fs_types),
        ] {
            for (i, t) in list.iter().enumerate() {
                if t.is_empty() || t.contains(char::is_whitespace) {
                    errors.push(format!("{field}[{i}]: {t:?} is not a filesystem type"));
                }
            }
        }
        if !errors.is_empty() {
            return Err(ProbeError::Config(format!("host: {}", errors.join("; "))));
        }
        Ok(Settings {
            per_core: self.per_core,
            fs_filter: FsFilter {
                include_types: self.include_fs_types.clone(),
                exclude_types: self.exclude_fs_types.clone(),
                exclude_mounts,
                include_virtual: self.include_virtual_fs,
                include_network: self.include_network_fs,
            },
            network_fs_timeout: self.network_fs_timeout,
            interfaces_exclude,
        })
    }
}

/// Byte counters of one interface at one instant.
#[derive(Debug, Clone, Copy)]
struct NetTotals {
    received: u64,
    transmitted: u64,
}

/// The running host probe. Keeps one `System` for its whole life because CPU usage is a
/// difference between two readings of `/proc/stat`.
pub struct HostProbe {
    settings: Settings,
    system: System,
    /// Taken just after the last CPU refresh. sysinfo silently ignores a refresh that comes
    /// sooner than `MINIMUM_CPU_UPDATE_INTERVAL` after the previous one, so we must wait.
    cpu_refreshed_at: Instant,
    networks: Networks,
    net_previous: HashMap<String, NetTotals>,
    net_previous_at: Instant,
    /// `statvfs` calls on network mounts that timed out and are still blocked; the mount is
    /// skipped until the call returns, so a dead server costs one thread, not one per round.
    stuck_statvfs: HashMap<String, JoinHandle<rustix::io::Result<rustix::fs::StatVfs>>>,
    /// Sources currently failing, so each failure is logged once, not every round.
    failing: HashSet<String>,
}

impl std::fmt::Debug for HostProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostProbe")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn sysinfo_unavailable(e: impl std::fmt::Display) -> ProbeError {
    ProbeError::Unavailable {
        source_name: "sysinfo",
        message: e.to_string(),
    }
}

impl HostProbe {
    /// Validates the config and takes the first CPU and network readings, so that the first
    /// [`Probe::collect`] (the agent's `--once` mode runs only that one) already has rates.
    pub fn new(config: HostConfig) -> Result<Self, ProbeError> {
        let settings = config.validate()?;
        let mut system = System::new().map_err(sysinfo_unavailable)?;
        system.refresh_cpu_usage();
        let cpu_refreshed_at = Instant::now();
        let networks = Networks::new_with_refreshed_list().map_err(sysinfo_unavailable)?;
        let net_previous = net_totals(&networks);
        Ok(Self {
            settings,
            system,
            cpu_refreshed_at,
            networks,
            net_previous,
            net_previous_at: Instant::now(),
            stuck_statvfs: HashMap::new(),
            failing: HashSet::new(),
        })
    }

    /// Logs the first failure of `source`; later ones stay quiet until it recovers.
    fn failed(&mut self, source: &str, message: &str) {
        if self.failing.insert(source.to_owned()) {
            tracing::warn!(
                probe = "host",
                source,
                "{message}; skipped until it recovers"
            );
        }
    }

    fn recovered(&mut self, source: &str) {
        if self.failing.remove(source) {
            tracing::info!(probe = "host", source, "recovered");
        }
    }

    async fn collect_cpu(&mut self, push: &mut Emit<'_>) {
        let since = self.cpu_refreshed_at.elapsed();
        if let Some(wait) = sysinfo::MINIMUM_CPU_UPDATE_INTERVAL.checked_sub(since) {
            tokio::time::sleep(wait).await;
        }
        self.system.refresh_cpu_usage();
        self.cpu_refreshed_at = Instant::now();
        push.plain(
            "cpu_usage_percent",
            f64::from(self.system.global_cpu_usage()),
        );
        if self.settings.per_core {
            for (i, cpu) in self.system.cpus().iter().enumerate() {
                push.labeled(
                    "cpu_core_usage_percent",
                    "core",
                    i.to_string(),
                    f64::from(cpu.usage()),
                );
            }
        }
    }

    fn collect_memory(&mut self, push: &mut Emit<'_>) {
        self.system.refresh_memory();
        let total = self.system.total_memory();
        let available = self.system.available_memory();
        if let Some(p) = compute::used_percent_of(total, available) {
            push.plain("memory_used_percent", p);
            push.plain("memory_total_bytes", total as f64);
            push.plain("memory_available_bytes", available as f64);
        } else {
            self.failed("memory", "sysinfo reported 0 bytes of RAM");
        }
        let swap_total = self.system.total_swap();
        let swap_used = self.system.used_swap();
        push.plain(
            "swap_used_percent",
            compute::swap_used_percent(swap_total, swap_used),
        );
        push.plain("swap_total_bytes", swap_total as f64);
        push.plain("swap_used_bytes", swap_used as f64);
    }

    async fn collect_disks(&mut self, push: &mut Emit<'_>) {
        // Our own statvfs, not sysinfo's Disks: sysinfo exposes only f_blocks and f_bavail,
        // and df's Use% needs f_bfree too (used = blocks − bfree; reserved blocks are neither
        // used nor available). See compute::DiskSpace.
        let text = match std::fs::read_to_string("/proc/self/mounts") {
            Ok(text) => {
                self.recovered("mounts");
                text
            }
            Err(e) => {
                self.failed("mounts", &format!("cannot read /proc/self/mounts: {e}"));
                return;
            }
        };
        for mount in mounts::parse_mounts(&text) {
            let Some(class) = self
                .settings
                .fs_filter
                .select(&mount.mount_point, &mount.fstype)
            else {
                continue;
            };
            let source = format!("statvfs {}", mount.mount_point);
            let stat = if class == FsClass::Network {
                self.statvfs_guarded(&mount.mount_point).await
            } else {
                rustix::fs::statvfs(mount.mount_point.as_str()).map_err(|e| e.to_string())
            };
            let stat = match stat {
                Ok(stat) => {
                    self.recovered(&source);
                    stat
                }
                Err(e) => {
                    self.failed(&source, &e);
                    continue;
                }
            };
            // Pseudo filesystems (proc, sysfs, cgroup) report no blocks: nothing to say.
            let Some(space) = disk_space(&stat) else {
                continue;
            };
            let m = &mount.mount_point;
            if let Some(p) = space.used_percent {
                push.labeled("disk_used_percent", "mount", m, p);
            }
            push.labeled("disk_total_bytes", "mount", m, space.total_bytes as f64);
            push.labeled("disk_used_bytes", "mount", m, space.used_bytes as f64);
            push.labeled(
                "disk_available_bytes",
                "mount",
                m,
                space.available_bytes as f64,
            );
        }
    }

    /// `statvfs` on a blocking thread with a timeout, at most one call in flight per mount.
    async fn statvfs_guarded(&mut self, mount_point: &str) -> Result<rustix::fs::StatVfs, String> {
        if let Some(previous) = self.stuck_statvfs.get(mount_point) {
            if !previous.is_finished() {
                return Err("previous statvfs still blocked (server unreachable?)".to_owned());
            }
            self.stuck_statvfs.remove(mount_point);
        }
        let path = mount_point.to_owned();
        let mut handle = tokio::task::spawn_blocking(move || rustix::fs::statvfs(path.as_str()));
        let limit = self.settings.network_fs_timeout;
        match tokio::time::timeout(limit, &mut handle).await {
            Ok(Ok(result)) => result.map_err(|e| e.to_string()),
            Ok(Err(join)) => Err(join.to_string()),
            Err(_) => {
                self.stuck_statvfs.insert(mount_point.to_owned(), handle);
                Err(format!(
                    "statvfs gave no answer within {} (network_fs_timeout)",
                    humantime_serde::re::humantime::format_duration(limit)
                ))
            }
        }
    }

    fn collect_network(&mut self, push: &mut Emit<'_>) {
        self.networks.refresh(true);
        let now = Instant::now();
        let elapsed = now.duration_since(self.net_previous_at);
        let current = net_totals(&self.networks);
        // Sorted so that successive rounds list interfaces in the same order.
        let mut ifaces: Vec<(&String, &NetTotals)> = current.iter().collect();
        ifaces.sort_by_key(|(name, _)| *name);
        for (iface, totals) in ifaces {
            if compute::any_matches(&self.settings.interfaces_exclude, iface) {
                continue;
            }
            // An interface that appeared since the last reading has no rate yet.
            let Some(previous) = self.net_previous.get(iface) else {
                continue;
            };
            if let Some(rate) = compute::counter_rate(previous.received, totals.received, elapsed) {
                push.labeled("net_receive_bytes_per_second", "iface", iface, rate);
            }
            if let Some(rate) =
                compute::counter_rate(previous.transmitted, totals.transmitted, elapsed)
            {
                push.labeled("net_transmit_bytes_per_second", "iface", iface, rate);
            }
        }
        self.net_previous = current;
        self.net_previous_at = now;
    }

    fn collect_system(&mut self, push: &mut Emit<'_>) {
        match System::load_average() {
            Ok(load) => {
                self.recovered("load");
                push.plain("system_load1", load.one);
                push.plain("system_load5", load.five);
                push.plain("system_load15", load.fifteen);
            }
            Err(e) => self.failed("load", &format!("load average unavailable: {e}")),
        }
        // Without tasks: threads would otherwise be listed as processes, and reading every
        // thread's stat is the expensive part of a process refresh.
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing().without_tasks(),
        );
        let processes = self
            .system
            .processes()
            .values()
            .filter(|p| p.thread_kind().is_none())
            .count();
        push.plain("processes", processes as f64);
        match System::uptime() {
            Ok(seconds) => {
                self.recovered("uptime");
                push.plain("uptime_seconds", seconds as f64);
            }
            Err(e) => self.failed("uptime", &format!("uptime unavailable: {e}")),
        }
    }
}

/// `df`'s figures from a `statvfs` result; `None` for a filesystem reporting no blocks.
/// Shared with the oracle probe (plain archive destinations).
pub(crate) fn disk_space(stat: &rustix::fs::StatVfs) -> Option<DiskSpace> {
    let fragment_size = if stat.f_frsize > 0 {
        stat.f_frsize
    } else {
        stat.f_bsize
    };
    if stat.f_blocks == 0 || fragment_size == 0 {
        return None;
    }
    Some(DiskSpace::from_blocks(FsBlocks {
        fragment_size,
        blocks: stat.f_blocks,
        free: stat.f_bfree,
        available: stat.f_bavail,
    }))
}

fn net_totals(networks: &Networks) -> HashMap<String, NetTotals> {
    networks
        .iter()
        .map(|(name, data)| {
            (
                name.to_string_lossy().into_owned(),
                NetTotals {
                    received: data.total_received(),
                    transmitted: data.total_transmitted(),
                },
            )
        })
        .collect()
}

/// Appends samples stamped with the round's timestamp; drops non-finite values, which no
/// rule can compare and no exposition format accepts.
struct Emit<'a> {
    out: &'a mut Vec<Sample>,
    now_ms: i64,
}

impl Emit<'_> {
    fn push(&mut self, name: &str, labels: Labels, value: f64) {
        if value.is_finite() {
            self.out.push(Sample::new(name, labels, value, self.now_ms));
        }
    }

    fn plain(&mut self, name: &str, value: f64) {
        self.push(name, Labels::new(), value);
    }

    fn labeled(&mut self, name: &str, label: &str, label_value: impl Into<String>, value: f64) {
        self.push(
            name,
            Labels::from_pairs([(label, label_value.into())]),
            value,
        );
    }
}

#[async_trait]
impl Probe for HostProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let mut emit = Emit {
            out,
            now_ms: ctx.now_ms,
        };
        self.collect_cpu(&mut emit).await;
        self.collect_memory(&mut emit);
        self.collect_disks(&mut emit).await;
        self.collect_network(&mut emit);
        self.collect_system(&mut emit);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<crate::ProbeConfig, toml::de::Error> {
        toml::from_str::<crate::ProbeConfig>(text)
    }

    #[test]
    fn defaults_apply_to_a_bare_section() {
        let config = parse("type = \"host\"").expect("bare section parses");
        assert_eq!(config, crate::ProbeConfig::Host(HostConfig::default()));
        assert_eq!(config.interval(), DEFAULT_INTERVAL);
    }

    #[test]
    fn sample_toml_parses_to_the_defaults() {
        // sample.toml is the operator's copy-paste source: it must stay valid and truthful.
        let config = crate::sample_out::sample_config!(Host, include_str!("sample.toml"));
        assert_eq!(config, HostConfig::default());
    }

    #[test]
    fn unknown_key_is_rejected_by_name() {
        let err = parse("type = \"host\"\nper_cores = false").expect_err("typo must fail");
        assert!(err.to_string().contains("per_cores"), "{err}");
    }

    #[test]
    fn bad_duration_is_rejected() {
        let err = parse("type = \"host\"\ninterval = \"10 parsecs\"").expect_err("must fail");
        assert!(err.to_string().contains("interval: "), "{err}");
        assert!(parse("type = \"host\"\ninterval = 10").is_err());
    }

    #[test]
    fn validation_reports_every_bad_field() {
        let config = HostConfig {
            interval: Duration::ZERO,
            exclude_mounts: vec!["/ok/*".into(), "/a*b".into()],
            interfaces_exclude: vec![String::new()],
            exclude_fs_types: vec!["ext 4".into()],
            ..HostConfig::default()
        };
        let message = match config.validate() {
            Err(ProbeError::Config(m)) => m,
            other => panic!("expected a config error, got {other:?}"),
        };
        for field in [
            "interval",
            "exclude_mounts[1]",
            "interfaces_exclude[0]",
            "exclude_fs_types[0]",
        ] {
            assert!(message.contains(field), "{field} missing from {message}");
        }
        assert!(!message.contains("exclude_mounts[0]"), "{message}");
    }
}
