//! Pure computations of the host probe: `df`-compatible disk figures, the filesystem filter,
//! name patterns and counter rates. No I/O here, so every rule is tested on fixed numbers.

use std::time::Duration;

/// Raw `statvfs(3)` figures of one filesystem, in blocks of `fragment_size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsBlocks {
    /// `f_frsize` (falls back to `f_bsize` when the kernel reports 0, as `df` does).
    pub fragment_size: u64,
    /// `f_blocks`: size of the filesystem.
    pub blocks: u64,
    /// `f_bfree`: free blocks, reserved ones included.
    pub free: u64,
    /// `f_bavail`: free blocks an unprivileged user may use.
    pub available: u64,
}

/// Space of one filesystem as `df` reports it, in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiskSpace {
    /// Size of the filesystem (`f_blocks`).
    pub total_bytes: u64,
    /// `f_blocks − f_bfree`: what is written, reserved blocks not included.
    pub used_bytes: u64,
    /// `f_bavail`: what an unprivileged user can still write.
    pub available_bytes: u64,
    /// `df`'s Use% before its rounding up: used ÷ (used + available) × 100, so the blocks
    /// reserved for root count as neither. `None` when used + available is 0 (`df` prints `-`).
    pub used_percent: Option<f64>,
}

impl DiskSpace {
    /// Same arithmetic as coreutils `df`. Saturating because a few filesystems (e.g. some FUSE
    /// ones) report `f_bfree > f_blocks` or `f_bavail > f_bfree`; garbage in must not panic.
    pub fn from_blocks(b: FsBlocks) -> Self {
        let used_blocks = b.blocks.saturating_sub(b.free);
        let used_bytes = used_blocks.saturating_mul(b.fragment_size);
        let available_bytes = b.available.saturating_mul(b.fragment_size);
        let denominator = used_blocks as f64 + b.available as f64;
        let used_percent =
            (denominator > 0.0).then(|| single_precision(used_blocks as f64 / denominator * 100.0));
        Self {
            total_bytes: b.blocks.saturating_mul(b.fragment_size),
            used_bytes,
            available_bytes,
            used_percent,
        }
    }
}

/// `(total − available) ÷ total × 100`; `None` when `total` is 0. Used for RAM, where
/// "available" is the kernel's MemAvailable estimate, which makes this the figure `free` shows.
pub fn used_percent_of(total: u64, available: u64) -> Option<f64> {
    (total > 0)
        .then(|| single_precision(total.saturating_sub(available) as f64 / total as f64 * 100.0))
}

/// A percentage to single precision (7 significant digits, 0.00001 % near 100 %), as sysinfo
/// gives CPU usage. The digits beyond carry no information (a byte in a terabyte), but they
/// change with every byte written and cost the history about 30 bits a sample: rounded, a
/// disk's or the memory's percentage compresses like the byte counts it comes from
/// (docs/decisions.md, "Host percentages in single precision").
pub fn single_precision(p: f64) -> f64 {
    p as f32 as f64
}

/// Swap in use as a percentage; a host without swap reports 0 rather than nothing, so a rule
/// `swap_used_percent > 80` stays quiet there instead of seeing the series vanish.
pub fn swap_used_percent(total: u64, used: u64) -> f64 {
    used_percent_of(total, total.saturating_sub(used)).unwrap_or(0.0)
}

/// What kind of filesystem a mount is, from its type in `/proc/self/mounts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsClass {
    /// Backed by a local block device (ext4, xfs, btrfs, vfat...).
    Local,
    /// Kernel or memory-backed, no disk behind it (tmpfs, overlay, proc, cgroup...).
    Virtual,
    /// Remote or user-space; `statvfs` on it can block for as long as the server is away.
    Network,
}

