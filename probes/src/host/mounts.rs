//! Parser for `/proc/self/mounts` (the `fstab(5)` line format the kernel writes).
//!
//! The host probe lists mounts itself rather than through `sysinfo::Disks`: sysinfo's Linux
//! list silently drops tmpfs, network filesystems and everything under `/run` at compile time,
//! which would make the probe's own filter options meaningless.

/// One mounted filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Device or source (`/dev/sda1`, `server:/export`, `tmpfs`).
    pub device: String,
    /// Where it is mounted, octal escapes decoded.
    pub mount_point: String,
    /// Filesystem type (`ext4`, `nfs4`, `fuse.sshfs`).
    pub fstype: String,
}

/// Parses the file's text. Malformed lines are skipped: the kernel writes this file, so a bad
/// line means a format we do not know, not an error worth failing the round for.
///
/// A mount point listed twice (a filesystem mounted over another) keeps its last entry, the one
/// that is visible and that `df` reports.
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    let mut mounts: Vec<Mount> = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(device), Some(mount_point), Some(fstype)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let mount = Mount {
            device: unescape(device),
            mount_point: unescape(mount_point),
            fstype: fstype.to_owned(),
        };
        mounts.retain(|m| m.mount_point != mount.mount_point);
        mounts.push(mount);
    }
    mounts
}

/// Decodes the kernel's `\ooo` octal escapes (space, tab, newline and backslash in paths).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(code) = bytes
                .get(i + 1..i + 4)
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        {
            out.push(code);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Verbatim from a container host, plus an escaped mount point and an overmount.
    const CAPTURE: &str = "\
proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,relatime 0 0
devtmpfs /dev devtmpfs rw,relatime,size=12334432k,nr_inodes=3083608,mode=755 0 0
tmpfs /dev/shm tmpfs rw,relatime,size=24683656k 0 0
/dev/vda / ext4 rw,relatime,discard,resv_strict,resuid=65534,resgid=65534 0 0
/dev/sdb1 /mnt/My\\040Disk\\134x xfs rw,relatime 0 0
tmpfs /dev/shm tmpfs rw,nosuid,relatime,size=1024k 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
garbage
";

    #[test]
    fn parses_decodes_and_keeps_the_visible_overmount() {
        let mounts = parse_mounts(CAPTURE);
        let points: Vec<&str> = mounts.iter().map(|m| m.mount_point.as_str()).collect();
        assert_eq!(
            points,
            [
                "/proc",
                "/sys",
                "/dev",
                "/",
                "/mnt/My Disk\\x",
                "/dev/shm",
                "/sys/fs/cgroup/unified"
            ]
        );
        let root = mounts.iter().find(|m| m.mount_point == "/");
        assert_eq!(
            root,
            Some(&Mount {
                device: "/dev/vda".into(),
                mount_point: "/".into(),
                fstype: "ext4".into()
            })
        );
    }

    #[test]
    fn lone_backslash_is_kept() {
        assert_eq!(unescape("a\\b"), "a\\b");
        assert_eq!(unescape("a\\04"), "a\\04");
    }
}
