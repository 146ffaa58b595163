//! Finds what a check's patterns match and measures it: each match is an item with a size
//! and a modification time. In `files` mode an item is a regular file; in `dirs` mode it is
//! a directory (a backup set), sized as the bytes of the regular files under it and dated by
//! the newest modification inside. Blocking file-system work, bounded by `max_entries`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One matched file or directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub path: PathBuf,
    pub bytes: u64,
    pub mtime: SystemTime,
}

/// What a check matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Regular files (symbolic links followed); directories are skipped.
    Files,
    /// Directories, each measured as a whole.
    Dirs,
}

/// Why a scan could not be trusted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScanError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("more than {0} entries: narrow the pattern or raise max_entries")]
    TooMany(usize),
}

/// Items matched by `patterns` (a path matched by two patterns counts once) with at least
/// `min_bytes`.
pub fn scan(
    patterns: &[glob::Pattern],
    mode: Mode,
    min_bytes: u64,
    max_entries: usize,
) -> Result<Vec<Item>, ScanError> {
    let mut items: Vec<Item> = Vec::new();
    let mut seen: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    let mut budget = max_entries;
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    for pattern in patterns {
        let paths = glob::glob_with(pattern.as_str(), options).map_err(|e| ScanError::Io {
            path: pattern.as_str().to_owned(),
            message: e.to_string(),
        })?;
        for entry in paths {
            budget = budget
                .checked_sub(1)
                .ok_or(ScanError::TooMany(max_entries))?;
            let path = entry.map_err(|e| ScanError::Io {
                path: e.path().display().to_string(),
                message: e.error().to_string(),
            })?;
            if !seen.insert(path.clone()) {
                continue;
            }
            let item = match measure(&path, mode, &mut budget, max_entries) {
                Ok(Some(item)) => item,
                Ok(None) => continue,
                // Deleted between listing and measuring (a rotation): not there, not an error.
                Err(ScanError::Io { message, .. }) if message.contains("No such file") => continue,
                Err(e) => return Err(e),
            };
            if item.bytes >= min_bytes {
                items.push(item);
            }
        }
    }
    Ok(items)
}

fn io(path: &Path, e: std::io::Error) -> ScanError {
    ScanError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn measure(
    path: &Path,
    mode: Mode,
    budget: &mut usize,
    max: usize,
) -> Result<Option<Item>, ScanError> {
    let meta = std::fs::metadata(path).map_err(|e| io(path, e))?;
    match mode {
        Mode::Files if meta.is_file() => Ok(Some(Item {
            path: path.to_path_buf(),
            bytes: meta.len(),
            mtime: meta.modified().map_err(|e| io(path, e))?,
        })),
        Mode::Dirs if meta.is_dir() => {
            let mut item = Item {
                path: path.to_path_buf(),
                bytes: 0,
                mtime: meta.modified().map_err(|e| io(path, e))?,
            };
            walk(path, &mut item, budget, max)?;
            Ok(Some(item))
        }
        _ => Ok(None),
    }
}

/// Adds the tree under `dir` to `item`; symbolic links are not followed (a link to `/` must
/// not make a backup set look huge).
fn walk(dir: &Path, item: &mut Item, budget: &mut usize, max: usize) -> Result<(), ScanError> {
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        *budget = budget.checked_sub(1).ok_or(ScanError::TooMany(max))?;
        let entry = entry.map_err(|e| io(dir, e))?;
        let path = entry.path();
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&path, e)),
        };
        if let Ok(mtime) = meta.modified() {
            item.mtime = item.mtime.max(mtime);
        }
        if meta.is_file() {
            item.bytes += meta.len();
        } else if meta.is_dir() {
            walk(&path, item, budget, max)?;
        }
    }
    Ok(())
}