/// Kernel and memory-backed types: their "disk full" is either meaningless (proc) or a
/// different alarm (tmpfs is RAM), so they are noise in a disk report unless asked for.
const VIRTUAL_FS: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "overlay",
    "proc",
    "pstore",
    "ramfs",
    "rootfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "sysfs",
    "tmpfs",
    "tracefs",
    "fuse.lxcfs",
    "fuse.gvfsd-fuse",
    "fuse.portal",
    "fuse.snapfuse",
];

/// Remote types. Any other `fuse.*` type also counts as network: a FUSE daemon can stall
/// `statvfs` just like a hard-mounted NFS share.
const NETWORK_FS: &[&str] = &[
    "9p",
    "afs",
    "ceph",
    "cifs",
    "davfs",
    "glusterfs",
    "lustre",
    "ncpfs",
    "nfs",
    "nfs4",
    "smb3",
    "smbfs",
];

/// Classifies a filesystem type.
pub fn classify_fs(fstype: &str) -> FsClass {
    if VIRTUAL_FS.contains(&fstype) {
        FsClass::Virtual
    } else if NETWORK_FS.contains(&fstype) || fstype.starts_with("fuse.") {
        FsClass::Network
    } else {
        FsClass::Local
    }
}

/// A name pattern from the config: exact, or a prefix when it ends with `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// Matches this exact name.
    Exact(String),
    /// Matches every name starting with this.
    Prefix(String),
}

impl Pattern {
    /// Parses `"/snap/*"` or `"lo"`. A `*` anywhere but at the end is refused rather than
    /// silently taken literally.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("empty pattern".to_owned());
        }
        let (body, prefix) = match text.strip_suffix('*') {
            Some(body) => (body, true),
            None => (text, false),
        };
        if body.contains('*') {
            return Err(format!(
                "pattern {text:?}: `*` is only allowed as the last character"
            ));
        }
        Ok(if prefix {
            Self::Prefix(body.to_owned())
        } else {
            Self::Exact(body.to_owned())
        })
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Self::Exact(p) => name == p,
            Self::Prefix(p) => name.starts_with(p.as_str()),
        }
    }
}

/// Whether any of `patterns` matches `name`.
pub fn any_matches(patterns: &[Pattern], name: &str) -> bool {
    patterns.iter().any(|p| p.matches(name))
}

/// Which mounts the disk metrics cover; built from the validated config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FsFilter {
    /// When not empty, only these types (and then regardless of their class).
    pub include_types: Vec<String>,
    /// Never these types; wins over everything.
    pub exclude_types: Vec<String>,
    /// Mount points never reported; wins over everything.
    pub exclude_mounts: Vec<Pattern>,
    /// Report virtual filesystems.
    pub include_virtual: bool,
    /// Report network filesystems.
    pub include_network: bool,
}

impl FsFilter {
    /// The class of the mount when it is to be reported, `None` when it is filtered out.
    pub fn select(&self, mount: &str, fstype: &str) -> Option<FsClass> {
        if any_matches(&self.exclude_mounts, mount)
            || self.exclude_types.iter().any(|t| t == fstype)
        {
            return None;
        }
        let class = classify_fs(fstype);
        if !self.include_types.is_empty() {
            return self
                .include_types
                .iter()
                .any(|t| t == fstype)
                .then_some(class);
        }
        match class {
            FsClass::Local => Some(class),
            FsClass::Virtual => self.include_virtual.then_some(class),
            FsClass::Network => self.include_network.then_some(class),
        }
    }
}

