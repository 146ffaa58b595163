//! How much space a directory tree takes (as `du -s -B1` counts it) and what share of a
//! quota, or of its filesystem, that is.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::host::compute::{DiskSpace, FsBlocks};

/// Space taken by a directory tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirUsage {
    /// Bytes allocated on disk (`st_blocks` × 512), each hard-linked file once, symbolic
    /// links not followed: what `du -s -B1` prints.
    pub used_bytes: u64,
    /// Regular files in the tree.
    pub files: u64,
    /// Subdirectories that could not be read (permissions) and were left out.
    pub unreadable: u64,
}

/// What a percentage is a share of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The configured quota: directory bytes ÷ quota.
    Quota,
    /// The filesystem holding the directory: `df`'s Use% of it.
    Filesystem,
}

impl Basis {
    pub fn label(self) -> &'static str {
        match self {
            Self::Quota => "quota",
            Self::Filesystem => "filesystem",
        }
    }
}

/// Why a directory could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: more than {limit} entries; raise max_entries or point at a smaller tree")]
    TooMany { path: PathBuf, limit: u64 },
    #[error("{path}: the filesystem reports no size")]
    NoSize { path: PathBuf },
}

/// Walks the tree under `root` (without recursion, so depth costs no stack), giving up after
/// `max_entries` entries so a runaway directory cannot stall the probe.
pub fn measure(root: &Path, max_entries: u64) -> Result<DirUsage, UsageError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| UsageError::Io { path, source }
    };
    let meta = std::fs::metadata(root).map_err(io(root))?;
    let mut usage = DirUsage {
        used_bytes: meta.blocks().saturating_mul(512),
        ..DirUsage::default()
    };
    if !meta.is_dir() {
        usage.files = 1;
        return Ok(usage);
    }
    let mut seen_links = HashSet::new();
    let mut stack = vec![root.to_owned()];
    let mut entries = 0u64;
    while let Some(dir) = stack.pop() {
        let list = match std::fs::read_dir(&dir) {
            Ok(list) => list,
            Err(e) if dir == root => return Err(io(root)(e)),
            Err(_) => {
                usage.unreadable += 1;
                continue;
            }
        };
        for item in list {
            let Ok(item) = item else {
                usage.unreadable += 1;
                continue;
            };
            entries += 1;
            if entries > max_entries {
                return Err(UsageError::TooMany {
                    path: root.to_owned(),
                    limit: max_entries,
                });
            }
            // DirEntry::metadata does not follow symbolic links. Gone meanwhile: skip.
            let Ok(meta) = item.metadata() else { continue };
            if meta.nlink() > 1 && !meta.is_dir() && !seen_links.insert((meta.dev(), meta.ino())) {
                continue;
            }
            usage.used_bytes = usage
                .used_bytes
                .saturating_add(meta.blocks().saturating_mul(512));
            if meta.is_dir() {
                stack.push(item.path());
            } else if meta.is_file() {
                usage.files += 1;
            }
        }
    }
    Ok(usage)
}

/// `used_bytes` as a share of `quota`, or, without one, `df`'s Use% of the filesystem
/// holding `path`.
pub fn used_percent(
    path: &Path,
    used_bytes: u64,
    quota: Option<u64>,
) -> Result<(f64, Basis), UsageError> {
    if let Some(quota) = quota {
        // Validation keeps quota > 0.
        return Ok((
            used_bytes as f64 / quota.max(1) as f64 * 100.0,
            Basis::Quota,
        ));
    }
    let stat = rustix::fs::statvfs(path).map_err(|e| UsageError::Io {
        path: path.to_owned(),
        source: e.into(),
    })?;
    let fragment_size = if stat.f_frsize > 0 {
        stat.f_frsize
    } else {
        stat.f_bsize
    };
    DiskSpace::from_blocks(FsBlocks {
        fragment_size,
        blocks: stat.f_blocks,
        free: stat.f_bfree,
        available: stat.f_bavail,
    })
    .used_percent
    .map(|p| (p, Basis::Filesystem))
    .ok_or_else(|| UsageError::NoSize {
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn du_b1(path: &Path) -> u64 {
        let out = std::process::Command::new("du")
            .args(["-s", "-B1"])
            .arg(path)
            .output()
            .expect("du (coreutils) runs");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("du prints a number")
    }

    #[test]
    fn matches_du_with_subdirs_hard_links_and_symlinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).expect("mkdir");
        std::fs::write(root.join("one.log"), vec![b'x'; 10_000]).expect("write");
        std::fs::write(root.join("a/b/two.log"), vec![b'y'; 70_000]).expect("write");
        std::fs::hard_link(root.join("one.log"), root.join("a/one-again.log")).expect("link");
        std::os::unix::fs::symlink("/usr", root.join("usr-link")).expect("symlink");
        let usage = measure(root, 1000).expect("measure");
        assert_eq!(usage.used_bytes, du_b1(root));
        assert_eq!(usage.files, 2, "the hard link is one file");
    }

    #[test]
    fn entry_limit_is_an_error_not_a_stall() {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..5 {
            std::fs::write(dir.path().join(i.to_string()), b"x").expect("write");
        }
        let err = measure(dir.path(), 3).expect_err("over the limit");
        assert!(err.to_string().contains("more than 3 entries"), "{err}");
    }

    #[test]
    fn percent_of_quota_or_of_the_filesystem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (p, basis) = used_percent(dir.path(), 600, Some(1000)).expect("quota");
        assert_eq!((p, basis), (60.0, Basis::Quota));
        let (p, basis) = used_percent(dir.path(), 600, None).expect("filesystem");
        assert_eq!(basis, Basis::Filesystem);
        assert!((0.0..=100.0).contains(&p), "{p}");
    }

    #[test]
    fn missing_directory_is_an_error() {
        let err = measure(Path::new("/nonexistent/patrol"), 10).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/patrol"), "{err}");
    }
}
