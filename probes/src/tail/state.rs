//! Saving a probe's state (read positions and the counts made up to them) as one JSON file,
//! replaced atomically so a crash leaves either the old state or the new one, never a mix.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Largest state file read back; anything bigger is not ours.
const MAX_STATE_BYTES: u64 = 16 * 1024 * 1024;

/// Why state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a state file of this probe ({message}); it is ignored")]
    Corrupt { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads the state saved at `path`; `Ok(None)` when there is none yet.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StateError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    if meta.len() > MAX_STATE_BYTES {
        return Err(StateError::Corrupt {
            path: path.to_owned(),
            message: format!("{} bytes", meta.len()),
        });
    }
    let bytes = std::fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StateError::Corrupt {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

/// Writes `value` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, then renamed over the old one (and the directory synced so the rename survives a
/// power cut). Creates the directory if needed.
pub fn save<T: Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let bytes = serde_json::to_vec(value).map_err(|e| StateError::Corrupt {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(&bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// A file name for `parts` that is safe in any directory: readable characters kept, the rest
/// replaced, plus a hash of the exact parts so different inputs never share a file.
pub fn file_name(kind: &str, parts: &[&str]) -> String {
    let readable: String = parts
        .first()
        .copied()
        .unwrap_or_default()
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let hash = parts.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, p| {
        p.bytes()
            .chain([0xff])
            .fold(h, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    });
    format!("{kind}-{readable}-{hash:016x}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("s.json");
        assert_eq!(load::<Vec<u32>>(&path).expect("missing is fine"), None);
        save(&path, &vec![1u32, 2]).expect("save");
        save(&path, &vec![3u32]).expect("save again");
        assert_eq!(load::<Vec<u32>>(&path).expect("load"), Some(vec![3]));
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["s.json"]);
    }

    #[test]
    fn garbage_is_reported_not_panicked_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.json");
        std::fs::write(&path, b"\xff{not json").expect("write");
        let err = load::<Vec<u32>>(&path).expect_err("corrupt");
        assert!(err.to_string().contains("not a state file"), "{err}");
    }

    #[test]
    fn file_names_are_safe_and_distinct() {
        let a = file_name("weblogic", &["Admin Server/../x", "/logs"]);
        assert!(!a.contains('/') && !a.contains(' '), "{a}");
        assert_ne!(a, file_name("weblogic", &["Admin Server/../x", "/logs2"]));
    }
}