/// Per-second rate between two readings of a monotonically increasing byte counter.
///
/// `None` when no honest rate exists: no time elapsed, or the counter went down because the
/// interface was re-created or its driver reloaded (a reset). One missing point is better
/// than a spike or a dip an alert rule would act on; the next round has a fresh baseline.
/// The exception is a 32-bit counter wrapping (32-bit kernels, some virtual NICs): when the
/// previous reading fits in 32 bits and the wrapped delta is under 2^31, it is taken as a wrap.
pub fn counter_rate(previous: u64, current: u64, elapsed: Duration) -> Option<f64> {
    let seconds = elapsed.as_secs_f64();
    if seconds <= 0.0 {
        return None;
    }
    let delta = if current >= previous {
        current - previous
    } else if previous <= u64::from(u32::MAX) {
        let wrapped = (u64::from(u32::MAX) - previous) + current + 1;
        if wrapped >= 1 << 31 {
            return None;
        }
        wrapped
    } else {
        return None;
    };
    Some(delta as f64 / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn df_ceil(p: f64) -> f64 {
        p.ceil()
    }

    #[test]
    fn disk_space_matches_df_with_root_reservation() {
        // `df -k`: /dev/sda1 20509264 18383476 1060828 95% /  (ext4 with ~5% reserved:
        // 20509264 − 18383476 − 1060828 = 1064960 blocks count as neither used nor available)
        let s = DiskSpace::from_blocks(FsBlocks {
            fragment_size: 1024,
            blocks: 20_509_264,
            free: 20_509_264 - 18_383_476,
            available: 1_060_828,
        });
        assert_eq!(s.total_bytes, 20_509_264 * 1024);
        assert_eq!(s.used_bytes, 18_383_476 * 1024);
        assert_eq!(s.available_bytes, 1_060_828 * 1024);
        let p = s.used_percent.unwrap_or(f64::NAN);
        assert!((p - 94.544).abs() < 0.01, "{p}");
        assert_eq!(df_ceil(p), 95.0);
        // The naive (total − available) ÷ total would have said 94.8: the reservation matters.
        let naive = used_percent_of(20_509_264, 1_060_828).unwrap_or(f64::NAN);
        assert!((naive - p).abs() > 0.2);
    }

    #[test]
    fn disk_space_matches_df_with_large_reservation() {
        // `df -P /` on the build VM: /dev/vda 264212084 12680788 82605100 14% /
        // (resv_strict: two thirds of the disk reserved, so total − available is way off)
        let s = DiskSpace::from_blocks(FsBlocks {
            fragment_size: 1024,
            blocks: 264_212_084,
            free: 264_212_084 - 12_680_788,
            available: 82_605_100,
        });
        let p = s.used_percent.unwrap_or(f64::NAN);
        assert!((p - 13.308).abs() < 0.01, "{p}");
        assert_eq!(df_ceil(p), 14.0);
    }

    #[test]
    fn disk_space_without_usable_space_has_no_percent() {
        let s = DiskSpace::from_blocks(FsBlocks {
            fragment_size: 4096,
            blocks: 0,
            free: 0,
            available: 0,
        });
        assert_eq!(s.used_percent, None);
    }

    #[test]
    fn disk_space_survives_inconsistent_counts() {
        let s = DiskSpace::from_blocks(FsBlocks {
            fragment_size: 4096,
            blocks: 10,
            free: 20,
            available: 30,
        });
        assert_eq!(s.used_bytes, 0);
        assert_eq!(s.used_percent, Some(0.0));
    }

    #[test]
    fn memory_percent_is_total_minus_available() {
        // /proc/meminfo: MemTotal 16303580 kB, MemAvailable 9876540 kB
        let p = used_percent_of(16_303_580, 9_876_540).unwrap_or(f64::NAN);
        assert!((p - 39.4210).abs() < 0.001, "{p}");
        assert_eq!(used_percent_of(0, 0), None);
    }

    #[test]
    fn percentages_are_single_precision() {
        let p = used_percent_of(270_553_174_016, 35_632_619_520).unwrap_or(f64::NAN);
        assert_eq!(p, p as f32 as f64);
        assert!((p - 86.8297).abs() < 0.0001, "{p}");
        // One 4 KiB block in 270 GB moves it by at most one step of single precision.
        let q = used_percent_of(270_553_174_016, 35_632_619_520 - 4096).unwrap_or(f64::NAN);
        assert!((q - p).abs() <= 7.7e-6, "{p} {q}");
    }

    #[test]
    fn swap_percent_is_zero_without_swap() {
        assert_eq!(swap_used_percent(0, 0), 0.0);
        assert_eq!(swap_used_percent(2048, 512), 25.0);
    }

    #[test]
    fn fs_filter_drops_virtual_network_and_excluded_by_default() {
        let f = FsFilter {
            exclude_types: vec!["squashfs".into()],
            exclude_mounts: vec![
                Pattern::parse("/snap/*").unwrap_or(Pattern::Exact(String::new())),
            ],
            ..FsFilter::default()
        };
        assert_eq!(f.select("/", "ext4"), Some(FsClass::Local));
        assert_eq!(f.select("/boot/efi", "vfat"), Some(FsClass::Local));
        assert_eq!(f.select("/dev/shm", "tmpfs"), None);
        assert_eq!(
            f.select("/var/lib/docker/overlay2/x/merged", "overlay"),
            None
        );
        assert_eq!(f.select("/proc", "proc"), None);
        assert_eq!(f.select("/mnt/backup", "nfs4"), None);
        assert_eq!(f.select("/mnt/remote", "fuse.sshfs"), None);
        assert_eq!(f.select("/snap/core/123", "ext4"), None);
        assert_eq!(f.select("/media/cd", "squashfs"), None);
    }

    #[test]
    fn fs_filter_opt_ins_and_include_list() {
        let f = FsFilter {
            include_virtual: true,
            include_network: true,
            ..FsFilter::default()
        };
        assert_eq!(f.select("/dev/shm", "tmpfs"), Some(FsClass::Virtual));
        assert_eq!(f.select("/mnt/backup", "nfs"), Some(FsClass::Network));

        let only = FsFilter {
            include_types: vec!["xfs".into(), "nfs4".into()],
            exclude_types: vec!["nfs4".into()],
            ..FsFilter::default()
        };
        assert_eq!(only.select("/data", "xfs"), Some(FsClass::Local));
        assert_eq!(only.select("/", "ext4"), None);
        // exclude wins over include
        assert_eq!(only.select("/mnt/backup", "nfs4"), None);
    }

    #[test]
    fn patterns_are_exact_or_trailing_star_prefix() {
        let lo = Pattern::parse("lo").unwrap_or(Pattern::Exact(String::new()));
        assert!(lo.matches("lo"));
        assert!(!lo.matches("lo0"));
        let veth = Pattern::parse("veth*").unwrap_or(Pattern::Exact(String::new()));
        assert!(veth.matches("veth12ab"));
        assert!(!veth.matches("eth0"));
        assert!(Pattern::parse("*eth").is_err());
        assert!(Pattern::parse("").is_err());
    }

    #[test]
    fn rate_is_delta_over_elapsed() {
        let r = counter_rate(1_000, 11_000, Duration::from_secs(10));
        assert_eq!(r, Some(1_000.0));
        assert_eq!(counter_rate(5, 5, Duration::from_millis(250)), Some(0.0));
        assert_eq!(counter_rate(1, 2, Duration::ZERO), None);
    }

    #[test]
    fn rate_after_counter_reset_is_skipped() {
        // 64-bit counter at 8 GB drops to 12 kB: the interface was re-created.
        assert_eq!(
            counter_rate(8_000_000_000, 12_000, Duration::from_secs(10)),
            None
        );
        // 32-bit counter that only looks reset because the new value is far from a wrap.
        assert_eq!(counter_rate(3_000, 1_000, Duration::from_secs(10)), None);
    }

    #[test]
    fn rate_across_32_bit_wrap_counts_the_wrap() {
        let before = u64::from(u32::MAX) - 999; // 1000 bytes before the wrap
        let r = counter_rate(before, 1_000, Duration::from_secs(2));
        assert_eq!(r, Some(1_000.0));
    }
}
